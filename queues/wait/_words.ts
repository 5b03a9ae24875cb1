// Every wait of this process on a word of shared memory (a lock or a
// counter), served by one \`futex_waitv\` on a helper thread (Linux 5.16+),
// or else by one futex wait per word.

import {
  futexWait,
  futexWaitv,
  futexWake,
  futexWakePrivate,
  hasFutexWaitv,
  WaitList,
  WAITV_MAX,
} from "../../ffi/futex.ts";
import { enter, type Entry, settle, type Source, WOKEN } from "./_entry.ts";
import { SLICE_MS, type Until } from "./_until.ts";

/** The longest single call when no word has a shorter slice. */
const POLL_MS = 1000;
/** \`INT_MAX\`: wake every sleeper of a word. */
const EVERYONE = 0x7fffffff;

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
  /** Words with waits that did not fit in the call in flight (they take turns). */
  readonly #leftOut = new Set<SharedWord>();
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
    this.#leftOut.clear();
    for (const [word, set] of [...this.#waits]) {
      if (armed.length === WAITV_MAX - 1) {
        ms = Math.min(ms, SLICE_MS); // the rest take turns
        this.#leftOut.add(word);
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
   * left out of the call (more than it takes) look again too. Words whose
   * waits came after the call began are armed by the next one: waking them
   * would only make them come back at once, and so on. A wake this call
   * took for a word nobody here waits on any more is passed on to another
   * sleeper (a semaphore's `sem_post` wakes only one).
   */
  #dispatch(index: number, elapsed: number): void {
    const armed = this.#armed;
    for (let i = 0; i < armed.length; i++) {
      const word = armed[i];
      word.sleeping(-1);
      const set = this.#waits.get(word);
      if (set === undefined) {
        if (i === index) word.wake(1);
        continue;
      }
      if (
        i === index || word.load() !== this.#seen[i] ||
        elapsed >= word.sliceMs - 1
      ) this.#wakeAll(word, set);
    }
    for (const word of this.#leftOut) {
      const set = this.#waits.get(word);
      if (set !== undefined) this.#wakeAll(word, set);
    }
    this.#leftOut.clear();
    armed.length = 0;
  }

  /**
   * Resolves once no call in flight has a word armed that no wait needs
   * (their memory may then be unmapped): the call in flight is made to
   * return, and the next one arms only words with waits.
   */
  quiesce(): Promise<unknown> | null {
    if (this.#call === null) return null;
    this.#interrupt();
    return this.#call;
  }

  /** Wakes every wait on `word`. */
  #wakeAll(word: SharedWord, set: Set<Entry>): void {
    this.#waits.delete(word);
    for (const e of set) settle(e, WOKEN);
  }
}

const words = new WordPoller();

/**
 * Resolves once no helper-thread call of this process sleeps on a word no
 * wait needs: call it before unmapping words whose waits have all ended.
 *
 * @returns null when nothing is in flight (unmap at once)
 */
export function wordsQuiet(): Promise<unknown> | null {
  return hasFutexWaitv ? words.quiesce() : null;
}

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
