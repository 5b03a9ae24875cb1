// Every wait of this process on a file descriptor, served by one
// \`epoll_wait\` on a helper thread, however many waits there are.

import {
  armOnce,
  createEpoll,
  disarm,
  EVENT_SIZE,
  eventAt,
  waitEvents,
} from "../../ffi/epoll.ts";
import {
  createEventFd,
  drainEventFd,
  POLLERRS,
  POLLIN,
  signalEventFd,
} from "../../ffi/fd.ts";
import { enter, type Entry, settle, type Source, WOKEN } from "./_entry.ts";
import { SLICE_MS, type Until } from "./_until.ts";

/** The longest single \`epoll_wait\` call (nobody is woken when it ends). */
const POLL_MS = 1000;
/** The most events one \`epoll_wait\` reports (the rest come with the next). */
const MAX_EVENTS = 64;

/** The waits on one fd. */
class FdSlot {
  readonly entries = new Set<Entry>();
  /** The events the fd is armed for (0: silent). */
  armed = 0;
  /** How many of the entries have a `ready()` to look at. */
  predicates = 0;
}

/**
 * Every fd wait of this process, served by one `epoll_wait` on a helper
 * thread: each fd is armed one-shot for what its waits want (a syscall on
 * this thread, taking effect even while the call is in flight), and an
 * eventfd interrupts the call when nobody waits any more. A wait's
 * `ready()` is looked at every {@linkcode SLICE_MS} by a timer on this
 * thread, and at once on {@linkcode pokeFd}.
 */
class FdPoller implements Source {
  readonly #epfd: number = createEpoll();
  /** Written to interrupt the call in flight. */
  readonly #wake: number = createEventFd();
  readonly #slots = new Map<number, FdSlot>();
  /** The events a call reports. */
  readonly #events = new Uint8Array(MAX_EVENTS * EVENT_SIZE);
  readonly #view = new DataView(this.#events.buffer);
  /** How many waits there are, and how many have a `ready()`. */
  #waits = 0;
  #predicates = 0;
  /** The call in flight (resolves when it returns), or null. */
  #call: Promise<number> | null = null;
  #interrupted = false;
  /** Looks at the `ready()`s while there are any. */
  #timer: ReturnType<typeof setInterval> | undefined = undefined;

  constructor() {
    armOnce(this.#epfd, this.#wake, POLLIN);
  }

  add(entry: Entry): void {
    const fd = entry.key;
    let slot = this.#slots.get(fd);
    if (slot === undefined) this.#slots.set(fd, slot = new FdSlot());
    slot.entries.add(entry);
    this.#waits++;
    if (entry.ready !== undefined) {
      slot.predicates++;
      if (this.#predicates++ === 0) {
        this.#timer = setInterval(() => this.#lookAll(), SLICE_MS);
      }
    }
    if ((slot.armed & entry.value) !== entry.value) {
      slot.armed |= entry.value;
      armOnce(this.#epfd, fd, slot.armed);
    }
    if (this.#call === null) this.#run();
  }

  remove(entry: Entry): Promise<unknown> | null {
    const slot = this.#slots.get(entry.key);
    if (slot === undefined || !slot.entries.delete(entry)) return null;
    this.#detached(entry, slot);
    if (this.#waits > 0 || this.#call === null) return null;
    this.#interrupt();
    return this.#call;
  }

  /** Wakes the waits on `fd` whose `ready()` says so. */
  poke(fd: number): void {
    const slot = this.#slots.get(fd);
    if (slot !== undefined && slot.predicates > 0) this.#look(slot);
  }

  /**
   * `fd` is about to be closed: unregisters it (its number may soon name
   * another file).
   */
  forget(fd: number): void {
    this.#slots.delete(fd);
    disarm(this.#epfd, fd);
  }

  /** Counts an entry taken out of `slot` (its fd's slot goes when empty). */
  #detached(entry: Entry, slot: FdSlot): void {
    this.#waits--;
    if (entry.ready !== undefined) {
      slot.predicates--;
      if (--this.#predicates === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    }
    // An fd left armed reports at most one more event, which finds no slot.
    if (slot.entries.size === 0) this.#slots.delete(entry.key);
  }

  /** Makes the call in flight return. */
  #interrupt(): void {
    if (this.#interrupted) return;
    this.#interrupted = true;
    signalEventFd(this.#wake);
  }

  /** Waits for events while anyone waits, waking the waits they concern. */
  async #run(): Promise<void> {
    const view = this.#view;
    while (this.#waits > 0) {
      const call = this.#call = waitEvents(
        this.#epfd,
        this.#events,
        MAX_EVENTS,
        POLL_MS,
      );
      const n = await call;
      for (let i = 0; i < n; i++) {
        const [fd, events] = eventAt(view, i);
        if (fd === this.#wake) {
          drainEventFd(this.#wake);
          this.#interrupted = false;
          armOnce(this.#epfd, this.#wake, POLLIN);
          continue;
        }
        const slot = this.#slots.get(fd);
        if (slot !== undefined) this.#dispatch(fd, slot, events);
      }
    }
    this.#call = null;
  }

  /** The one-shot event of `fd`: wakes the waits it concerns, re-arms for the rest. */
  #dispatch(fd: number, slot: FdSlot, events: number): void {
    slot.armed = 0;
    let rest = 0;
    for (const entry of [...slot.entries]) {
      if ((events & (entry.value | POLLERRS)) === 0) rest |= entry.value;
      else this.#settleOne(slot, entry);
    }
    if (rest !== 0) {
      slot.armed = rest;
      armOnce(this.#epfd, fd, rest);
    }
  }

  /** Looks at the `ready()` of every wait that has one. */
  #lookAll(): void {
    for (const slot of [...this.#slots.values()]) {
      if (slot.predicates > 0) this.#look(slot);
    }
  }

  /** Wakes the waits on `fd` whose `ready()` says so. */
  #look(slot: FdSlot): void {
    let last: (() => boolean) | undefined;
    let said = false;
    for (const entry of [...slot.entries]) {
      const ready = entry.ready;
      if (ready === undefined) continue;
      if (ready !== last) {
        last = ready;
        said = ready();
      }
      if (said) this.#settleOne(slot, entry);
    }
  }

  /** Takes `entry` out of `slot` and wakes it. */
  #settleOne(slot: FdSlot, entry: Entry): void {
    slot.entries.delete(entry);
    this.#detached(entry, slot);
    settle(entry, WOKEN);
  }
}

const poller = new FdPoller();

/**
 * Waits until `fd` is ready for `events` (or reports an error), or `ready()`
 * says so (looked at every {@linkcode SLICE_MS} and on {@linkcode pokeFd}),
 * the deadline passes, the signal aborts or the group is woken.
 *
 * @returns true when woken (look again), false at the deadline
 * @throws the signal's reason (rejects) when it aborts
 */
export function fdReady(
  fd: number,
  events: number,
  until: Until,
  ready?: () => boolean,
): Promise<boolean> {
  return enter(poller, fd, events, ready, until);
}

/** Wakes this process's waits on `fd` whose `ready()` says so. */
export function pokeFd(fd: number): void {
  poller.poke(fd);
}

/** Tells the fd waits that `fd` is about to be closed. */
export function forgetFd(fd: number): void {
  poller.forget(fd);
}
