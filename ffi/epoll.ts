/**
 * `epoll`: one descriptor that watches many fds, so that one call on a
 * helper thread waits for all of them. Fds are registered one-shot: after an
 * event an fd stays registered but silent until it is armed again.
 *
 * @module
 */

import { errno, libc, osError, unwrap } from "./libc.ts";

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLLONESHOT = 1 << 30;
const ENOENT = 2;
const EEXIST = 17;
const EBADF = 9;

/** Bytes of a `struct epoll_event`: packed on x86_64, padded elsewhere. */
export const EVENT_SIZE = Deno.build.arch === "x86_64" ? 12 : 16;
/** Where its `data` field starts. */
const DATA_AT = Deno.build.arch === "x86_64" ? 4 : 8;

const ctlBuf = new Uint8Array(EVENT_SIZE);
const ctlView = new DataView(ctlBuf.buffer);

/** Creates an epoll descriptor (close-on-exec). */
export function createEpoll(): number {
  return unwrap(libc.epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
}

/**
 * Arms `fd` for one event of `events` (`POLLIN`/`POLLOUT` bits; errors and
 * hang-ups are always reported), registering it if needed.
 */
export function armOnce(epfd: number, fd: number, events: number): void {
  ctlView.setUint32(0, events | EPOLLONESHOT, true);
  ctlView.setUint32(DATA_AT, fd, true);
  ctlView.setUint32(DATA_AT + 4, 0, true);
  if (libc.epoll_ctl(epfd, EPOLL_CTL_MOD, fd, ctlBuf) === 0) return;
  if (errno() !== ENOENT) throw osError(errno(), `epoll_ctl(MOD, ${fd})`);
  if (libc.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ctlBuf) === 0) return;
  if (errno() !== EEXIST) throw osError(errno(), `epoll_ctl(ADD, ${fd})`);
  unwrap(libc.epoll_ctl(epfd, EPOLL_CTL_MOD, fd, ctlBuf), `epoll_ctl(${fd})`);
}

/** Unregisters `fd` (nothing if it is not registered or already closed). */
export function disarm(epfd: number, fd: number): void {
  if (libc.epoll_ctl(epfd, EPOLL_CTL_DEL, fd, ctlBuf) === 0) return;
  const code = errno();
  if (code !== ENOENT && code !== EBADF) {
    throw osError(code, `epoll_ctl(DEL, ${fd})`);
  }
}

/**
 * Waits on a helper thread, at most `timeoutMs`, for events on `epfd`,
 * filling `events` (room for `max` entries of {@linkcode EVENT_SIZE} bytes).
 * A failed or interrupted wait reports 0, like a timeout.
 *
 * @returns how many events there are
 */
export async function waitEvents(
  epfd: number,
  events: Uint8Array,
  max: number,
  timeoutMs: number,
): Promise<number> {
  const n = await libc.epoll_wait_nb(
    epfd,
    events,
    max,
    Math.max(0, Math.ceil(timeoutMs)),
  );
  return n > 0 ? n : 0;
}

/** The fd and the event bits of event `i` in `events`. */
export function eventAt(view: DataView, i: number): [number, number] {
  const at = i * EVENT_SIZE;
  return [view.getUint32(at + DATA_AT, true), view.getUint32(at, true)];
}
