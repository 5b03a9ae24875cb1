// One pending wait of a JS caller (an \`Entry\`) and how it ends: woken by
// what it waits for, at its deadline (its own timer), by its signal (its own
// listener), or by its group (the waits of one queue handle, woken by its
// \`close()\`, or in a worker when the queue's creator is gone).

import { isAlive } from "../../ffi/process.ts";
import type { Until } from "./_until.ts";

/** How often a worker's waits look whether the queue's creator is alive. */
const CREATOR_CHECK_MS = 250;

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
export const WOKEN = 0;
const EXPIRED = 1;
const ABORTED = 2;

/** One pending wait of a JS caller. */
export class Entry {
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
export interface Source {
  /** Registers a wait (starting the call, or re-arming it, if needed). */
  add(entry: Entry): void;
  /**
   * Unregisters a wait. If none is left while a call is in flight, ends the
   * call and returns a promise of its return (no call outlives its waits).
   */
  remove(entry: Entry): Promise<unknown> | null;
}

/** Starts a wait on `source`: resolves true when woken, false at the deadline. */
export function enter(
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
  if (deadline !== Infinity) expireAt(entry, left);
  if (signal !== undefined) {
    entry.onAbort = () => settle(entry, ABORTED);
    signal.addEventListener("abort", entry.onAbort, { once: true });
  }
  group?.add(entry);
  source.add(entry);
  return promise;
}

/**
 * Ends `entry` at its deadline, `left` ms from now: never before it (a timer
 * that fires early is set again for the rest).
 */
function expireAt(entry: Entry, left: number): void {
  entry.timer = setTimeout(() => {
    const rest = entry.until.deadline - performance.now();
    if (rest > 0) expireAt(entry, rest);
    else settle(entry, EXPIRED);
  }, left);
}

/** Ends a wait once: clears its timer and listener, then resolves it. */
export function settle(entry: Entry, how: number): void {
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
