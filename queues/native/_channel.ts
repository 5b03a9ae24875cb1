// The native transport of a queue, as one object: the pipe shared by every
// process of the queue, its read and write locks (futex words) and the
// queue's shared memory (a memfd). It puts the rooms together and hands
// calls to them: the reader, the writer, the crash recovery.

import type { SharedMemory } from "../../ffi/shm.ts";
import { Ledger } from "../_ledger.ts";
import type {
  FrameDecoder,
  QueueStats,
  ReadRequest,
  Transport,
} from "../_transport.ts";
import { FOREVER, type Until } from "../wait/_until.ts";
import {
  COUNTER_COUNT,
  COUNTERS,
  RLOCK,
  RLOCK_SLEEPERS,
  SharedPage,
  SLOTS,
  SLOTS_SLEEPERS,
  WLOCK,
  WLOCK_SLEEPERS,
} from "./_layout.ts";
import { COUNTER_MAX, FutexCounter } from "./_counter.ts";
import { FutexLock } from "./_lock.ts";
import { ProducerTable } from "./_producers.ts";
import { ConsumerTable } from "./_consumers.ts";
import { StreamMarks } from "./_marks.ts";
import { ReadBuffer } from "./_read_buffer.ts";
import { Reader } from "./_reader.ts";
import { Recovery } from "./_recovery.ts";
import { Writer } from "./_writer.ts";

const noCheck = (): void => {};
const never = (): boolean => false;

/** What a queue counts: how many counters it uses, and its size bound. */
export interface Counts {
  /** 0 (SimpleQueue), 1 (slots: Queue) or 2 (and unfinished tasks: JoinableQueue). */
  readonly counters: number;
  /** The size bound (0: unbounded). */
  readonly maxsize: number;
}

const NO_COUNTS: Counts = { counters: 0, maxsize: 0 };

/** The pipe of a queue, its two locks and its shared memory. */
export class Channel implements Transport {
  readonly readFd: number;
  readonly writeFd: number;
  readonly shared: SharedMemory;
  readonly page: SharedPage;
  readonly rlock: FutexLock;
  readonly wlock: FutexLock;
  /** The queue's counters: slots, then unfinished tasks. */
  readonly counters: readonly FutexCounter[];
  readonly ledger: Ledger;
  readonly #marks: StreamMarks;
  readonly #buffer: ReadBuffer;
  readonly #recovery: Recovery;
  readonly #writer: Writer;
  readonly #reader: Reader;

  /**
   * @param readFd the pipe's read end (non-blocking)
   * @param writeFd the pipe's write end (non-blocking)
   * @param shared the queue's shared memory
   * @param counts what the queue counts (none by default)
   */
  constructor(
    readFd: number,
    writeFd: number,
    shared: SharedMemory,
    counts: Counts = NO_COUNTS,
  ) {
    if (!(counts.counters >= 0 && counts.counters <= COUNTER_COUNT)) {
      throw new RangeError(
        `Cannot use ${counts.counters} counters: a queue has ${COUNTER_COUNT}`,
      );
    }
    this.readFd = readFd;
    this.writeFd = writeFd;
    this.shared = shared;
    const page = this.page = new SharedPage(
      shared.buffer,
      (offset) => shared.address(offset),
    );
    this.rlock = new FutexLock(page, RLOCK, RLOCK_SLEEPERS);
    this.wlock = new FutexLock(page, WLOCK, WLOCK_SLEEPERS);
    const bound = counts.maxsize || COUNTER_MAX;
    // The slots share a 64-bit word with how far taken frames gave theirs
    // back (see `_layout.ts`); unfinished tasks are a plain counter.
    const slots = counts.counters > 0
      ? new FutexCounter(page, SLOTS, SLOTS_SLEEPERS, bound)
      : undefined;
    const unfinished = counts.counters > 1
      ? new FutexCounter(page, COUNTERS)
      : undefined;
    this.counters = [slots, unfinished].filter((c) => c !== undefined);
    const producers = counts.counters > 0 ? new ProducerTable(page) : undefined;
    const consumers = counts.counters > 1 ? new ConsumerTable(page) : undefined;
    // A dead writer's record is settled before the sweep reads it.
    const sweepProducers = (): number => {
      this.#recovery.trySettleDeadWriter();
      return producers!.sweep();
    };
    const ledger = this.ledger = new Ledger({
      slots,
      bound,
      unfinished,
      producers: producers && {
        add: (n) => producers.add(n),
        sweep: sweepProducers,
      },
      consumers,
    });
    this.#marks = new StreamMarks(page);
    this.#buffer = new ReadBuffer(readFd, page, shared);
    this.#recovery = new Recovery(
      page,
      this.rlock,
      this.wlock,
      this.#marks,
      this.#buffer,
      ledger,
      slots,
    );
    this.#writer = new Writer(
      writeFd,
      this.wlock,
      this.#marks,
      this.#recovery,
      producers,
    );
    this.#reader = new Reader(
      page,
      this.rlock,
      this.#buffer,
      this.#recovery,
      this.#writer,
      slots,
      consumers,
    );
  }

  /** The largest payload one frame may claim. */
  get maxFrame(): number {
    return this.#buffer.maxFrame;
  }
  set maxFrame(bytes: number) {
    this.#buffer.maxFrame = bytes;
  }

  readFrames(request: ReadRequest): Promise<unknown[] | null> {
    return this.#reader.readFrames(request);
  }

  readFrameNow(decode: FrameDecoder): unknown {
    return this.#reader.readFrameNow(decode);
  }

  writeFrames(
    payloads: readonly Uint8Array[],
    check: () => void = noCheck,
    detached: () => boolean = never,
    until: Until = FOREVER,
  ): Promise<void> {
    return this.#writer.writeFrames(payloads, check, detached, until);
  }

  writeNow(
    payloads: readonly Uint8Array[],
    from: number,
    waitMs: number,
  ): number {
    return this.#writer.writeNow(payloads, from, waitMs);
  }

  writing(): boolean {
    return this.#writer.writing();
  }

  waitWritable(
    detached: () => boolean = never,
    until: Until = FOREVER,
  ): Promise<void> {
    return this.#writer.waitWritable(detached, until);
  }

  framesWritten(): number {
    return this.#writer.framesWritten();
  }

  readable(): boolean {
    return this.#buffer.readable();
  }

  bytesWritten(): number {
    return this.#marks.written();
  }

  stats(): QueueStats {
    return this.#recovery.stats();
  }

  setQueued(queued: boolean): void {
    this.#reader.queued = queued;
  }
}
