// The CPython-compatible transport of a queue, as one object: a pipe in
// `Connection.send_bytes` framing and the named semaphores of CPython's
// `multiprocessing.queues` (`_rlock`, `_wlock`, `_sem`; a JoinableQueue's
// `_cond` and `_unfinished_tasks`), so that unmodified CPython processes
// share the queue. It implements the seam's `Transport`.

import {
  closeFd,
  createPipe,
  reopenPipe,
  setCloseOnExec,
  setNonBlocking,
  setPipeSize,
} from "../../ffi/fd.ts";
import { NamedSemaphore, SEM_VALUE_MAX } from "../../ffi/semaphore.ts";
import { Ledger } from "../_ledger.ts";
import type {
  FrameDecoder,
  QueueStats,
  ReadRequest,
  Transport,
} from "../_transport.ts";
import { forgetFd } from "../wait/_fds.ts";
import { FOREVER, type Until } from "../wait/_until.ts";
import { createSemaphore, unlinkNames } from "./_names.ts";
import { PipeReader } from "./_reader.ts";
import { ConditionCounter, SemCounter, SemLock } from "./_semlock.ts";
import { PipeWriter } from "./_writer.ts";

const noCheck = (): void => {};
const never = (): boolean => false;

/** Pipe size asked of the kernel: big items move in fewer wake-ups. */
const PIPE_SIZE = 1 << 20;

/** The queue kinds, by how many semaphores CPython gives them. */
export type CPythonKind = "SimpleQueue" | "Queue" | "JoinableQueue";

/** How many semaphores each kind has, in CPython's state order. */
const SEMAPHORES: Record<CPythonKind, number> = {
  SimpleQueue: 2, // _rlock, _wlock
  Queue: 3, // + _sem
  JoinableQueue: 8, // + _cond (lock, sleeping, woken, wait), _unfinished_tasks
};

/** What a process needs to attach to a CPython-compatible queue. */
export interface CPythonParts {
  /** The pipe's read and write ends, blocking (as CPython uses them). */
  readonly fds: readonly [number, number];
  /** The semaphore names, in CPython's state order. */
  readonly names: readonly string[];
  /** The bound (0: unbounded). */
  readonly maxsize: number;
}

/** A CPython-compatible queue's pipe and semaphores, in this process. */
export class CPythonChannel implements Transport {
  /** The pipe's ends as shared with other processes (blocking). */
  readonly readFd: number;
  readonly writeFd: number;
  /** The semaphores, in CPython's state order. */
  readonly semaphores: readonly NamedSemaphore[];
  /** CPython's `_maxsize` (`SEM_VALUE_MAX` when unbounded). */
  readonly maxsize: number;
  readonly ledger: Ledger;
  readonly #reader: PipeReader;
  readonly #writer: PipeWriter;
  #released = false;

  private constructor(
    fds: readonly [number, number],
    semaphores: NamedSemaphore[],
    maxsize: number,
  ) {
    this.readFd = fds[0];
    this.writeFd = fds[1];
    this.semaphores = semaphores;
    this.maxsize = maxsize;
    const [rlock, wlock, slots, lock, sleeping, woken, wait, unfinished] =
      semaphores;
    this.ledger = new Ledger({
      slots: slots && new SemCounter(slots),
      bound: maxsize,
      unfinished: unfinished && new ConditionCounter({
        lock,
        sleeping,
        woken,
        waitSemaphore: wait,
        unfinished,
      }),
    });
    // Descriptors of this process's own: non-blocking without changing the
    // blocking ones CPython processes use.
    const readOwn = reopenPipe(fds[0], false);
    let writeOwn: number;
    try {
      writeOwn = reopenPipe(fds[1], true);
    } catch (e) {
      closeFd(readOwn);
      throw e;
    }
    this.#reader = new PipeReader(readOwn, new SemLock(rlock), this.ledger);
    this.#writer = new PipeWriter(writeOwn, new SemLock(wlock));
  }

  /**
   * Creates a queue's pipe and semaphores, as CPython's constructors do:
   * `Lock()`s for `_rlock` and `_wlock`, `BoundedSemaphore(maxsize)`, and a
   * JoinableQueue's `Condition()` and `Semaphore(0)`.
   *
   * @param maxsize the bound (0: unbounded)
   */
  static create(kind: CPythonKind, maxsize: number): CPythonChannel {
    const bound = maxsize > 0 ? maxsize : SEM_VALUE_MAX;
    const values = [1, 1, bound, 1, 0, 0, 0, 0].slice(0, SEMAPHORES[kind]);
    const created: NamedSemaphore[] = [];
    let fds: [number, number] | null = null;
    try {
      fds = createPipe();
      setPipeSize(fds[1], PIPE_SIZE);
      for (const v of values) created.push(createSemaphore(v));
      return new CPythonChannel(fds, created, bound);
    } catch (e) {
      if (fds) fds.forEach(closeFd);
      for (const s of created) s.close();
      unlinkNames(created.map((s) => s.name));
      throw e;
    }
  }

  /** Attaches to a queue another process created (fds inherited, names opened). */
  static attach(kind: CPythonKind, parts: CPythonParts): CPythonChannel {
    if (parts.names.length !== SEMAPHORES[kind]) {
      throw new TypeError(
        `Cannot attach a CPython ${kind}: it has ${
          SEMAPHORES[kind]
        } semaphores, received ${parts.names.length} names`,
      );
    }
    const opened: NamedSemaphore[] = [];
    try {
      for (const name of parts.names) opened.push(NamedSemaphore.open(name));
      for (const fd of parts.fds) {
        setNonBlocking(fd, false); // as CPython expects its descriptors
        setCloseOnExec(fd, true);
      }
      const bound = parts.maxsize > 0 ? parts.maxsize : SEM_VALUE_MAX;
      return new CPythonChannel(parts.fds, opened, bound);
    } catch (e) {
      for (const s of opened) s.close();
      throw e;
    }
  }

  /** The names of the semaphores, in CPython's state order. */
  get names(): string[] {
    return this.semaphores.map((s) => s.name);
  }

  /** The largest payload one frame may claim. */
  get maxFrame(): number {
    return this.#reader.maxFrame;
  }
  set maxFrame(bytes: number) {
    this.#reader.maxFrame = bytes;
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
    return this.#reader.readable();
  }

  /** Bytes this process wrote (CPython processes keep no shared count). */
  bytesWritten(): number {
    return this.#writer.bytesWritten();
  }

  stats(): QueueStats {
    return this.#reader.stats();
  }

  setQueued(): void {}

  /**
   * Releases this process's descriptors; the names this
   * process created are unlinked unless `keepNames` (a worker that was
   * handed the queue may not have opened them yet).
   */
  release(keepNames: boolean): void {
    if (this.#released) return;
    this.#released = true;
    this.#reader.close();
    for (const fd of [this.#reader.fd, this.#writer.fd]) {
      forgetFd(fd);
      closeFd(fd);
    }
    closeFd(this.readFd);
    closeFd(this.writeFd);
    if (!keepNames) unlinkNames(this.names);
  }

  /** Unmaps the semaphores (once no wait can sleep on them: see `Core`). */
  closeSemaphores(): void {
    for (const s of this.semaphores) s.close();
  }
}
