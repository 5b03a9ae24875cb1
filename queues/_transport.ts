// The seams between the queue classes and a transport: a lock, a counter and
// the byte stream of frames, as small interfaces. The native transport
// (`native/`: a pipe, futex words in a memfd) is one implementation; another
// (a pipe with CPython's named semaphores) plugs in beside it.

import type { Ledger } from "./_ledger.ts";
import type { Until } from "./wait/_until.ts";

/** A lock shared by the processes of a queue. */
export interface Lock {
  /** Takes the lock if it is free. */
  tryAcquire(): boolean;
  /**
   * Waits for the lock to change hands, at most until `until`.
   *
   * @returns true if this process now holds it, false to look again
   */
  wait(until: Until): Promise<boolean>;
  /** Gives the lock back, waking a waiter. */
  release(): void;
}

/** A counting semaphore shared by the processes of a queue. */
export interface Counter {
  /** The current value (never below 0). */
  value(): number;
  /** Takes up to `n` at once; returns how many were taken. */
  tryTake(n: number): number;
  /** Gives back `n` in one step, waking up to `n` waiters. */
  post(n: number): void;
  /**
   * Waits for the value to rise above 0 (nothing is taken).
   *
   * @returns true when it may have (look again), false at the deadline
   */
  wait(until: Until): Promise<boolean>;
  /**
   * Waits for the value to reach 0.
   *
   * @returns true when it may have (look again), false at the deadline
   */
  waitZero(until: Until): Promise<boolean>;
}

/**
 * Turns a frame's payload into what a read returns, while the read lock is
 * held. `owned` is false for a view of a shared buffer (about to be reused:
 * the result must not keep it), true for a buffer of its own.
 */
export type FrameDecoder = (payload: Uint8Array, owned: boolean) => unknown;

/** What a decoder threw for one frame (the frame itself is consumed). */
export class DecodeFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** What `Transport.readFrameNow` returns when it has no frame. */
export const NOTHING: unique symbol = Symbol("nothing");

/** One read of {@linkcode Transport.readFrames}. */
export interface ReadRequest {
  /** The most frames to take. */
  readonly maxItems: number;
  /** Stop taking frames once their payloads reach this many bytes. */
  readonly maxBytes: number;
  /** When to give up waiting for the first frame, the signal, the close group. */
  readonly until: Until;
  /** Runs before every attempt and may throw (a closed queue). */
  readonly check: () => void;
  /** Decodes each payload under the read lock. */
  readonly decode: FrameDecoder;
}

/**
 * What the crash recovery has discarded, across all processes of a queue
 * (see `Queue.stats()` and `SimpleQueue.stats()`).
 *
 * @example Usage
 * ```ts
 * import { Queue, type QueueStats } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using q = new Queue<number>();
 * const { tornFrames, lostFrames }: QueueStats = q.stats();
 * strictEqual(tornFrames + lostFrames, 0); // no process died mid-frame
 * ```
 */
export interface QueueStats {
  /** Frames cut short by a writer that died while writing them. */
  tornFrames: number;
  /** Frames whose reader died while reading them. */
  lostFrames: number;
}

/**
 * The byte stream of a queue: whole frames in and out, under the queue's
 * read and write locks, with the counts of the ledger kept as frames are
 * written, taken and lost.
 */
export interface Transport {
  /** The queue's counts, kept by the transport as frames move. */
  readonly ledger: Ledger;
  /**
   * Waits (without holding the read lock) until frames arrive, then takes up
   * to `maxItems` of them under one hold of the lock, decoded (a payload
   * that cannot be decoded gives a {@linkcode DecodeFailure} in its place).
   *
   * @returns the decoded payloads, or null when the deadline passed
   */
  readFrames(request: ReadRequest): Promise<unknown[] | null>;
  /**
   * Takes one frame without waiting for data: {@linkcode NOTHING} if there is
   * none or another reader holds the lock.
   */
  readFrameNow(decode: FrameDecoder): unknown;
  /**
   * Writes whole frames for `payloads` under the write lock. `check` runs
   * while waiting for the lock and may throw; a frame once begun is
   * finished. While `detached()` says so, the waits do not keep the process
   * alive; waking `until`'s group makes them look at it again.
   */
  writeFrames(
    payloads: readonly Uint8Array[],
    check?: () => void,
    detached?: () => boolean,
    until?: Until,
  ): Promise<void>;
  /**
   * Writes whole frames for `payloads[from]` onwards now, without awaiting,
   * if the write lock is free: as much as the pipe takes, waiting for room at
   * most `waitMs` at a time (synchronously; 0 never blocks). A frame begun
   * and not finished stays begun (see {@linkcode Transport.writing}).
   *
   * @returns how many payloads were handed over
   */
  writeNow(
    payloads: readonly Uint8Array[],
    from: number,
    waitMs: number,
  ): number;
  /**
   * Whether this process holds the write lock for `writeNow`: a frame it
   * began and did not finish, or the lock `waitWritable` took. The next
   * `writeNow` or `writeFrames` (possibly with no payloads) goes on with it.
   */
  writing(): boolean;
  /**
   * Waits until `writeNow` can go on: for room in the pipe if a frame it
   * began is not finished, else for the write lock (held then for the next
   * `writeNow`). While `detached()` says so, the wait does not keep the
   * process alive.
   */
  waitWritable(detached?: () => boolean, until?: Until): Promise<void>;
  /** Frames this process completed writing, ever, in the order they began. */
  framesWritten(): number;
  /** Whether a frame (or end of file) is waiting to be read. */
  readable(): boolean;
  /** Bytes written so far by every process (it only grows). */
  bytesWritten(): number;
  /** Frames discarded by crash recovery. */
  stats(): QueueStats;
  /** Tells readers of this process whether its feeder has frames queued. */
  setQueued(queued: boolean): void;
}
