import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (no bundled browser download). Missing Chromium fails the test
 * with how to install it; it is never a skip.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: the console's browser tests need it. Install it with ` +
        '`apt-get install -y chromium` (.ci/run does), or point CHROMIUM_PATH at a Chromium binary.',
    );
  // The sandbox needs an unprivileged user; CI containers run as root.
  const root = process.getuid?.() === 0;
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: root ? ['--no-sandbox'] : [],
  });
}
