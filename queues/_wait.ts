// Waiting: deadlines, and every sleep of this process on a file descriptor
// or on a word of shared memory. However many calls wait, this process has
// one helper-thread `epoll_wait` for all its fds and at most one
// helper-thread futex wait per word: the JS waits are kept in sets and woken
// from there. Each wait has its own timer, abort listener and close group,
// so a timeout, an abort or a `close()` acts at once, whatever else is
// pending.

import {
  armOnce,
  createEpoll,
  disarm,
  EVENT_SIZE,
  eventAt,
  waitEvents,
} from "../ffi/epoll.ts";
import {
  createEventFd,
  drainEventFd,
  POLLERRS,
  POLLIN,
  signalEventFd,
} from "../ffi/fd.ts";
import { futexWait, futexWake } from "../ffi/futex.ts";
import { isAlive } from "../ffi/process.ts";

/**
 * The longest sleep on a lock's word: its waiters look this often whether
 * the holder died.
 */
export const SLICE_MS = 50;
/** The longest single `epoll_wait` call (nobody is woken when it ends). */
const POLL_MS = 1000;
/** The most events one `epoll_wait` reports (the rest come with the next). */
const MAX_EVENTS = 64;
/** How often a worker's waits look whether the queue's creator is alive. */
const CREATOR_CHECK_MS = 250;
/** `INT_MAX`: wake every sleeper of a word. */
const EVERYONE = 0x7fffffff;

/** Options shared by every waiting call. */
export interface WaitOptions {
  block?: boolean;
  timeout?: number;
  signal?: AbortSignal;
}

/** Converts a `timeout` option (ms) to a deadline on `performance.now()`. */
export function deadlineOf(options: WaitOptions | undefined): number {
  if (options === undefined) return Infinity;
  if (options.block === false) return -Infinity;
  const { timeout } = options;
  if (timeout === undefined || timeout === Infinity) return Infinity;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new RangeError(
      `Timeout must be a number of milliseconds, got ${String(timeout)}`,
    );
  }
  return timeout <= 0 ? -Infinity : performance.now() + timeout;
}

/** What else ends a wait: a deadline, a signal, the close of a handle. */
export interface Until {
  /** On `performance.now()`; `Infinity` for none. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
  /** The waits of one queue handle, woken together by its `close()`. */
  readonly group?: WaitGroup;
}

/** A wait of one step: `Until` with a deadline at most `ms` away. */
export function within(until: Until, ms: number): Until {
  const deadline = Math.min(until.deadline, performance.now() + ms);
  return { deadline, signal: until.signal, group: until.group };
}

/**
 * Waits until `attempt()` succeeds, sleeping with `sleep` between tries.
 * Before each try `check` may throw (a closed queue) and the signal is
 * honoured.
 *
 * @returns true on success, false when the deadline passed first
 */
export async function waitFor(
  attempt: () => boolean,
  sleep: (until: Until) => Promise<unknown>,
  until: Until,
  check: () => void,
): Promise<boolean> {
  for (;;) {
    check();
    until.signal?.throwIfAborted();
    if (attempt()) return true;
    if (until.deadline <= performance.now()) return false;
    await sleep(until);
  }
}

/**
 * The waits of one queue handle: its `close()` wakes them all at once (they
 * look again and see the close). In a worker, it also wakes them when the
 * queue's creator is gone (`creatorGone`).
 */
export class WaitGroup {
  readonly #entries = new Set<Entry>();
  readonly #creator: number;
  #creatorGone = false;

  /** @param creator a process whose exit wakes the group (0: none) */
  constructor(creator = 0) {
    this.#creator = creator;
  }

  /** Whether the creator given to the constructor was found gone. */
  get creatorGone(): boolean {
    return this.#creatorGone;
  }

  /** Wakes every wait of the group. */
  wakeAll(): void {
    for (const entry of [...this.#entries]) settle(entry, WOKEN);
  }

  /** Adds a wait; the first one starts watching the creator. */
  add(entry: Entry): void {
    if (this.#entries.size === 0 && this.#creator !== 0) {
      creators.watch(this.#creator, this);
    }
    this.#entries.add(entry);
  }

  /** Removes a wait; the last one stops watching the creator. */
  delete(entry: Entry): void {
    if (this.#entries.delete(entry) && this.#entries.size === 0) {
      if (this.#creator !== 0) creators.unwatch(this.#creator, this);
    }
  }

  /** Called by the creator watch: the creator has exited. */
  lost(): void {
    this.#creatorGone = true;
    this.wakeAll();
  }
}

/** Watches creators of queues for groups with waits: one timer in all. */
class CreatorWatch {
  readonly #groups = new Map<number, Set<WaitGroup>>();
  #timer: ReturnType<typeof setInterval> | undefined = undefined;

  /** Starts watching `pid` for `group`. */
  watch(pid: number, group: WaitGroup): void {
    let set = this.#groups.get(pid);
    if (set === undefined) this.#groups.set(pid, set = new Set());
    set.add(group);
    this.#timer ??= setInterval(() => this.#look(), CREATOR_CHECK_MS);
  }

  /** Stops watching `pid` for `group`. */
  unwatch(pid: number, group: WaitGroup): void {
    const set = this.#groups.get(pid);
    if (set === undefined) return;
    set.delete(group);
    if (set.size === 0) this.#groups.delete(pid);
    if (this.#groups.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Wakes the groups of every creator that has exited. */
  #look(): void {
    for (const [pid, set] of [...this.#groups]) {
      if (!isAlive(pid)) { for (const group of [...set]) group.lost(); }
    }
  }
}

const creators = new CreatorWatch();

/** How a wait ended. */
const WOKEN = 0;
const EXPIRED = 1;
const ABORTED = 2;

/** One pending wait of a JS caller. */
class Entry {
  readonly source: Source;
  /** For an fd wait: the fd (for a word: unused). */
  readonly key: number;
  /** For an fd wait: the events waited for; for a word: the value seen. */
  readonly value: number;
  /** For an fd wait: also ready when this says so (looked at every slice). */
  readonly ready: (() => boolean) | undefined;
  readonly until: Until;
  readonly resolve: (woken: boolean) => void;
  readonly reject: (reason: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  settled = false;

  constructor(
    source: Source,
    key: number,
    value: number,
    ready: (() => boolean) | undefined,
    until: Until,
    resolve: (woken: boolean) => void,
    reject: (reason: unknown) => void,
  ) {
    this.source = source;
    this.key = key;
    this.value = value;
    this.ready = ready;
    this.until = until;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** Something a helper-thread call sleeps on, with the waits it serves. */
interface Source {
  /** Registers a wait (starting the call, or re-arming it, if needed). */
  add(entry: Entry): void;
  /**
   * Unregisters a wait. If none is left while a call is in flight, ends the
   * call and returns a promise of its return (no call outlives its waits).
   */
  remove(entry: Entry): Promise<unknown> | null;
}

/** Starts a wait on `source`: resolves true when woken, false at the deadline. */
function enter(
  source: Source,
  key: number,
  value: number,
  ready: (() => boolean) | undefined,
  until: Until,
): Promise<boolean> {
  const { signal, group, deadline } = until;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const left = deadline - performance.now();
  if (left <= 0) return Promise.resolve(false);
  const { promise, resolve, reject } = Promise.withResolvers<boolean>();
  const entry = new Entry(source, key, value, ready, until, resolve, reject);
  if (deadline !== Infinity) {
    entry.timer = setTimeout(() => settle(entry, EXPIRED), left);
  }
  if (signal !== undefined) {
    entry.onAbort = () => settle(entry, ABORTED);
    signal.addEventListener("abort", entry.onAbort, { once: true });
  }
  group?.add(entry);
  source.add(entry);
  return promise;
}

/** Ends a wait once: clears its timer and listener, then resolves it. */
function settle(entry: Entry, how: number): void {
  if (entry.settled) return;
  entry.settled = true;
  if (entry.timer !== undefined) clearTimeout(entry.timer);
  if (entry.onAbort !== undefined) {
    entry.until.signal!.removeEventListener("abort", entry.onAbort);
  }
  entry.until.group?.delete(entry);
  const ended = entry.source.remove(entry);
  const finish = how === ABORTED
    ? () => entry.reject(entry.until.signal!.reason)
    : () => entry.resolve(how === WOKEN);
  if (ended === null) finish();
  else ended.then(finish);
}

// ------------------------------------------------------------------- fds

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
    if (slot !== undefined && slot.predicates > 0) this.#look(fd, slot);
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
    for (const [fd, slot] of [...this.#slots]) {
      if (slot.predicates > 0) this.#look(fd, slot);
    }
  }

  /** Wakes the waits on `fd` whose `ready()` says so. */
  #look(_fd: number, slot: FdSlot): void {
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

// ------------------------------------------------------------------ words

/**
 * A word of shared memory that this process sleeps on: one futex wait on a
 * helper thread at a time, for every JS wait on the word. Its sleepers (one
 * per process at most) are counted in another word, so that a process
 * changing the word knows to wake them.
 */
export class SharedWord implements Source {
  readonly #page: Int32Array;
  readonly #slot: number;
  readonly #sleepers: number;
  readonly #address: Deno.PointerValue;
  /** The longest sleep of one call: its return wakes every wait. */
  readonly #sliceMs: number;
  readonly #entries = new Set<Entry>();
  /** The call in flight (resolves when it returns), or null. */
  #call: Promise<void> | null = null;
  #ending = false;

  /**
   * @param page the shared page
   * @param slot the Int32 slot of the word
   * @param sleepers the Int32 slot counting its sleepers (every process)
   * @param address the address of `page[slot]`
   * @param sliceMs how often the waits look again even if nothing changed
   */
  constructor(
    page: Int32Array,
    slot: number,
    sleepers: number,
    address: Deno.PointerValue,
    sliceMs: number,
  ) {
    this.#page = page;
    this.#slot = slot;
    this.#sleepers = sleepers;
    this.#address = address;
    this.#sliceMs = sliceMs;
  }

  /** Wakes up to `count` sleepers (in any process), if there are any. */
  wake(count: number): void {
    if (Atomics.load(this.#page, this.#sleepers) > 0) {
      futexWake(this.#address, count);
    }
  }

  /**
   * Waits until the word changes from `seen` (or a process wakes its
   * sleepers), the deadline passes, the signal aborts or the group is woken;
   * also returns after the slice given to the constructor.
   *
   * @returns true when woken (look again), false at the deadline
   * @throws the signal's reason (rejects) when it aborts
   */
  changeFrom(seen: number, until: Until): Promise<boolean> {
    return enter(this, 0, seen, undefined, until);
  }

  add(entry: Entry): void {
    this.#entries.add(entry);
    if (this.#call === null) this.#run();
  }

  remove(entry: Entry): Promise<unknown> | null {
    if (!this.#entries.delete(entry)) return null;
    if (this.#entries.size > 0 || this.#call === null) return null;
    // Nobody waits any more: end the sleep (other processes' sleepers wake
    // too, look again and sleep on).
    this.#ending = true;
    futexWake(this.#address, EVERYONE);
    return this.#call;
  }

  /** Sleeps while anyone waits; every return wakes every wait. */
  async #run(): Promise<void> {
    const page = this.#page;
    while (this.#entries.size > 0) {
      Atomics.add(page, this.#sleepers, 1);
      const value = Atomics.load(page, this.#slot);
      let changed = false;
      for (const e of this.#entries) changed ||= e.value !== value;
      if (!changed && !this.#ending) {
        const call = this.#call = futexWait(
          this.#address,
          value,
          this.#sliceMs,
        );
        await call;
      }
      Atomics.sub(page, this.#sleepers, 1);
      this.#ending = false;
      const woken = [...this.#entries];
      this.#entries.clear();
      for (const e of woken) settle(e, WOKEN);
    }
    this.#call = null;
  }
}

/** No deadline, no signal, no group. */
export const FOREVER: Until = { deadline: Infinity };
