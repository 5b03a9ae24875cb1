// Crash recovery of a native queue: after a reader died holding the read
// lock, puts the stream back at a frame boundary (from the byte counts and
// the ring of frame marks); after a writer died mid-frame, discards its torn
// frame; takes a dead holder's lock over. Counts what it discards (shared
// `torn` and `lost`), and gives the slots of lost frames back.

import { bytesAvailable, POLLIN, readSome } from "../../ffi/fd.ts";
import { readLong, readShort } from "../_framing.ts";
import type { Ledger } from "../_ledger.ts";
import type { QueueStats } from "../_transport.ts";
import { fdReady } from "../wait/_fds.ts";
import { FOREVER, within } from "../wait/_until.ts";
import {
  CARRY_END,
  CARRY_READING,
  CARRY_START,
  CONSUMED,
  DELIVERED,
  HOLD_FROM,
  JOURNAL_PRODUCER,
  JOURNAL_WRITTEN,
  LOST,
  PRODUCERS,
  READING,
  RESYNC,
  type SharedPage,
  TORN,
} from "./_layout.ts";
import type { FutexCounter } from "./_counter.ts";
import type { FutexLock } from "./_lock.ts";
import type { StreamMarks } from "./_marks.ts";
import type { ReadBuffer } from "./_read_buffer.ts";

/** How long a resync waits between looks for a writer to mark its frame. */
const RESYNC_WAIT_MS = 5;

/** Recovers one queue's stream from the deaths of its readers and writers. */
export class Recovery {
  readonly #page: Int32Array;
  readonly #f64: Float64Array;
  readonly #rlock: FutexLock;
  readonly #wlock: FutexLock;
  readonly #marks: StreamMarks;
  readonly #buffer: ReadBuffer;
  readonly #ledger: Ledger;
  /** The free slots (none for a SimpleQueue). */
  readonly #slots: FutexCounter | undefined;

  constructor(
    page: SharedPage,
    rlock: FutexLock,
    wlock: FutexLock,
    marks: StreamMarks,
    buffer: ReadBuffer,
    ledger: Ledger,
    slots: FutexCounter | undefined,
  ) {
    this.#page = page.i32;
    this.#f64 = page.f64;
    this.#rlock = rlock;
    this.#wlock = wlock;
    this.#marks = marks;
    this.#buffer = buffer;
    this.#ledger = ledger;
    this.#slots = slots;
  }

  /** Counts of frames discarded by crash recovery (all processes). */
  stats(): QueueStats {
    return {
      tornFrames: Atomics.load(this.#page, TORN),
      lostFrames: Atomics.load(this.#page, LOST),
    };
  }

  /** Whether a dead reader's stream position is still to be found. */
  pending(): boolean {
    return this.#page[RESYNC] !== 0;
  }

  /**
   * Takes the read lock over if its holder died. The stream position it left
   * is unknown until `resync` finds it.
   */
  recoverReader(): boolean {
    const dead = this.#rlock.takeOverIfDead();
    if (dead === 0) return false;
    const f64 = this.#f64;
    // It died ending its hold: the hold began at holdFrom (its delivery,
    // stored or not, never reached its caller).
    if (this.#rlock.flagged()) {
      f64[DELIVERED] = f64[HOLD_FROM];
      this.#rlock.unflag();
    }
    Atomics.store(this.#page, RESYNC, dead);
    return true;
  }

  /**
   * Holding the read lock after a reader died: puts the stream back at a
   * frame boundary (see `resyncNow`), waiting for a writer if it must.
   */
  async resync(): Promise<void> {
    while (!this.resyncNow()) {
      await fdReady(this.#buffer.fd, POLLIN, within(FOREVER, RESYNC_WAIT_MS));
    }
  }

  /**
   * Puts the stream back at a frame boundary after a reader died holding the
   * read lock. The shared read buffer is kept if it is still valid (its
   * first frame is where reading resumes); otherwise the first frame start
   * at or after the pipe's next byte comes from the writers' marks, and the
   * bytes before it (the rest of the frame the dead reader was taking) are
   * read and dropped. Frames the dead reader had taken are counted lost.
   *
   * @returns false if it must wait for a writer (to mark its frame)
   */
  resyncNow(): boolean {
    const page = this.#page;
    const f64 = this.#f64;
    const marks = this.#marks;
    const snap = marks.snapshot(
      this.#buffer.fd,
      () => this.#wlock.holderDead(),
    );
    // A writer died inside a write call: nothing in the pipe can be trusted.
    if (snap === null) return this.#drainAfterDeadWriter();
    const { head, seq, nextEnd } = snap;
    if (this.#buffer.parkedIntact(head)) {
      // It died before taking over the parked frame: it took nothing.
      this.#f64[CONSUMED] = head;
      Atomics.store(page, RESYNC, 0);
      return true;
    }
    this.#buffer.dropParked();
    const low = marks.oldest(seq);
    let end = f64[CARRY_END];
    if (page[CARRY_READING] === 1 && end >= 0 && head > end) {
      // Its last read landed in the buffer, right after carryEnd.
      f64[CARRY_END] = end = head;
    }
    page[CARRY_READING] = 0;
    let start: number;
    let lost = 0;
    if (end === head) {
      // The buffer is valid: the stream resumes with its first frame.
      start = f64[CARRY_START];
    } else {
      f64[CARRY_END] = -1;
      // The smallest frame start >= head (the stream starts at 0, and a
      // frame starts where one ends; marks grow with their index).
      start = head === 0 ? 0 : -1;
      let i = seq - 1;
      for (; i >= low && head > 0; i--) {
        const m = marks.mark(i, head);
        if (m < head) break;
        start = m;
      }
      if (start === -1) {
        if (nextEnd <= head) {
          // Its writer has not marked the frame yet, or never will.
          return this.#wlock.holderDead() && this.#drainAfterDeadWriter();
        }
        start = nextEnd; // inside the frame being written
        lost = 1;
      } else if (i < low && low > 0 && start > head) {
        return this.#resyncBySearch(head, seq); // the ring no longer reaches head
      }
    }
    page[READING] = 0;
    // The frames that ended after what the dead reader's callers got, up to
    // the start: it took them and died. Of those, the ones past where it gave
    // slots back (it may have, and died before recording the delivery)
    // still hold theirs.
    const from = f64[DELIVERED];
    const released = this.#releasedUpTo(from);
    let owed = lost > 0 && nextEnd > released ? 1 : 0;
    for (let j = seq - 1; j >= low; j--) {
      const m = marks.mark(j, head);
      if (m <= from) break;
      if (m <= start) {
        lost++;
        if (m > released) owed++;
      }
    }
    f64[CONSUMED] = head;
    f64[DELIVERED] = start;
    if (start === head) this.#buffer.empty(head);
    // Read the rest of its frame and drop it.
    if (start > head) this.#buffer.begin(null, start - head, 0);
    this.#finishResync(lost, owed, Math.max(0, start - head));
    return true;
  }

  /**
   * If the write lock's holder is dead, finishes its accounting: a write call
   * it died in is counted (the bytes in the pipe tell how far it got, and the
   * marks of its buffer, written when it began, which frames that completes),
   * and its producer record counts exactly the frames of its buffer that are
   * complete. Idempotent. Without the read lock (`holdingRead` false) only a
   * death between write calls can be settled.
   *
   * @returns false if it cannot be settled now (try again holding the read
   *   lock), true otherwise
   */
  settleDeadWriter(holdingRead: boolean): boolean {
    const dead = this.#wlock.deadHolder();
    if (dead === 0) return true;
    const page = this.#page;
    if (this.#marks.writing()) {
      // The stream's length is what was read plus what waits; unknown while
      // a dead reader's read into the buffer is unaccounted for.
      if (!holdingRead || page[CARRY_READING] === 1) return false;
      this.#marks.finishDeadWrite(
        this.#f64[CONSUMED] + bytesAvailable(this.#buffer.fd),
      );
    }
    const record = Atomics.load(page, JOURNAL_PRODUCER);
    if (record >= PRODUCERS && Atomics.load(page, record) === dead) {
      Atomics.store(
        page,
        record + 2,
        Atomics.load(page, JOURNAL_WRITTEN) + this.#marks.journalCompleted(),
      );
    }
    Atomics.store(page, JOURNAL_PRODUCER, -1);
    return true;
  }

  /**
   * From outside any read (a sweep): settles a dead writer if it can,
   * taking the read lock for a moment if it must.
   */
  trySettleDeadWriter(): void {
    if (this.#wlock.deadHolder() === 0) return;
    if (this.settleDeadWriter(false)) return;
    if (!this.#rlock.tryAcquire()) return;
    try {
      this.settleDeadWriter(true);
    } finally {
      this.#rlock.release();
    }
  }

  /**
   * Takes the write lock over from a dead holder, but only when no frame of
   * it can be half in the pipe: holding the read lock, with the pipe empty
   * and no reader inside a frame. Otherwise readers resolve it (a torn frame).
   */
  recoverWriter(): boolean {
    if (!this.#wlock.holderDead() || !this.#rlock.tryAcquire()) return false;
    try {
      if (
        this.#buffer.readable() || Atomics.load(this.#page, READING) === 1 ||
        Atomics.load(this.#page, RESYNC) !== 0
      ) {
        return false;
      }
      const dead = this.#wlock.deadHolder();
      if (dead === 0 || !this.settleDeadWriter(true)) return false;
      if (this.#wlock.takeOverIfDead() !== dead) return false;
      this.#marks.restart(); // the pipe is empty
      const carried = this.#buffer.carried();
      // The read buffer holds the start of the dead writer's last frame.
      if (carried > 0) this.#tornFrame(dead, `${carried} bytes of it`);
      return true;
    } finally {
      this.#rlock.release();
    }
  }

  /**
   * Holding the read lock with nothing to read: if the read buffer holds the
   * start of a frame and the write lock's holder is dead, that frame is torn.
   */
  discardTornCarry(): void {
    const carried = this.#buffer.carried();
    if (carried <= 0 || this.#buffer.readable()) return;
    const dead = this.#wlock.deadHolder();
    if (dead === 0 || !this.settleDeadWriter(true)) return;
    if (this.#wlock.takeOverIfDead() !== dead) return;
    this.#marks.restart(); // the pipe is empty
    this.#tornFrame(dead, `${carried} bytes of it`);
    this.#wlock.release();
  }

  /**
   * Mid-frame with an empty pipe: if the write lock's holder is dead, the
   * frame is torn (nobody will write its rest). Discards it, counts it, warns
   * once, and frees the write lock.
   */
  discardIfTorn(): boolean {
    const buffer = this.#buffer;
    if (buffer.readable()) return false;
    const dead = this.#wlock.deadHolder();
    if (dead === 0 || !this.settleDeadWriter(true)) return false;
    if (this.#wlock.takeOverIfDead() !== dead) return false;
    const p = buffer.partial!;
    buffer.end();
    this.#marks.restart(); // the pipe is empty
    this.#tornFrame(dead, `${p.have} of ${p.length} payload bytes`);
    this.#wlock.release();
    return true;
  }

  /**
   * The position cannot be known because a writer died in the middle of
   * its work: takes its lock over, drops everything in the pipe (one torn
   * frame, plus any whole frames behind it) and starts afresh.
   */
  #drainAfterDeadWriter(): boolean {
    // It died inside a write call whose count can be finished: then the
    // stream position is known again, and nothing need be dropped.
    if (this.#marks.writing() && this.settleDeadWriter(true)) {
      return this.resyncNow();
    }
    if (this.#wlock.takeOverIfDead() === 0) return false;
    const page = this.#page;
    const f64 = this.#f64;
    page[READING] = 0;
    page[CARRY_READING] = 0;
    this.#buffer.dropParked();
    const got = this.#readUpTo(bytesAvailable(this.#buffer.fd)).length;
    f64[CONSUMED] += got;
    this.#buffer.empty(f64[CONSUMED]);
    f64[DELIVERED] = f64[CONSUMED];
    this.#marks.restart();
    Atomics.add(page, TORN, 1);
    this.#wlock.release();
    this.#finishResync(1, 1, got);
    return true;
  }

  /**
   * The stream offset up to which taken frames gave their slots back: at or
   * after `from`, the recorded delivery (a reader stores the give-back's
   * offset with its slots first, the delivery after), within 2^32 of it.
   */
  #releasedUpTo(from: number): number {
    if (this.#slots === undefined) return from;
    return from + ((this.#slots.tag() - (from >>> 0)) >>> 0);
  }

  /**
   * Counts and reports the frames a dead reader took with it (`lost`), gives
   * back the slots they still hold (`owed`) and records where reading
   * resumes as the point slots are given back to, in one step.
   */
  #finishResync(lost: number, owed: number, skipped: number): void {
    const page = this.#page;
    const dead = page[RESYNC];
    this.#slots?.postTagged(owed, this.#f64[DELIVERED]);
    if (lost > 0) {
      Atomics.add(page, LOST, lost);
      this.#ledger.dropped(lost);
      console.warn(
        `@mp/queues: a reader (pid ${dead}) died while reading; ${
          lost === 1 ? "the frame" : `the ${lost} frames`
        } it was taking ${
          lost === 1 ? "is" : "are"
        } dropped (${skipped} bytes of it skipped)`,
      );
    }
    Atomics.store(page, RESYNC, 0);
  }

  /**
   * The ring no longer holds the marks near `head` (more frames passed than
   * it holds): the bytes up to the last whole frame's end are read and the
   * first offset from which whole frames run exactly to that end is where the
   * stream resumes (the frames from there are delivered from this process).
   */
  #resyncBySearch(head: number, seq: number): boolean {
    const f64 = this.#f64;
    const all = this.#readUpTo(this.#marks.mark(seq - 1, head) - head);
    const got = all.length;
    f64[CONSUMED] = f64[DELIVERED] = head + got;
    this.#buffer.empty(head + got);
    let start = got;
    for (let p = 0; p < got; p++) {
      if (this.#framesRunTo(all, p, got)) {
        start = p;
        break;
      }
    }
    for (let pos = start; pos < got;) {
      let length = readShort(all, pos);
      let h = 4;
      if (length === -1) {
        length = readLong(all, pos + 4);
        h = 12;
      }
      this.#buffer.stash.push(all.slice(pos + h, pos + h + length));
      pos += h + length;
    }
    this.#finishResync(1, 1, start);
    return true;
  }

  /** Reads up to `n` bytes that are in the pipe into a new buffer. */
  #readUpTo(n: number): Uint8Array {
    const all = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = readSome(this.#buffer.fd, all, got, n - got);
      if (r <= 0) break;
      got += r;
    }
    return got === n ? all : all.subarray(0, got);
  }

  /** Whether whole frames parse from `from` to exactly `to`. */
  #framesRunTo(b: Uint8Array, from: number, to: number): boolean {
    let pos = from;
    while (pos < to) {
      if (to - pos < 4) return false;
      let length = readShort(b, pos);
      let h = 4;
      if (length === -1) {
        if (to - pos < 12) return false;
        length = readLong(b, pos + 4);
        h = 12;
      }
      if (length < 0 || length > this.#buffer.maxFrame) return false;
      pos += h + length;
    }
    return pos === to;
  }

  /**
   * Holding both locks, with the pipe empty and the counts restarted: the
   * frame a dead writer began (its bytes in the read buffer or in a partial
   * frame, `what`) is discarded, counted and warned about once.
   */
  #tornFrame(dead: number, what: string): void {
    this.#buffer.empty(this.#f64[CONSUMED]);
    Atomics.add(this.#page, TORN, 1);
    console.warn(
      `@mp/queues: discarded a torn frame: its writer (pid ${dead}) died after writing ${what}`,
    );
  }
}
