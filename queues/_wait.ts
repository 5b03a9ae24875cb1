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
import {
  futexWait,
  futexWaitv,
  futexWake,
  futexWakePrivate,
  hasFutexWaitv,
  WaitList,
  WAITV_MAX,
} from "../ffi/futex.ts";
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
 * A word of shared memory that this process sleeps on, with its sleepers
 * (at most one per process) counted in another word, so that a process
 * changing the word knows to wake them. Every wait on a word goes through
 * one helper-thread call of this process: one `futex_waitv` for all words
 * (Linux 5.16+), or else one futex wait per word.
 */
export class SharedWord implements Source {
  readonly #page: Int32Array;
  readonly #slot: number;
  readonly #sleepers: number;
  readonly address: Deno.PointerValue;
  /** The longest sleep of one call: its return wakes every wait. */
  readonly sliceMs: number;
  /** Without `futex_waitv`: this word's own sleep. */
  readonly #alone: WordSleep | undefined;

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
    this.address = address;
    this.sliceMs = sliceMs;
    this.#alone = hasFutexWaitv ? undefined : new WordSleep(this);
  }

  /** The word's value. */
  load(): number {
    return Atomics.load(this.#page, this.#slot);
  }

  /** Counts this process as a sleeper (+1) or no longer (-1). */
  sleeping(delta: number): void {
    Atomics.add(this.#page, this.#sleepers, delta);
  }

  /** Wakes up to `count` sleepers (in any process), if there are any. */
  wake(count: number): void {
    if (Atomics.load(this.#page, this.#sleepers) > 0) {
      futexWake(this.address, count);
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
    if (this.#alone !== undefined) this.#alone.add(entry);
    else words.add(this, entry);
  }

  remove(entry: Entry): Promise<unknown> | null {
    return this.#alone !== undefined
      ? this.#alone.remove(entry)
      : words.remove(this, entry);
  }
}

/**
 * Every word wait of this process, served by one `futex_waitv` on a helper
 * thread over all the words waited on (up to 127 of them; more take turns)
 * and a private word that interrupts it: bumped and woken to arm another
 * word, or to end the call when nobody waits any more. The call ends when
 * any word is woken, and after the shortest slice of its words.
 */
class WordPoller {
  readonly #waits = new Map<SharedWord, Set<Entry>>();
  /** The words of the call in flight (entry i + 1 of the list), and their values. */
  readonly #armed: SharedWord[] = [];
  readonly #seen: number[] = [];
  readonly #list = new WaitList();
  /** The interrupt word, private to this process. */
  readonly #ctl = new Int32Array(1);
  readonly #ctlAddress: Deno.PointerValue = Deno.UnsafePointer.of(this.#ctl);
  #call: Promise<number> | null = null;
  #interrupted = false;

  /** Registers a wait on `word`. */
  add(word: SharedWord, entry: Entry): void {
    let set = this.#waits.get(word);
    if (set === undefined) this.#waits.set(word, set = new Set());
    set.add(entry);
    if (this.#call === null) this.#run();
    else if (!this.#armed.includes(word)) this.#interrupt();
  }

  /** Unregisters a wait on `word`; see `Source.remove`. */
  remove(word: SharedWord, entry: Entry): Promise<unknown> | null {
    const set = this.#waits.get(word);
    if (set === undefined || !set.delete(entry)) return null;
    if (set.size === 0) this.#waits.delete(word);
    if (this.#waits.size > 0 || this.#call === null) return null;
    this.#interrupt();
    return this.#call;
  }

  /** Makes the call in flight return (or the next one, at once). */
  #interrupt(): void {
    if (this.#interrupted) return;
    this.#interrupted = true;
    Atomics.add(this.#ctl, 0, 1);
    futexWakePrivate(this.#ctlAddress, 1);
  }

  /** Sleeps while anyone waits, waking the waits of the words that changed. */
  async #run(): Promise<void> {
    while (this.#waits.size > 0) {
      const [n, ms] = this.#arm();
      if (n === 1) continue; // every wait was woken while arming
      const started = performance.now();
      const woken = await (this.#call = futexWaitv(this.#list, n, ms));
      this.#dispatch(woken - 1, performance.now() - started);
    }
    this.#call = null;
  }

  /**
   * Fills the list: the interrupt word, then every word waited on with the
   * value it holds now (waits that saw another value are woken instead).
   *
   * @returns the number of entries and the call's timeout (ms)
   */
  #arm(): [number, number] {
    this.#interrupted = false;
    this.#list.set(0, this.#ctlAddress, Atomics.load(this.#ctl, 0), false);
    const armed = this.#armed;
    armed.length = this.#seen.length = 0;
    let ms = POLL_MS;
    for (const [word, set] of [...this.#waits]) {
      if (armed.length === WAITV_MAX - 1) {
        ms = Math.min(ms, SLICE_MS); // the rest take turns
        continue;
      }
      word.sleeping(1);
      const value = word.load();
      let changed = false;
      for (const e of set) changed ||= e.value !== value;
      if (changed) {
        word.sleeping(-1);
        this.#wakeAll(word, set);
        continue;
      }
      this.#list.set(armed.length + 1, word.address, value, true);
      armed.push(word);
      this.#seen.push(value);
      ms = Math.min(ms, word.sliceMs);
    }
    return [armed.length + 1, ms];
  }

  /**
   * The call returned: wakes the waits of the word it names (`index`), of
   * every word that changed, and (after a slice) of every word; the words
   * left out of the call look again too.
   */
  #dispatch(index: number, elapsed: number): void {
    const armed = this.#armed;
    for (let i = 0; i < armed.length; i++) {
      const word = armed[i];
      word.sleeping(-1);
      const set = this.#waits.get(word);
      if (set === undefined) continue;
      if (
        i === index || word.load() !== this.#seen[i] ||
        elapsed >= word.sliceMs - 1
      ) this.#wakeAll(word, set);
    }
    if (this.#waits.size > armed.length) {
      for (const [word, set] of [...this.#waits]) {
        if (!armed.includes(word)) this.#wakeAll(word, set);
      }
    }
    armed.length = 0;
  }

  /** Wakes every wait on `word`. */
  #wakeAll(word: SharedWord, set: Set<Entry>): void {
    this.#waits.delete(word);
    for (const e of set) settle(e, WOKEN);
  }
}

const words = new WordPoller();

/**
 * Without `futex_waitv`: the sleep of one word, one futex wait on a helper
 * thread at a time for every JS wait on the word.
 */
class WordSleep {
  readonly #word: SharedWord;
  readonly #entries = new Set<Entry>();
  /** The call in flight (resolves when it returns), or null. */
  #call: Promise<void> | null = null;
  #ending = false;

  constructor(word: SharedWord) {
    this.#word = word;
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
    futexWake(this.#word.address, EVERYONE);
    return this.#call;
  }

  /** Sleeps while anyone waits; every return wakes every wait. */
  async #run(): Promise<void> {
    const word = this.#word;
    while (this.#entries.size > 0) {
      word.sleeping(1);
      const value = word.load();
      let changed = false;
      for (const e of this.#entries) changed ||= e.value !== value;
      if (!changed && !this.#ending) {
        await (this.#call = futexWait(word.address, value, word.sliceMs));
      }
      word.sleeping(-1);
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
