/**
 * File descriptors: pipes, non-blocking reads and writes, `poll`, and the
 * close-on-exec flag. Results that mean "try again later" are returned, not
 * thrown; every other failure throws the OS error (see `./libc.ts`).
 *
 * @module
 */

import { cstr, errno, libc, osError, unwrap } from "./libc.ts";

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_SETFD = 2;
const F_GETFD = 1;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;
const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
const EAGAIN = 11;
const EINTR = 4;

/** `poll` event: data to read (or EOF). */
export const POLLIN = 0x1;
/** `poll` event: room to write. */
export const POLLOUT = 0x4;
/** `poll` event: error, hang-up or invalid fd (always reported). */
export const POLLERRS = 0x8 | 0x10 | 0x20;

/** Returned by {@linkcode readSome} when nothing can be read right now. */
export const WOULD_BLOCK = -1;

/** The most one `read` or `write` call moves, so sizes fit the i32 results. */
export const MAX_IO = 1 << 30;

/**
 * Creates a pipe with both ends close-on-exec.
 *
 * @returns `[readFd, writeFd]`
 */
export function createPipe(): [number, number] {
  const fds = new Int32Array(2);
  unwrap(libc.pipe2(new Uint8Array(fds.buffer), O_CLOEXEC), "pipe2");
  return [fds[0], fds[1]];
}

const FIONREAD = 0x541bn;
const fionread = new Int32Array(1);

/** How many bytes can be read from the pipe or socket `fd` right now. */
export function bytesAvailable(fd: number): number {
  unwrap(
    libc.ioctl(fd, FIONREAD, new Uint8Array(fionread.buffer)),
    `ioctl(${fd}, FIONREAD)`,
  );
  return fionread[0];
}

/** Sets or clears `O_NONBLOCK` on `fd`. */
export function setNonBlocking(fd: number, on = true): void {
  const flags = unwrap(libc.fcntl(fd, F_GETFL, 0), `fcntl(${fd}, F_GETFL)`);
  const next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (next !== flags) {
    unwrap(libc.fcntl(fd, F_SETFL, next), `fcntl(${fd}, F_SETFL)`);
  }
}

/**
 * Opens a descriptor of its own on the pipe behind `fd` (a new open file
 * description, through `/proc/self/fd`), non-blocking and close-on-exec:
 * its flags are not shared with `fd`, which other processes may hold.
 *
 * @param write open the write end (else the read end)
 */
export function reopenPipe(fd: number, write: boolean): number {
  const O_WRONLY = 1;
  const flags = (write ? O_WRONLY : 0) | O_NONBLOCK | O_CLOEXEC;
  return unwrap(
    libc.open(cstr(`/proc/self/fd/${fd}`), flags),
    `open(/proc/self/fd/${fd})`,
  );
}

/** Sets or clears `FD_CLOEXEC` on `fd`. */
export function setCloseOnExec(fd: number, on: boolean): void {
  unwrap(
    libc.fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0),
    `fcntl(${fd}, F_SETFD)`,
  );
}

/** Whether `fd` is an open descriptor of this process. */
export function isOpen(fd: number): boolean {
  return libc.fcntl(fd, F_GETFD, 0) !== -1;
}

/**
 * Asks the kernel to make the pipe behind `fd` hold `bytes`; returns the size
 * it now has (the kernel may refuse or round, which is not an error).
 */
export function setPipeSize(fd: number, bytes: number): number {
  const size = libc.fcntl(fd, F_SETPIPE_SZ, bytes);
  if (size !== -1) return size;
  return unwrap(libc.fcntl(fd, F_GETPIPE_SZ, 0), `fcntl(${fd}, F_GETPIPE_SZ)`);
}

/**
 * Reads up to `length` bytes into `buf` at `offset`.
 *
 * @returns the byte count, `0` at end of file, or {@linkcode WOULD_BLOCK}
 */
export function readSome(
  fd: number,
  buf: Uint8Array,
  offset: number,
  length: number,
): number {
  const view = offset === 0 ? buf : buf.subarray(offset);
  const n = length > MAX_IO ? MAX_IO : length;
  for (;;) {
    const r = libc.read(fd, view, n);
    if (r >= 0) return r;
    const code = errno();
    if (code === EAGAIN) return WOULD_BLOCK;
    if (code !== EINTR) throw osError(code, `read(${fd})`);
  }
}

/**
 * Writes up to `length` bytes of `buf` from `offset`.
 *
 * @returns the byte count; `0` when the pipe is full
 */
export function writeSome(
  fd: number,
  buf: Uint8Array,
  offset: number,
  length: number,
): number {
  const view = offset === 0 ? buf : buf.subarray(offset);
  const n = length > MAX_IO ? MAX_IO : length;
  for (;;) {
    const r = libc.write(fd, view, n);
    if (r >= 0) return r;
    const code = errno();
    if (code === EAGAIN) return 0;
    if (code !== EINTR) throw osError(code, `write(${fd})`);
  }
}

/** Closes `fd`, ignoring an fd that is already closed. */
export function closeFd(fd: number): void {
  if (libc.close(fd) === -1) {
    const code = errno();
    if (code !== 9 && code !== EINTR) throw osError(code, `close(${fd})`);
  }
}

const pollBuf = new Int32Array(2);
const pollBytes = new Uint8Array(pollBuf.buffer);

/**
 * Polls `fd` for `events` on this thread, waiting at most `timeoutMs`
 * (default: not at all). Blocks the event loop while it waits.
 *
 * @returns the `revents` bits (0 when none is ready)
 */
export function pollNow(fd: number, events: number, timeoutMs = 0): number {
  pollBuf[0] = fd;
  pollBuf[1] = events;
  const r = libc.poll(pollBytes, 1, timeoutMs);
  if (r === -1 && errno() !== EINTR) throw osError(errno(), `poll(${fd})`);
  return r > 0 ? pollBuf[1] >>> 16 : 0;
}

const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const eventCount = new BigUint64Array(1);
const eventBytes = new Uint8Array(eventCount.buffer);

/** Creates a non-blocking, close-on-exec eventfd (a counter to wake a poll). */
export function createEventFd(): number {
  return unwrap(libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");
}

/** Adds one to the eventfd `fd`, making it readable. */
export function signalEventFd(fd: number): void {
  eventCount[0] = 1n;
  if (libc.write(fd, eventBytes, 8) === -1 && errno() !== EAGAIN) {
    throw osError(errno(), `write(${fd})`);
  }
}

/** Resets the eventfd `fd` to zero (not readable). */
export function drainEventFd(fd: number): void {
  libc.read(fd, eventBytes, 8);
}
