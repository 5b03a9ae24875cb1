/**
 * Worker processes: {@linkcode spawn} starts a Deno process that receives
 * queues (and other values) as args, {@linkcode workerArgs} gives them back in
 * the worker.
 *
 * @module
 */

import { setCloseOnExec } from "../ffi/fd.ts";
import { environment } from "../ffi/process.ts";
import {
  Core,
  INTERNAL,
  QUEUE_MARK,
  type QueueHandle,
} from "../queues/_core.ts";
import { JoinableQueue } from "../queues/joinable_queue.ts";
import { Queue } from "../queues/queue.ts";
import {
  msgpack,
  type Serializer,
  serializerByName,
} from "../queues/serializer.ts";
import { SimpleQueue } from "../queues/simple_queue.ts";
import { WorkerExitError } from "../queues/errors.ts";
import { resolutionFlags } from "./_resolution.ts";
import { unpickleArgs } from "./_python.ts";

/**
 * The glibc allocator settings a worker gets by default: big items arrive in
 * freshly allocated buffers, which V8 frees only at its next GC, and by
 * default glibc gives freed memory back to the kernel (and takes it again,
 * zeroed, a page fault per 4 KiB) and serves buffers from 128 KiB up with a
 * fresh `mmap` each. Keeping 256 MiB of freed heap, serving buffers below
 * 32 MiB from the heap, and backing the heap with transparent huge pages
 * makes a worker that receives 64 KiB items ~1.3× and 1 MiB items ~3×
 * faster here (bench/ipc.ts; README "Performance"). The idle RSS does not
 * change; a worker keeps up to 256 MiB of freed memory mapped for reuse.
 * Ignored by glibc before 2.35 (`hugetlb`) and by other C libraries.
 */
const MALLOC_TUNABLES =
  "glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432";

/** The worker's extra environment: `env`, with the allocator settings unless set. */
function workerEnv(
  env: Record<string, string> | undefined,
): Record<string, string> {
  if (env?.GLIBC_TUNABLES !== undefined) return env;
  if (environment("GLIBC_TUNABLES") !== undefined) return env ?? {};
  return { ...env, GLIBC_TUNABLES: MALLOC_TUNABLES };
}

/**
 * Options of {@linkcode spawn}.
 *
 * @example Usage
 * ```ts
 * import { Queue, spawn, type SpawnOptions } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * const worker = `
 *   import { workerArgs } from "${import.meta.resolve("../mod.ts")}";
 *   const [out] = workerArgs();
 *   await out.put(Deno.env.get("GREETING"));
 * `;
 * await using out = new Queue<string>();
 * const options: SpawnOptions = {
 *   args: [out],
 *   permissions: ["--allow-env=GREETING"],
 *   env: { GREETING: "hello" },
 * };
 * await using child = spawn(
 *   `data:application/typescript,${encodeURIComponent(worker)}`,
 *   options,
 * );
 * strictEqual(await out.get({ timeout: 30_000 }), "hello");
 * strictEqual((await child.status).code, 0);
 * ```
 */
export interface SpawnOptions {
  /** Serializable values and queues, in any position; `workerArgs()` returns them. */
  args?: unknown[];
  /** Extra `deno run` flags, e.g. `["--allow-read=/data"]`; `--allow-ffi` is always given. */
  permissions?: string[];
  /** The worker's working directory (default: this process's). */
  cwd?: string;
  /**
   * Extra environment variables. Unless this or this process's environment
   * sets `GLIBC_TUNABLES`, the worker gets
   * `GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432`,
   * which makes receiving big items 1.3–3× faster (README, "Performance");
   * give `GLIBC_TUNABLES: ""` to keep glibc's defaults.
   */
  env?: Record<string, string>;
  /** The worker's stdout (default `"inherit"`). */
  stdout?: "inherit" | "null";
  /** The worker's stderr (default `"inherit"`). */
  stderr?: "inherit" | "null";
  /** Aborting it kills the worker. */
  signal?: AbortSignal;
}

/**
 * A running worker process, returned by {@linkcode spawn}.
 *
 * @example Usage
 * ```ts
 * import { spawn, type WorkerProcess } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * const idle = "data:application/typescript,setInterval(() => {}, 1000);";
 * const child: WorkerProcess = spawn(idle);
 * child.kill(); // SIGTERM
 * strictEqual((await child.status).signal, "SIGTERM");
 * ```
 */
export interface WorkerProcess extends AsyncDisposable {
  /** The worker's process id. */
  readonly pid: number;
  /** Resolves when the worker exits. */
  readonly status: Promise<Deno.CommandStatus>;
  /**
   * Aborts when the worker fails: exits with a non-zero code or is killed by
   * a signal (its `reason` is a {@linkcode WorkerExitError}); never after a
   * clean exit. Give it to a wait, e.g. `results.get({ signal: worker.signal })`,
   * so that the wait ends instead of hanging when the worker crashes.
   */
  readonly signal: AbortSignal;
  /** Sends `signal` (default `"SIGTERM"`) to the worker. */
  kill(signal?: Deno.Signal): void;
}

const ARG_FLAG = "--mp-queues-worker=";
/** The flag `mpq.spawn_deno()` (python/mpq.py) passes the pickled args in. */
const PYTHON_FLAG = "--mp-queues-python=";
const HANDLE_KEY = "@mp/queues:handle";
/** Command lines hold at most 128 KiB per argument on Linux. */
const MAX_ARG = 120_000;
const BUILTIN_KINDS = { SimpleQueue, Queue, JoinableQueue } as const;

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Replaces queues inside arrays and plain objects by handle markers. */
function extractQueues(
  value: unknown,
  handles: QueueHandle[],
  seen: Map<Core, number>,
): unknown {
  if (value === null || typeof value !== "object") return value;
  const core = (value as { [QUEUE_MARK]?: Core })[QUEUE_MARK];
  if (core !== undefined) {
    let index = seen.get(core);
    if (index === undefined) {
      const handle = core.handle();
      if (handle.serializer === "") {
        throw new TypeError(
          "Cannot pass a queue to spawn(): its custom serializer has no name",
        );
      }
      index = handles.push(handle) - 1;
      seen.set(core, index);
    }
    return { [HANDLE_KEY]: index };
  }
  if (Array.isArray(value)) {
    return value.map((v) => extractQueues(v, handles, seen));
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = extractQueues(v, handles, seen);
    }
    return out;
  }
  return value;
}

function resolveModule(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== "string" || module === "") {
    throw new TypeError("Module must be a non-empty string or a URL");
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) {
    return module;
  }
  return new URL(module, `file://${Deno.cwd()}/`).href;
}

/**
 * Starts a worker: `deno run --no-prompt --allow-ffi <permissions> <module>`,
 * with this process's `--config` / `--import-map` (so the worker resolves
 * bare specifiers as its parent does) unless `permissions` has its own.
 * Queues in `args` cross into it: only this worker inherits their pipe and
 * shared-memory fds. In the worker,
 * {@linkcode workerArgs} returns the args with the queues attached.
 *
 * The parent needs `--allow-run --allow-ffi`.
 *
 * @param module The worker module: a URL, or a path resolved against the current directory.
 * @param options Args, permissions, cwd, env, stdio and an abort signal.
 * @returns The running worker.
 * @throws {TypeError} if an arg cannot be serialized or an option is invalid.
 * @throws {ClosedError} if a queue in `args` was closed by this process.
 *
 * @example Usage
 * ```ts
 * import { Queue, spawn } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * const worker = `
 *   import { workerArgs } from "${import.meta.resolve("../mod.ts")}";
 *   const [q, n] = workerArgs();
 *   await q.put(n * 2);
 * `;
 * await using results = new Queue<number>();
 * await using child = spawn(`data:application/typescript,${encodeURIComponent(worker)}`, {
 *   args: [results, 21],
 * });
 * strictEqual(await results.get({ timeout: 30_000 }), 42);
 * strictEqual((await child.status).code, 0);
 * ```
 */
export function spawn(
  module: string | URL,
  options?: SpawnOptions,
): WorkerProcess {
  const specifier = resolveModule(module);
  const permissions = options?.permissions ?? [];
  if (
    !Array.isArray(permissions) ||
    permissions.some((p) => typeof p !== "string")
  ) {
    throw new TypeError("Permissions must be an array of strings");
  }
  const args = options?.args ?? [];
  if (!Array.isArray(args)) throw new TypeError("Args must be an array");
  checkStdio(options);
  const handles: QueueHandle[] = [];
  const seen = new Map<Core, number>();
  const plain = extractQueues(args, handles, seen);
  const payload = msgpack.encode({ handles, args: plain }).toBase64();
  if (payload.length > MAX_ARG) {
    throw new TypeError(
      `Cannot pass args to spawn(): they take ${payload.length} bytes encoded, more than the ${MAX_ARG}-byte command-line limit; send large data through a queue`,
    );
  }
  const allowAll = permissions.some((p) => p === "-A" || p === "--allow-all");
  // The worker resolves bare specifiers as this process does, unless the
  // caller says otherwise.
  const ownResolution = permissions.some((p) =>
    /^(--config|-c|--import-map|--no-config)(=|$)/.test(p)
  );
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...(allowAll ? [] : ["--allow-ffi"]),
      ...(ownResolution ? [] : resolutionFlags()),
      ...permissions,
      specifier,
      ARG_FLAG + payload,
    ],
    cwd: options?.cwd,
    env: workerEnv(options?.env),
    stdin: "null",
    stdout: options?.stdout ?? "inherit",
    stderr: options?.stderr ?? "inherit",
    signal: options?.signal,
  });
  return startWorker(command, [...seen.keys()]);
}

/** Checks the `stdout` and `stderr` options of a worker. */
export function checkStdio(
  options: { stdout?: unknown; stderr?: unknown } | undefined,
): void {
  for (const key of ["stdout", "stderr"] as const) {
    const v = options?.[key];
    if (v !== undefined && v !== "inherit" && v !== "null") {
      throw new TypeError(
        `Option ${key} must be "inherit" or "null", got ${String(v)}`,
      );
    }
  }
}

/**
 * Spawns `command` as a worker that inherits the fds of the queues of
 * `cores` (and only it: close-on-exec is cleared on exactly those around
 * the synchronous spawn, and set again right after); the queues keep their
 * names until it exits.
 */
export function startWorker(command: Deno.Command, cores: Core[]): Worker {
  const fds = cores.flatMap((c) => c.handle().fds);
  let child: Deno.ChildProcess;
  try {
    for (const fd of fds) setCloseOnExec(fd, false);
    child = command.spawn();
  } finally {
    for (const fd of fds) setCloseOnExec(fd, true);
  }
  const worker = new Worker(child);
  for (const core of cores) core.lend(worker.status);
  return worker;
}

/** A child process as a {@linkcode WorkerProcess} (also for `spawnPython`). */
export class Worker implements WorkerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #failed = new AbortController();
  #exited = false;
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  readonly signal: AbortSignal = this.#failed.signal;

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.status = child.status.then((status) => {
      this.#exited = true;
      if (status.code !== 0 || status.signal !== null) {
        this.#failed.abort(
          new WorkerExitError(this.pid, status.code, status.signal),
        );
      }
      return status;
    }, (e) => {
      this.#exited = true;
      throw e;
    });
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (!this.#exited) this.#child.kill(signal);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // it exited meanwhile
      }
      const timer = setTimeout(() => {
        if (!this.#exited) this.#child.kill("SIGKILL");
      }, 2000);
      try {
        await this.status;
      } finally {
        clearTimeout(timer);
      }
    }
    await this.status;
  }
}

let received: unknown[] | undefined;

function adopt(handle: QueueHandle): unknown {
  const serializer: Serializer | undefined = serializerByName(
    handle.serializer,
  );
  if (serializer === undefined) {
    throw new TypeError(
      `Cannot attach a queue: its serializer "${handle.serializer}" is not registered in this worker; call registerSerializer() before workerArgs()`,
    );
  }
  const Class = BUILTIN_KINDS[handle.kind];
  const core = Core.fromHandle(handle);
  return new Class({ serializer, [INTERNAL]: { core } } as never);
}

function attach(value: unknown, queues: unknown[]): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => attach(v, queues));
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    const index = (value as Record<string, unknown>)[HANDLE_KEY];
    if (keys.length === 1 && typeof index === "number") return queues[index];
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      out[k] = attach((value as Record<string, unknown>)[k], queues);
    }
    return out;
  }
  return value;
}

/**
 * In a worker started by {@linkcode spawn}: the args it was given, with the
 * queues attached. Calling it again returns the same values (and queues).
 *
 * @typeParam T The types of the args.
 * @returns The args.
 * @throws {Error} in a process not started by `spawn`.
 * @throws {TypeError} if a queue's custom serializer is not registered here.
 *
 * @example In a worker module
 * ```ts ignore
 * import { type Queue, workerArgs } from "@mp/queues";
 *
 * const [jobs, results] = workerArgs<[Queue<number>, Queue<number>]>();
 * for await (const n of jobs) await results.put(n * n);
 * ```
 *
 * @example Usage
 * ```ts
 * import { Queue, spawn, workerArgs } from "@mp/queues";
 * import { strictEqual, throws } from "node:assert/strict";
 *
 * // Queues may sit anywhere in the args, e.g. in a plain object.
 * const worker = `
 *   import { workerArgs } from "${import.meta.resolve("../mod.ts")}";
 *   const [name, { out }] = workerArgs();
 *   await out.put("hello, " + name);
 * `;
 * await using out = new Queue<string>();
 * await using child = spawn(
 *   `data:application/typescript,${encodeURIComponent(worker)}`,
 *   { args: ["worker", { out }] },
 * );
 * strictEqual(await out.get({ timeout: 30_000 }), "hello, worker");
 * strictEqual((await child.status).code, 0);
 *
 * // Outside a worker started by spawn() there are no args to give back.
 * throws(() => workerArgs(), Error);
 * ```
 */
export function workerArgs<T extends unknown[] = unknown[]>(): T {
  if (received !== undefined) return received as T;
  const fromPython = Deno.args.find((a) => a.startsWith(PYTHON_FLAG));
  if (fromPython !== undefined) {
    received = unpickleArgs(
      Uint8Array.fromBase64(fromPython.slice(PYTHON_FLAG.length)),
    );
    return received as T;
  }
  const arg = Deno.args.find((a) => a.startsWith(ARG_FLAG));
  if (arg === undefined) {
    throw new Error(
      "workerArgs() works only in a process started by spawn() or by mpq.spawn_deno() in Python",
    );
  }
  const { handles, args } = msgpack.decode(
    Uint8Array.fromBase64(arg.slice(ARG_FLAG.length)),
  ) as { handles: QueueHandle[]; args: unknown[] };
  const queues: unknown[] = [];
  try {
    for (const h of handles) queues.push(adopt(h));
  } catch (e) {
    for (const q of queues) (q as { close(): void }).close();
    throw e;
  }
  received = attach(args, queues) as unknown[];
  return received as T;
}
