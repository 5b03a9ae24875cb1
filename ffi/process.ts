/**
 * Processes and directory listing through libc (no Deno permission needed
 * beyond `--allow-ffi`).
 *
 * @module
 */

import { cstr, errno, libc, osError } from "./libc.ts";

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

/** Gives the CPU to another runnable thread or process. */
export function yieldCpu(): void {
  libc.sched_yield();
}

/**
 * The entry names of directory `path` (without `.` and `..`), or an empty list
 * if it cannot be opened.
 */
export function listDir(path: string): string[] {
  const dir = libc.opendir(cstr(path));
  if (dir === null) return [];
  const names: string[] = [];
  try {
    for (;;) {
      const entry = libc.readdir(dir);
      if (entry === null) break;
      // struct dirent (glibc, 64-bit): d_ino 8, d_off 8, d_reclen 2, d_type 1, d_name
      const name = Deno.UnsafePointerView.getCString(entry, 19);
      if (name !== "." && name !== "..") names.push(name);
    }
  } finally {
    libc.closedir(dir);
  }
  return names;
}
