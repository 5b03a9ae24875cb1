/**
 * Python workers: {@linkcode spawnPython} starts a CPython process that
 * receives CPython-compatible queues (and plain values) as args; in it,
 * `from mpq import worker_args` gives them back as real
 * `multiprocessing.queues` objects.
 *
 * @module
 */

import { environment } from "../ffi/process.ts";
import { MPQ_SOURCE } from "../python/_mpq_source.ts";
import { pickleArgs } from "./_python.ts";
import { checkStdio, startWorker, type WorkerProcess } from "./spawn.ts";

/**
 * Options of {@linkcode spawnPython}.
 *
 * @example Usage
 * ```ts
 * import { Queue, spawnPython, type SpawnPythonOptions } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * const script = await Deno.makeTempFile({ suffix: ".py" });
 * await Deno.writeTextFile(script, "from mpq import worker_args\nq, = worker_args()\nq.put('hi')\n");
 * await using q = new Queue<string>({ cpython: true });
 * const options: SpawnPythonOptions = { args: [q], python: "python3" };
 * await using child = spawnPython(script, options);
 * strictEqual(await q.get({ timeout: 30_000 }), "hi");
 * strictEqual((await child.status).code, 0);
 * await Deno.remove(script);
 * ```
 */
export interface SpawnPythonOptions {
  /** Plain values and CPython-compatible queues, in any position. */
  args?: unknown[];
  /** The interpreter (default `"python3"`): CPython 3.8 or later. */
  python?: string;
  /** The worker's working directory (default: this process's). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** The worker's stdout (default `"inherit"`). */
  stdout?: "inherit" | "null";
  /** The worker's stderr (default `"inherit"`). */
  stderr?: "inherit" | "null";
  /** Aborting it kills the worker. */
  signal?: AbortSignal;
}

/** The environment variable that carries the pickled args (see `python/mpq.py`). */
const ARGS_ENV = "MPQ_WORKER_ARGS";
/** Environment strings hold at most 128 KiB on Linux. */
const MAX_ARGS = 120_000;

/**
 * Where `python/mpq.py` is on disk when this package was loaded from files
 * (a `file:` URL): put on the worker's `PYTHONPATH`. Null when it was loaded
 * from the network (JSR): see {@linkcode BOOTSTRAP}.
 */
const MPQ_DIR: string | null = (() => {
  const url = new URL("../python/", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : null;
})();

/**
 * Without `python/` on disk: writes `mpq.py` (given as `argv[1]`) into a
 * directory named for its content under the temporary directory (once; an
 * atomic rename), puts that directory first on `sys.path` and on
 * `PYTHONPATH` (so that the worker's own multiprocessing children import it
 * too), then runs the script as `python script.py` would.
 */
export const BOOTSTRAP = `import hashlib, os, runpy, sys, tempfile
src = sys.argv[1]
d = os.path.join(tempfile.gettempdir(), "mpq-" + hashlib.sha256(src.encode()).hexdigest()[:16])
if not os.path.exists(os.path.join(d, "mpq.py")):
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, "mpq.py.%d" % os.getpid())
    with open(tmp, "w") as f:
        f.write(src)
    os.replace(tmp, os.path.join(d, "mpq.py"))
os.environ["PYTHONPATH"] = os.pathsep.join([d] + [p for p in [os.environ.get("PYTHONPATH")] if p])
sys.argv = sys.argv[2:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
sys.path.insert(1, d)
del hashlib, os, tempfile, src, d
runpy.run_path(sys.argv[0], run_name="__main__")
`;

/** `PYTHONPATH` with `dir` first, keeping what the caller or this process set. */
function pythonPath(
  dir: string,
  env: Record<string, string> | undefined,
): string {
  const rest = env?.PYTHONPATH ?? environment("PYTHONPATH");
  return rest ? `${dir}:${rest}` : dir;
}

/** The script's path: a `file:` URL or a path (relative to the cwd). */
function scriptPath(script: string | URL): string {
  const url = script instanceof URL
    ? script
    : /^file:/i.test(script)
    ? new URL(script)
    : null;
  if (url !== null) {
    if (url.protocol !== "file:") {
      throw new TypeError(
        `Cannot run a Python script from ${url.protocol}: give a path or a file: URL`,
      );
    }
    return decodeURIComponent(url.pathname);
  }
  if (typeof script !== "string" || script === "") {
    throw new TypeError("Script must be a non-empty string or a URL");
  }
  return script;
}

/**
 * Starts a CPython worker running `script`, with `args` (plain values and
 * queues made with `{ cpython: true }`) for it: in the script,
 * `from mpq import worker_args` and `q, *rest = worker_args()` give real
 * `multiprocessing.queues.Queue` / `SimpleQueue` / `JoinableQueue` objects
 * on the same pipes and semaphores, used with plain `get()`, `put()`,
 * `task_done()` and `join()`. The `mpq` module (`python/mpq.py` of this
 * package) is provided to the worker, and to its own multiprocessing
 * children, on `PYTHONPATH` (loaded from the network, the package has it
 * written once into the temporary directory, as `mpq-<hash>/mpq.py`);
 * nothing needs installing.
 *
 * The parent needs `--allow-run --allow-ffi`.
 *
 * @param script The Python script: a path or a `file:` URL.
 * @param options Args, interpreter, cwd, env, stdio and an abort signal.
 * @returns The running worker (its `signal` aborts if it fails).
 * @throws {TypeError} for a queue that is not CPython-compatible, an arg
 *   with no pickle form, or an invalid option.
 *
 * @example Usage
 * ```ts
 * import { JoinableQueue, spawnPython } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * const script = await Deno.makeTempFile({ suffix: ".py" });
 * await Deno.writeTextFile(script, `
 * from mpq import worker_args
 * jobs, results = worker_args()
 * while (n := jobs.get()) is not None:
 *     results.put(n * n)
 *     jobs.task_done()
 * jobs.task_done()
 * `);
 * await using jobs = new JoinableQueue<number | null>({ cpython: true });
 * await using results = new JoinableQueue<number>({ cpython: true });
 * await using child = spawnPython(script, { args: [jobs, results] });
 * for (const n of [1, 2, 3, null]) await jobs.put(n);
 * await jobs.join({ timeout: 30_000 }); // Python's task_done() counts here
 * strictEqual((await results.getMany({ maxItems: 3 })).length > 0, true);
 * strictEqual((await child.status).code, 0);
 * await Deno.remove(script);
 * ```
 */
export function spawnPython(
  script: string | URL,
  options?: SpawnPythonOptions,
): WorkerProcess {
  const path = scriptPath(script);
  const args = options?.args ?? [];
  if (!Array.isArray(args)) throw new TypeError("Args must be an array");
  checkStdio(options);
  const python = options?.python ?? "python3";
  if (typeof python !== "string" || python === "") {
    throw new TypeError("Option python must be a non-empty string");
  }
  const { bytes, cores } = pickleArgs(args);
  const payload = bytes.toBase64();
  if (payload.length > MAX_ARGS) {
    throw new TypeError(
      `Cannot pass args to spawnPython(): they take ${payload.length} bytes encoded, more than the ${MAX_ARGS}-byte environment limit; send large data through a queue`,
    );
  }
  const command = new Deno.Command(python, {
    args: MPQ_DIR !== null ? [path] : ["-c", BOOTSTRAP, MPQ_SOURCE, path],
    cwd: options?.cwd,
    env: {
      ...options?.env,
      ...(MPQ_DIR !== null
        ? { PYTHONPATH: pythonPath(MPQ_DIR, options?.env) }
        : {}),
      [ARGS_ENV]: payload,
    },
    stdin: "null",
    stdout: options?.stdout ?? "inherit",
    stderr: options?.stderr ?? "inherit",
    signal: options?.signal,
  });
  return startWorker(command, cores);
}
