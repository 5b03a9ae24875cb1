/**
 * Processes through libc: ids, liveness, signals, and this process's command
 * line and working directory (no Deno permission needed beyond
 * `--allow-ffi`).
 *
 * @module
 */

import { cstr, errno, libc, osError, unwrap } from "./libc.ts";

const ESRCH = 3;

/** This process's id. */
export const pid: number = libc.getpid();

/**
 * Whether a process with id `target` exists (a zombie counts as alive).
 */
export function isAlive(target: number): boolean {
  if (libc.kill(target, 0) === 0) return true;
  return errno() !== ESRCH;
}

/** Sends signal number `signal` to `target`. */
export function sendSignal(target: number, signal: number): void {
  if (libc.kill(target, signal) === -1) {
    throw osError(errno(), `kill(${target}, ${signal})`);
  }
}

/**
 * The environment variable `name` as this process started with it, or
 * undefined (read through libc: no `--allow-env` needed).
 */
export function environment(name: string): string | undefined {
  const value = libc.getenv(cstr(name));
  return value === null ? undefined : Deno.UnsafePointerView.getCString(value);
}

/** Gives the CPU to another runnable thread or process. */
export function yieldCpu(): void {
  libc.sched_yield();
}

const O_RDONLY_CLOEXEC = 0o2000000;

/** The arguments this process was started with (`/proc/self/cmdline`). */
export function commandLine(): string[] {
  const fd = unwrap(
    libc.open(cstr("/proc/self/cmdline"), O_RDONLY_CLOEXEC),
    "open(/proc/self/cmdline)",
  );
  try {
    const chunks: Uint8Array[] = [];
    for (;;) {
      const buf = new Uint8Array(65536);
      const n = unwrap(libc.read(fd, buf, buf.length), "read(cmdline)");
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
    const text = new TextDecoder().decode(
      chunks.length === 1 ? chunks[0] : new Uint8Array(
        chunks.flatMap((c) => [...c]),
      ),
    );
    return text.split("\0").slice(0, -1);
  } finally {
    libc.close(fd);
  }
}

/**
 * The inode of this process's pid namespace (`/proc/self/ns/pid`): pids
 * name processes only within one namespace.
 */
export function pidNamespace(): string {
  const buf = new Uint8Array(256);
  const n = libc.readlink(cstr("/proc/self/ns/pid"), buf, buf.length);
  if (n <= 0) return "0";
  const m = /\[(\d+)\]/.exec(new TextDecoder().decode(buf.subarray(0, n)));
  return m === null ? "0" : m[1];
}

/** This process's working directory (`/proc/self/cwd`). */
export function workingDirectory(): string {
  const buf = new Uint8Array(4096);
  const n = unwrap(
    libc.readlink(cstr("/proc/self/cwd"), buf, buf.length),
    "readlink(/proc/self/cwd)",
  );
  return new TextDecoder().decode(buf.subarray(0, n));
}

/**
 * When process `target` started (field 22 of `/proc/<pid>/stat`, in clock
 * ticks since boot): with the pid, it names one process for good (a pid is
 * reused, the pair is not).
 *
 * @returns the start time, or null if there is no such process
 */
export function startTime(target: number): string | null {
  const fd = libc.open(cstr(`/proc/${target}/stat`), O_RDONLY_CLOEXEC);
  if (fd === -1) return null;
  try {
    const buf = new Uint8Array(4096);
    const n = libc.read(fd, buf, buf.length);
    if (n <= 0) return null;
    const text = new TextDecoder().decode(buf.subarray(0, n));
    // The command name (field 2) is in parentheses and may hold spaces.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } finally {
    libc.close(fd);
  }
}
