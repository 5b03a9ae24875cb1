// The per-process state behind one queue handle: the channel, the named
// semaphores, the closed flag, in-flight operations, and when resources are
// released and names unlinked. Also what crosses into a worker (the handle).

import { closeFd, createPipe, setNonBlocking, setPipeSize } from "../ffi/fd.ts";
import { isAlive, listDir, pid } from "../ffi/process.ts";
import { NamedSemaphore } from "../ffi/semaphore.ts";
import { SharedMemory } from "../ffi/shm.ts";
import { Channel, SHARED_BYTES } from "./_channel.ts";
import { ClosedError } from "./errors.ts";
import { randomId } from "./_util.ts";

/** Marks queue objects: serializers refuse them; `spawn` hands them over. */
export const QUEUE_MARK: unique symbol = Symbol.for(
  "@mp/queues.queue",
) as never;

/** The queue classes, by the name a handle carries. */
export type QueueKind = "SimpleQueue" | "Queue" | "JoinableQueue";

/** What crosses into a worker: inherited fds, semaphore names, settings. */
export interface QueueHandle {
  kind: QueueKind;
  /** Pipe read end, pipe write end, shared-memory fd. */
  fds: [number, number, number];
  names: string[];
  maxsize: number;
  serializer: string;
  creator: number;
}

/** Hidden constructor option key: the kind, or a core to adopt (workers). */
export const INTERNAL: unique symbol = Symbol("@mp/queues.internal") as never;

/** Internal construction data, under {@linkcode INTERNAL}. */
export interface Internal {
  kind?: QueueKind;
  extra?: number[];
  core?: Core;
}

/** Prefix of every semaphore name of ours (`/dev/shm/sem.mpq.<pid>.…`). */
export const NAME_PREFIX = "/mpq.";

/** How often a worker looks whether the queue's creator is still alive. */
const CREATOR_CHECK_MS = 250;

/** Pipe size asked of the kernel: big items move in fewer wake-ups. */
const PIPE_SIZE = 1 << 20;

/**
 * Unlinks the semaphore names left by creators that died without cleaning up
 * (killed by a signal): like Python's resource tracker, without a process
 * and without warnings. Runs once, at import.
 *
 * @returns the names removed
 */
export function sweepDeadNames(): string[] {
  const removed: string[] = [];
  for (const entry of listDir("/dev/shm")) {
    // sem.mpq.<pid>.<random>.<index>
    const m = /^sem\.mpq\.(\d+)\.[a-z0-9]+\.\d+$/.exec(entry);
    if (m === null) continue;
    const creator = Number(m[1]);
    if (creator === pid || isAlive(creator)) continue;
    if (NamedSemaphore.unlink(`/${entry.slice(4)}`)) removed.push(entry);
  }
  return removed;
}

sweepDeadNames();

const owned = new Set<Core>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  globalThis.addEventListener("unload", () => {
    for (const core of owned) core.unlinkNames();
  });
}

/** Per-process state of one queue. */
export class Core {
  readonly kind: QueueKind;
  readonly channel: Channel;
  /** The queue's semaphores (slots, unfinished, …; none for SimpleQueue). */
  readonly sems: NamedSemaphore[];
  readonly maxsize: number;
  readonly serializer: string;
  readonly creator: number;
  readonly owner: boolean;
  /** Items this process got and has not marked done (JoinableQueue). */
  held = 0;
  #closed = false;
  #busy = 0;
  #released = false;
  #workers = 0;
  #unlinked = false;

  private constructor(
    kind: QueueKind,
    channel: Channel,
    sems: NamedSemaphore[],
    maxsize: number,
    serializer: string,
    creator: number,
  ) {
    this.kind = kind;
    this.channel = channel;
    this.sems = sems;
    this.maxsize = maxsize;
    this.serializer = serializer;
    this.creator = creator;
    this.owner = creator === pid;
    if (this.owner) {
      owned.add(this);
      installExitHook();
    }
  }

  /**
   * Creates a new queue's pipe, shared memory and semaphores (`values` are
   * the semaphores' initial values).
   */
  static create(
    kind: QueueKind,
    values: number[],
    maxsize: number,
    serializer: string,
  ): Core {
    const base = `${NAME_PREFIX}${pid}.${randomId(12)}.`;
    const made: NamedSemaphore[] = [];
    let fds: [number, number] | null = null;
    let shared: SharedMemory | null = null;
    try {
      for (const [i, value] of values.entries()) {
        made.push(NamedSemaphore.create(base + i, value));
      }
      fds = createPipe();
      setNonBlocking(fds[0]);
      setNonBlocking(fds[1]);
      setPipeSize(fds[1], PIPE_SIZE);
      shared = SharedMemory.create(SHARED_BYTES);
    } catch (e) {
      for (const s of made) {
        s.close();
        NamedSemaphore.unlink(s.name);
      }
      if (fds) fds.forEach(closeFd);
      throw e;
    }
    return new Core(
      kind,
      new Channel(fds[0], fds[1], shared),
      made,
      maxsize,
      serializer,
      pid,
    );
  }

  /** Adopts a handle received from the parent (in a worker). */
  static fromHandle(h: QueueHandle): Core {
    const opened: NamedSemaphore[] = [];
    let shared: SharedMemory;
    try {
      for (const name of h.names) opened.push(NamedSemaphore.open(name));
      shared = SharedMemory.attach(h.fds[2], SHARED_BYTES);
    } catch (e) {
      opened.forEach((s) => s.close());
      throw e;
    }
    return new Core(
      h.kind,
      new Channel(h.fds[0], h.fds[1], shared),
      opened,
      h.maxsize,
      h.serializer,
      h.creator,
    );
  }

  /** The handle a worker needs to adopt this queue. */
  handle(): QueueHandle {
    this.check();
    const { channel } = this;
    return {
      kind: this.kind,
      fds: [channel.readFd, channel.writeFd, channel.shared.fd],
      names: this.sems.map((s) => s.name),
      maxsize: this.maxsize,
      serializer: this.serializer,
      creator: this.creator,
    };
  }

  /** Whether this process closed the queue. */
  get closed(): boolean {
    return this.#closed;
  }

  #creatorSeen = 0;

  /**
   * Throws `ClosedError` once this process closed the queue, or (in a worker)
   * once the process that created the queue has exited: then the handle is
   * closed, so that a worker waiting in `get()` ends instead of living on.
   */
  check = (): void => {
    if (this.#closed) throw new ClosedError(`${this.kind} is closed`);
    if (this.owner) return;
    const now = performance.now();
    if (now - this.#creatorSeen < CREATOR_CHECK_MS) return;
    this.#creatorSeen = now;
    if (isAlive(this.creator)) return;
    this.close();
    throw new ClosedError(
      `${this.kind} is closed: the process that created it (pid ${this.creator}) has exited`,
    );
  };

  /** Marks an operation that uses the fds or semaphores as in flight. */
  enter(): void {
    this.#busy++;
  }

  /** Ends an in-flight operation; the last one after a close releases. */
  leave(): void {
    if (--this.#busy === 0 && this.#closed) this.#release();
  }

  /** Closes this process's handle; resources go once nothing is in flight. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#busy === 0) this.#release();
  }

  /** Counts a worker spawned with this queue until `exited` settles. */
  trackWorker(exited: Promise<unknown>): void {
    this.#workers++;
    exited.finally(() => {
      this.#workers--;
      this.#maybeUnlink();
    });
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    const { channel } = this;
    closeFd(channel.readFd);
    closeFd(channel.writeFd);
    channel.shared.close();
    for (const s of this.sems) s.close();
    this.#maybeUnlink();
  }

  #maybeUnlink(): void {
    if (this.owner && this.#released && this.#workers === 0) this.unlinkNames();
  }

  /** Removes the semaphore names (creator only; idempotent). */
  unlinkNames(): void {
    if (this.#unlinked || !this.owner) return;
    this.#unlinked = true;
    owned.delete(this);
    for (const s of this.sems) {
      NamedSemaphore.unlink(s.name);
    }
  }
}
