// How this process resolves bare specifiers, for the workers it spawns: the
// `--config`, `-c`, `--import-map` and `--no-config` flags it was started
// with (read from its command line), paths made absolute.

import { commandLine, workingDirectory } from "../ffi/process.ts";

/** Flags of `deno` that take their value as the next argument. */
const TAKES_VALUE = new Set([
  "--config",
  "-c",
  "--import-map",
  "--cert",
  "--location",
  "--seed",
  "--log-level",
  "-L",
  "--ext",
  "--lock",
]);
/** The flags passed on, by their long name. */
const PASSED: Record<string, string> = {
  "--config": "--config",
  "-c": "--config",
  "--import-map": "--import-map",
};

let cached: string[] | undefined;

/** This process's resolution flags, for a worker (read once). */
export function resolutionFlags(): string[] {
  cached ??= parseResolutionFlags(commandLine(), workingDirectory());
  return cached;
}

/**
 * The resolution flags among `argv` (a `deno` command line, flags before
 * the main module), with relative paths resolved against `cwd`.
 */
export function parseResolutionFlags(argv: string[], cwd: string): string[] {
  const out: string[] = [];
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-")) break; // the main module: the rest are its args
    if (arg === "--no-config") {
      out.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined && TAKES_VALUE.has(name)) value = argv[++i];
    if (value === undefined || !(name in PASSED)) continue;
    out.push(`${PASSED[name]}=${absolute(value, cwd)}`);
  }
  return out;
}

/** `path` resolved against `cwd`, unless it is a URL or absolute. */
function absolute(path: string, cwd: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith("/")) return path;
  return new URL(path, `file://${cwd}/`).pathname;
}
