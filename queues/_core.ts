// The per-process state behind one queue handle: its transport and ledger,
// the closed flag, the waits its close() wakes, the operations in flight,
// and when its fds and memory are released. Also what crosses into a
// worker (the handle).

import { closeFd, createPipe, setNonBlocking, setPipeSize } from "../ffi/fd.ts";
import { isAlive, pid } from "../ffi/process.ts";
import { SharedMemory } from "../ffi/shm.ts";
import { CPythonChannel } from "./cpython/_channel.ts";
import { unlinkNames } from "./cpython/_names.ts";
import { Channel } from "./native/_channel.ts";
import { SHARED_BYTES } from "./native/_layout.ts";
import type { Ledger } from "./_ledger.ts";
import { WaitGroup } from "./wait/_entry.ts";
import { forgetFd } from "./wait/_fds.ts";
import { wordsQuiet } from "./wait/_words.ts";
import type { Until } from "./wait/_until.ts";
import { ClosedError } from "./errors.ts";

/** Marks queue objects: serializers refuse them; `spawn` hands them over. */
export const QUEUE_MARK: unique symbol = Symbol.for(
  "@mp/queues.queue",
) as never;

/** The queue classes, by the name a handle carries. */
export type QueueKind = "SimpleQueue" | "Queue" | "JoinableQueue";

/** What crosses into a worker: inherited fds and settings. */
export interface QueueHandle {
  kind: QueueKind;
  /**
   * Pipe read end, pipe write end, shared-memory fd (native); pipe read and
   * write ends (CPython-compatible).
   */
  fds: number[];
  /** How many counters the queue uses (native). */
  counters: number;
  /** The semaphore names, in CPython's order (CPython-compatible only). */
  names?: string[];
  maxsize: number;
  serializer: string;
  creator: number;
}

/** Hidden constructor option key: the kind, or a core to adopt (workers). */
export const INTERNAL: unique symbol = Symbol("@mp/queues.internal") as never;

/** Internal construction data, under {@linkcode INTERNAL}. */
export interface Internal {
  kind?: QueueKind;
  core?: Core;
}

/** How many counters each kind uses: slots, then unfinished tasks. */
const COUNTERS: Record<QueueKind, number> = {
  SimpleQueue: 0,
  Queue: 1,
  JoinableQueue: 2,
};

/** How often a worker looks whether the queue's creator is still alive. */
const CREATOR_CHECK_MS = 250;

/** Pipe size asked of the kernel: big items move in fewer wake-ups. */
const PIPE_SIZE = 1 << 20;

/** Per-process state of one queue. */
export class Core {
  readonly kind: QueueKind;
  readonly channel: Channel | CPythonChannel;
  readonly ledger: Ledger;
  readonly maxsize: number;
  readonly serializer: string;
  readonly creator: number;
  readonly owner: boolean;
  /** The waits of this handle: `close()` wakes them. */
  readonly group: WaitGroup;
  #closed = false;
  #busy = 0;
  #released = false;
  #creatorSeen = 0;
  /** Workers handed this queue that may not have opened its names yet. */
  readonly #lentTo = new Set<Promise<unknown>>();

  private constructor(
    kind: QueueKind,
    channel: Channel | CPythonChannel,
    maxsize: number,
    serializer: string,
    creator: number,
  ) {
    this.kind = kind;
    this.channel = channel;
    this.ledger = channel.ledger;
    this.maxsize = maxsize;
    this.serializer = serializer;
    this.creator = creator;
    this.owner = creator === pid;
    this.group = new WaitGroup(this.owner ? 0 : creator);
  }

  /**
   * Creates a new queue: its pipe and shared memory, or (`cpython`) its pipe
   * and CPython's named semaphores.
   */
  static create(
    kind: QueueKind,
    maxsize: number,
    serializer: string,
    cpython = false,
  ): Core {
    if (cpython) {
      const channel = CPythonChannel.create(kind, maxsize);
      return new Core(kind, channel, maxsize, serializer, pid);
    }
    let fds: [number, number] | null = null;
    let shared: SharedMemory;
    try {
      fds = createPipe();
      setNonBlocking(fds[0]);
      setNonBlocking(fds[1]);
      setPipeSize(fds[1], PIPE_SIZE);
      shared = SharedMemory.create(SHARED_BYTES);
    } catch (e) {
      if (fds) fds.forEach(closeFd);
      throw e;
    }
    const channel = new Channel(fds[0], fds[1], shared, {
      counters: COUNTERS[kind],
      maxsize,
    });
    // Slots start at the bound; unfinished tasks at 0.
    channel.counters[0]?.init(channel.ledger.bound);
    channel.counters[1]?.init(0);
    return new Core(kind, channel, maxsize, serializer, pid);
  }

  /** Adopts a handle received from the parent (in a worker). */
  static fromHandle(h: QueueHandle): Core {
    if (h.names !== undefined) {
      const channel = CPythonChannel.attach(h.kind, {
        fds: [h.fds[0], h.fds[1]],
        names: h.names,
        maxsize: h.maxsize,
      });
      return new Core(h.kind, channel, h.maxsize, h.serializer, h.creator);
    }
    const shared = SharedMemory.attach(h.fds[2], SHARED_BYTES);
    const channel = new Channel(h.fds[0], h.fds[1], shared, {
      counters: h.counters,
      maxsize: h.maxsize,
    });
    return new Core(h.kind, channel, h.maxsize, h.serializer, h.creator);
  }

  /** The handle a worker needs to adopt this queue. */
  handle(): QueueHandle {
    this.check();
    const { channel } = this;
    if (channel instanceof CPythonChannel) {
      return {
        kind: this.kind,
        fds: [channel.readFd, channel.writeFd],
        counters: 0,
        names: channel.names,
        maxsize: this.maxsize,
        serializer: this.serializer,
        creator: this.creator,
      };
    }
    return {
      kind: this.kind,
      fds: [channel.readFd, channel.writeFd, channel.shared.fd],
      counters: channel.counters.length,
      maxsize: this.maxsize,
      serializer: this.serializer,
      creator: this.creator,
    };
  }

  /** Whether this process closed the queue. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The wait limits of a call: its deadline and signal, and this handle's close. */
  until(deadline: number, signal: AbortSignal | undefined): Until {
    return { deadline, signal, group: this.group };
  }

  /**
   * Throws `ClosedError` once this process closed the queue, or (in a worker)
   * once the process that created the queue has exited: then the handle is
   * closed, so that a worker waiting in `get()` ends instead of living on.
   */
  check = (): void => {
    if (this.#closed) throw new ClosedError(`${this.kind} is closed`);
    if (this.owner) return;
    if (!this.group.creatorGone) {
      const now = performance.now();
      if (now - this.#creatorSeen < CREATOR_CHECK_MS) return;
      this.#creatorSeen = now;
      if (isAlive(this.creator)) return;
    }
    this.close();
    throw new ClosedError(
      `${this.kind} is closed: the process that created it (pid ${this.creator}) has exited`,
    );
  };

  /** Marks an operation that uses the fds or shared memory as in flight. */
  enter(): void {
    this.#busy++;
  }

  /** Ends an in-flight operation; the last one after a close releases. */
  leave(): void {
    if (--this.#busy === 0 && this.#closed) this.#release();
  }

  /**
   * Closes this process's handle: its waits wake (and see the close); the
   * fds and memory go once nothing is in flight.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.group.wakeAll();
    if (this.#busy === 0) this.#release();
  }

  /**
   * A worker was handed this queue: its semaphore names (CPython-compatible
   * queues) stay linked until `exited` settles, so that a `close()` right
   * after the spawn does not take them away before the worker opens them.
   */
  lend(exited: Promise<unknown>): void {
    if (!(this.channel instanceof CPythonChannel)) return;
    this.#lentTo.add(exited);
    const forget = () => this.#lentTo.delete(exited);
    exited.then(forget, forget);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    const { channel } = this;
    let unmap: () => void;
    if (channel instanceof CPythonChannel) {
      const names = channel.names;
      const lent = [...this.#lentTo];
      channel.release(lent.length > 0);
      if (lent.length > 0) {
        Promise.allSettled(lent).then(() => unlinkNames(names));
      }
      unmap = () => channel.closeSemaphores();
    } else {
      forgetFd(channel.readFd);
      forgetFd(channel.writeFd);
      closeFd(channel.readFd);
      closeFd(channel.writeFd);
      unmap = () => channel.shared.close();
    }
    // A helper-thread call may still sleep on this queue's words (armed for
    // waits that have ended, beside other queues' waits): unmap them after.
    const quiet = wordsQuiet();
    if (quiet === null) unmap();
    else quiet.then(unmap);
  }
}
