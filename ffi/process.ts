/**
 * Processes and directory listing through libc (no Deno permission needed
 * beyond `--allow-ffi`).
 *
 * @module
 */

import { errno, libc, osError } from "./libc.ts";

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
