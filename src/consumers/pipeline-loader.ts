import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../lib/errors.ts';
import { type AnyPipeline, isDefinedPipeline } from './define-pipeline.ts';
import { BUILT_IN_PIPELINES, type BuiltInOptions } from './pipelines/index.ts';

/**
 * What `--pipeline` names: a built-in pipeline (`event-log`, `payments`), a file path (`./orders-pipeline.mjs`,
 * absolute or relative to `cwd`), or a package specifier (`@acme/orders-pipeline`, resolved from `cwd` as the
 * user's own code would). A module's default export is a `definePipeline(...)` result, or a function that
 * returns one (sync or async) given `{ env }`, for pipelines configured from the environment.
 */
export interface LoadPipelineOptions {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  builtIn: BuiltInOptions;
}

export async function loadPipeline(spec: string, options: LoadPipelineOptions): Promise<AnyPipeline> {
  const builtIn = BUILT_IN_PIPELINES[spec];
  if (builtIn && Object.hasOwn(BUILT_IN_PIPELINES, spec)) return builtIn(options.builtIn);
  const url = resolveModule(spec, options.cwd);
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (error) {
    throw invalid(spec, `could not be loaded: ${(error as Error).message}`);
  }
  let exported = mod.default;
  if (typeof exported === 'function' && !isDefinedPipeline(exported))
    exported = await (exported as (o: { env: LoadPipelineOptions['env'] }) => unknown)({ env: options.env });
  if (!isDefinedPipeline(exported))
    throw invalid(spec, 'does not default-export a pipeline: `export default definePipeline({ ... })`');
  return exported;
}

function resolveModule(spec: string, cwd: string): string {
  const isPath =
    spec.startsWith('.') || spec.startsWith('/') || path.isAbsolute(spec) || /\.[cm]?[jt]s$/.test(spec);
  if (isPath) return pathToFileURL(path.resolve(cwd, spec)).href;
  try {
    // As the user's code in `cwd` would resolve it: their node_modules, not streamsink's.
    return pathToFileURL(createRequire(path.join(cwd, 'package.json')).resolve(spec)).href;
  } catch {
    return spec; // ESM-only export maps: let import() try
  }
}

function invalid(spec: string, why: string): ConfigError {
  return new ConfigError([
    {
      variable: 'STREAMSINK_PIPELINE',
      expected: `a built-in pipeline (${Object.keys(BUILT_IN_PIPELINES).join(', ')}), a file or a package that ${why.startsWith('does') ? 'default-exports definePipeline(...)' : 'can be imported'}`,
      received: `${JSON.stringify(spec)}, which ${why}`,
    },
  ]);
}
