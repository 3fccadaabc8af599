import type { Finding } from './types.ts';

/**
 * An offline Dockerfile check of the rules that matter for streamsink's image (hadolint is not packaged in
 * Debian and cannot be downloaded at run time). It parses instructions (comments, `\` continuations, ARG
 * defaults) and checks: every base image pinned to a full version or a digest and never `latest`; a Node 24 base;
 * runtime dependencies installed with `npm ci --omit=dev` and only those copied into the final stage; no
 * `npm install`; a numeric non-root USER, NODE_ENV=production, STOPSIGNAL SIGTERM and an exec-form ENTRYPOINT in
 * the final stage; no remote ADD and no `curl | sh`.
 */

export interface Instruction {
  line: number;
  keyword: string;
  args: string;
}

export interface Stage {
  name: string | undefined;
  image: string;
  line: number;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const start = i;
    let current = lines[i] ?? '';
    if (/^\s*(#.*)?$/.test(current)) continue;
    while (/\\\s*$/.test(current) && i + 1 < lines.length) {
      i += 1;
      const next = lines[i] ?? '';
      if (/^\s*#/.test(next)) continue; // comment lines inside a continuation are dropped by Docker
      current = current.replace(/\\\s*$/, ' ') + next;
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(current);
    if (m) out.push({ line: start + 1, keyword: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim() });
  }
  return out;
}

export function stagesOf(instructions: readonly Instruction[]): {
  args: Map<string, string>;
  stages: Stage[];
} {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ name: m?.[2], image: substitute(m?.[1] ?? '', args), line: ins.line, instructions: [] });
    } else if (ins.keyword === 'ARG' && stages.length === 0) {
      const [name, value] = ins.args.split('=', 2);
      if (name && value !== undefined) args.set(name.trim(), value.trim().replace(/^"(.*)"$/, '$1'));
    } else {
      stages[stages.length - 1]?.instructions.push(ins);
    }
  }
  return { args, stages };
}

function substitute(text: string, args: Map<string, string>): string {
  return text.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => args.get(name) ?? whole);
}

export function lintDockerfile(text: string, subject = 'Dockerfile'): Finding[] {
  const out: Finding[] = [];
  const f = (line: number, message: string) => out.push({ subject, path: `line ${line}`, message });
  const instructions = parseDockerfile(text);
  const { stages } = stagesOf(instructions);
  const stageNames = new Set(stages.map((s) => s.name).filter((n): n is string => n !== undefined));
  if (stages.length < 2)
    f(1, 'use a multi-stage build (dependencies and build tools stay out of the runtime)');

  for (const s of stages) {
    if (stageNames.has(s.image)) continue;
    if (/\$/.test(s.image)) f(s.line, `base image ${s.image} uses an ARG without a default`);
    else if (/:latest(@|$)/.test(s.image) || !/[:@]/.test(s.image.replace(/^[^/]*\//, ''))) {
      f(s.line, `base image ${s.image} must not float (no tag or latest)`);
    } else if (!/@sha256:[a-f0-9]{64}$/.test(s.image) && !/:\d+\.\d+\.\d+(-[\w.-]+)?$/.test(s.image)) {
      f(s.line, `base image ${s.image}: pin a full x.y.z version or a digest`);
    }
    if (!/^(docker\.io\/(library\/)?)?node:24[.-]/.test(s.image) && !stageNames.has(s.image)) {
      f(s.line, `base image ${s.image} is not Node 24`);
    }
  }

  for (const ins of instructions) {
    if (ins.keyword === 'RUN' && /\bnpm\s+(install|i)\b/.test(ins.args))
      f(ins.line, 'use npm ci, not npm install');
    if (ins.keyword === 'RUN' && /\b(curl|wget)\b[^|]*\|\s*(ba)?sh\b/.test(ins.args))
      f(ins.line, 'no curl | sh');
    if (ins.keyword === 'ADD' && /https?:\/\//.test(ins.args))
      f(ins.line, 'no remote ADD; download in a RUN and verify');
    if (ins.keyword === 'MAINTAINER') f(ins.line, 'MAINTAINER is deprecated; use a LABEL');
  }

  const final = stages[stages.length - 1];
  if (!final) return out;
  const last = (keyword: string) => final.instructions.filter((i) => i.keyword === keyword).at(-1);
  const user = last('USER');
  if (!user) f(final.line, 'the final stage must set USER');
  else {
    const m = /^(\d+)(?::(\d+))?$/.exec(user.args);
    if (!m) f(user.line, `USER ${user.args} must be numeric (uid[:gid]) so runAsNonRoot can verify it`);
    else if (Number(m[1]) === 0 || m[2] === '0') f(user.line, 'USER must not be root (0)');
  }
  const env = final.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
  if (!env.some((e) => /\bNODE_ENV=("?)production\1(\s|$)/.test(e)))
    f(final.line, 'set ENV NODE_ENV=production');
  const stop = last('STOPSIGNAL');
  if (stop?.args !== 'SIGTERM') f(stop?.line ?? final.line, 'STOPSIGNAL SIGTERM is required');
  const entry = last('ENTRYPOINT');
  if (!entry) f(final.line, 'the final stage must set ENTRYPOINT');
  else if (!isExecForm(entry.args))
    f(entry.line, 'ENTRYPOINT must be in exec form (a JSON array) so node gets SIGTERM');
  const cmd = last('CMD');
  if (cmd && !isExecForm(cmd.args)) f(cmd.line, 'CMD must be in exec form (a JSON array)');

  // node_modules in the runtime must come from a stage that installed production dependencies only.
  const copies = final.instructions.filter((i) => i.keyword === 'COPY' && /node_modules/.test(i.args));
  if (
    copies.length === 0 &&
    final.instructions.some((i) => i.keyword === 'RUN' && /npm ci/.test(i.args)) === false
  ) {
    f(final.line, 'the runtime stage has no node_modules (COPY --from=<deps stage>)');
  }
  for (const c of copies) {
    const from = /--from=(\S+)/.exec(c.args)?.[1];
    const source = stages.find((s) => s.name === from);
    const prodOnly = source?.instructions.some(
      (i) => i.keyword === 'RUN' && /npm ci\b[^&;]*--omit=dev/.test(i.args),
    );
    if (!prodOnly)
      f(
        c.line,
        `node_modules must come from a stage that ran npm ci --omit=dev (from: ${from ?? 'context'})`,
      );
  }
  for (const i of final.instructions) {
    if (i.keyword === 'RUN' && /npm ci/.test(i.args) && !/--omit=dev/.test(i.args)) {
      f(i.line, 'npm ci in the runtime stage must use --omit=dev');
    }
  }
  return out;
}

function isExecForm(args: string): boolean {
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
  } catch {
    return false;
  }
}
