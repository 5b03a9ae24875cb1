// The CPython interpreters the interop tests run on: every version from 3.8
// up under ~/.pyenv/versions, and `python3`.

/** One interpreter: its version and executable. */
export interface Python {
  readonly version: string;
  readonly path: string;
}

/** The lowest CPython version the CPython-compatible queues support. */
const MIN_MINOR = 8;
/** The versions the interop tests look for (3.11 at least must be there). */
export const WANTED = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"];

function minorOf(version: string): number {
  const m = /^3\.(\d+)\./.exec(version + ".");
  return m === null ? -1 : Number(m[1]);
}

/** Every CPython 3.8+ under `~/.pyenv/versions`, oldest first. */
export function pythons(): Python[] {
  const home = Deno.env.get("HOME") ?? "/root";
  const root = `${home}/.pyenv/versions`;
  const found: Python[] = [];
  try {
    for (const entry of Deno.readDirSync(root)) {
      const version = entry.name;
      if (!/^3\.\d+\.\d+$/.test(version) || minorOf(version) < MIN_MINOR) {
        continue;
      }
      const path = `${root}/${version}/bin/python3`;
      try {
        Deno.statSync(path);
        found.push({ version, path });
      } catch {
        // an interpreter directory without python3
      }
    }
  } catch {
    // no pyenv
  }
  // The python3 on PATH (a fresh machine may have only Debian's), unless
  // pyenv has the same minor version.
  try {
    const out = new Deno.Command("python3", {
      args: ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const version = new TextDecoder().decode(out.stdout).trim();
    if (
      out.code === 0 && minorOf(version) >= MIN_MINOR &&
      !found.some((p) => minorOf(p.version) === minorOf(version))
    ) found.push({ version, path: "python3" });
  } catch {
    // no python3 on PATH
  }
  found.sort((a, b) => minorOf(a.version) - minorOf(b.version));
  return found;
}

/** The versions of {@linkcode WANTED} that are not installed. */
export function missing(found: readonly Python[]): string[] {
  return WANTED.filter((w) =>
    !found.some((p) => p.version.startsWith(w + "."))
  );
}

/** The directory of `python/mpq.py`, for `PYTHONPATH`. */
export const MPQ_DIR = new URL("../python/", import.meta.url).pathname;

/** A script in `tests/python/`. */
export function pythonScript(name: string): URL {
  return new URL(`./python/${name}`, import.meta.url);
}
