// One handle of a queue on a Redis server: the scripts of its calls, the
// waits between attempts, the de-duplication of puts resent over a
// reconnect, and (joinable) the batches it holds and their leases. It knows
// bytes and batches; the queue classes above it know items and errors.

import { ClosedError } from "../queues/errors.ts";
import type { Until } from "../queues/wait/_until.ts";
import { type Keys, keysOf } from "./_keys.ts";
import {
  type Arg,
  isReply,
  Link,
  NEVER,
  Stopped,
  type WaitSlot,
  WAKE_CHANNEL,
} from "./_link.ts";
import * as lua from "./_scripts.ts";
import { step } from "./_steps.ts";

/** What a queue is: a plain one (at most once) or a joinable one. */
export type Kind = "queue" | "joinable";

/** The options a queue stores on its first `connect`. */
export interface Stored {
  kind: Kind;
  maxsize: number;
  serializer: string;
  leaseMs: number;
  maxDeliveries: number;
}

/** The stored form (format 1) of the options; numbers as strings. */
const FORMAT = "1";
/** How long a wait's registration lasts on the server (it renews at half). */
const REGISTRATION_MS = 10_000;
/** How long a call waits for the reply of a request in flight at its end. */
const GRACE_MS = 10;
/** How long `close()` waits for a server that is away. */
const CLOSE_MS = 2000;
/** How long `destroy()` waits for a server that is away. */
const DESTROY_MS = 5000;
/** How long a non-blocking call waits for a server that is reconnecting. */
const NONBLOCKING_MS = 1000;

/** A call's attempt: its result, or the ms until it is worth looking again (-1: only when woken). */
type Attempt<R> = (
  member: string,
  stop: () => Promise<Stopped>,
) => Promise<R | number>;

/** Resolves after `ms`; the timer is cleared by `cancel()`. */
function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** A batch of a joinable queue this handle got. */
interface Held {
  batch: string;
  /** Its items not marked done yet. */
  left: number;
}

/** What a get took: the payloads and (joinable) their batches in order. */
export interface Got {
  payloads: Uint8Array[];
  /** [batch, count] for each batch, in the order of `payloads`. */
  groups: [string, number][];
}

/** A reply's bytes as a plain Uint8Array (not a node Buffer). */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The error of a call that `close()` (or `destroy()`) ended. */
function closedError(what: string): ClosedError {
  return new ClosedError(`Cannot ${what}: the queue handle was closed`);
}

/** A queue handle's server side. */
export class Remote {
  readonly name: string;
  readonly keys: Keys;
  readonly link: Link;
  readonly stored: Stored;
  /** Random: the owner of this handle's leases and the key of its puts. */
  readonly handle: string = crypto.randomUUID().replaceAll("-", "").slice(
    0,
    16,
  );
  /** Set by `close()`. */
  #isClosed = false;
  /** Run by `close()`: the stops of the calls in progress. */
  readonly #onClose = new Set<() => void>();
  /**
   * Settles (with a `Stopped`) once `close()` stops waiting for this
   * handle's requests: what is still pending then (a `taskDone()`, a
   * `qsize()`) rejects with `ClosedError`.
   */
  readonly #closeStop: Promise<Stopped>;
  #fireCloseStop!: (s: Stopped) => void;
  /**
   * What `close()` lets finish before the link goes: requests in flight
   * when their call ended, and the give-backs they lead to.
   */
  readonly #busy = new Set<Promise<unknown>>();
  /** The link's epoch when the queue was last attached. */
  #attached: number;
  /** Random, stored when the queue was created: tells a re-created queue. */
  #nonce: string;
  /** The server's run id when the queue was last attached. */
  #runId: string;
  /** The last put sequence number given out. */
  #seq = 0;
  /** Every put up to this one has had its reply (or its end). */
  #settledUpTo = 0;
  /** Puts above `#settledUpTo` that have had their reply. */
  readonly #settledAbove = new Set<number>();
  /**
   * Joinable: the batches this handle got, oldest first, with how many of
   * their items are not marked done yet ("" for a batch the server lost).
   */
  #held: Held[] = [];
  /** Joinable: how many items of each batch were marked done and not sent. */
  #doneBatch: { counts: Map<string, number>; promise: Promise<void> } | null =
    null;
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  #closed: Promise<void> | null = null;

  private constructor(
    link: Link,
    name: string,
    [stored, nonce, runId]: [Stored, string, string],
  ) {
    this.link = link;
    this.name = name;
    this.keys = keysOf(name);
    this.stored = stored;
    this.#nonce = nonce;
    this.#runId = runId;
    this.#attached = link.epoch;
    this.#closeStop = new Promise((resolve) => this.#fireCloseStop = resolve);
  }

  /**
   * Attaches to the queue `name` at `url`, creating it with `create` if it
   * does not exist.
   *
   * @returns the handle and the options the queue was created with
   */
  static async attach(
    url: string,
    name: string,
    create: Stored,
  ): Promise<Remote> {
    const link = await Link.open(url);
    try {
      const attached = await Remote.#attach(link, name, create, true, NEVER);
      return new Remote(link, name, attached!);
    } catch (error) {
      await link.release();
      throw error;
    }
  }

  /**
   * Runs the attach script (creating the queue only if `create`).
   *
   * @returns the stored options, nonce and the server's run id, or
   *   `undefined` if the queue does not exist and was not created
   */
  static async #attach(
    link: Link,
    name: string,
    create: Stored,
    creating: boolean,
    stop: () => Promise<Stopped>,
  ): Promise<[Stored, string, string] | undefined> {
    const runId = await link.runId(stop);
    const fields: string[] = ["format", FORMAT, "nonce", crypto.randomUUID()];
    for (const [k, v] of Object.entries(create)) fields.push(k, String(v));
    const reply = await link.script(
      lua.ATTACH,
      [keysOf(name).meta],
      [creating ? "1" : "0", ...fields],
      stop,
    ) as Uint8Array[];
    if (reply.length === 0) return undefined;
    const map = new Map<string, string>();
    const text = new TextDecoder();
    for (let i = 0; i < reply.length; i += 2) {
      map.set(text.decode(reply[i]), text.decode(reply[i + 1]));
    }
    if (map.get("format") !== FORMAT) {
      throw new TypeError(
        `Cannot connect to queue ${JSON.stringify(name)}: its key ${
          keysOf(name).meta
        } does not hold mpq queue options (format ${FORMAT}), received format ${
          JSON.stringify(map.get("format") ?? null)
        }`,
      );
    }
    return [
      {
        kind: map.get("kind") as Kind,
        maxsize: Number(map.get("maxsize")),
        serializer: map.get("serializer") ?? "",
        leaseMs: Number(map.get("leaseMs")),
        maxDeliveries: Number(map.get("maxDeliveries")),
      },
      map.get("nonce") ?? "",
      runId,
    ];
  }

  /**
   * Attaches again after a reconnect. A server that restarted (a new run
   * id) may have lost the queue: it is created again with its options (and
   * a new nonce, so its batch ids never match those this handle still holds
   * from before: `taskDone()` for them marks nothing). The same server
   * without the queue means it was destroyed: the next script reports it.
   */
  async #reattach(stop: () => Promise<Stopped>): Promise<void> {
    const epoch = this.link.epoch;
    const runId = await this.link.runId(stop);
    const attached = await Remote.#attach(
      this.link,
      this.name,
      this.stored,
      runId !== this.#runId,
      stop,
    );
    this.#runId = runId;
    if (attached !== undefined) this.#nonce = attached[1];
    this.#attached = epoch;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#isClosed;
  }

  /** @throws {ClosedError} if this handle is closed */
  checkOpen(what: string): void {
    if (this.#isClosed) {
      throw new ClosedError(`Cannot ${what}: the queue handle is closed`);
    }
  }

  /** Lets `close()` wait for `work` (a request or a give-back). */
  #track(work: Promise<unknown>): void {
    const done = work.then(() => {}, () => {});
    this.#busy.add(done);
    done.then(() => this.#busy.delete(done));
  }

  /**
   * Runs a script of this queue; attaches again after a reconnect, and
   * reports a queue that is gone as destroyed.
   */
  async #run(
    script: string,
    keys: string[],
    args: Arg[],
    stop: () => Promise<Stopped>,
    what: string,
  ): Promise<unknown> {
    for (;;) {
      let epoch = this.#attached;
      try {
        if (this.#attached !== this.link.epoch) await this.#reattach(stop);
        epoch = this.#attached;
        return await this.link.script(script, keys, args, stop);
      } catch (error) {
        if (error instanceof Stopped) throw error;
        if (String((error as Error)?.message).startsWith("NOQUEUE")) {
          if (epoch === this.link.epoch) {
            throw new ClosedError(
              `Cannot ${what}: queue ${
                JSON.stringify(this.name)
              } no longer exists on the server (destroyed by a handle)`,
            );
          }
          continue;
        }
        if (isReply(error)) throw error;
        // The connection went while attaching again: wait for it.
        await this.link.ready(stop);
      }
    }
  }

  /** The stop of work that only `close()` ends. */
  #untilClose = (): Promise<Stopped> => this.#closeStop;

  /** A promise of what ends a call: its deadline, its signal or `close()`. */
  #stopOf(
    deadline: number,
    signal: AbortSignal | undefined,
  ): { promise: Promise<Stopped>; dispose(): void } {
    let resolve!: (s: Stopped) => void;
    const promise = new Promise<Stopped>((r) => resolve = r);
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (deadline !== Infinity) {
      timer = setTimeout(
        () => resolve(new Stopped("deadline")),
        Math.max(0, deadline - performance.now()),
      );
    }
    const onAbort = () => resolve(new Stopped("abort"));
    const onClose = () => resolve(new Stopped("close"));
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#onClose.add(onClose);
    if (signal?.aborted) onAbort();
    if (this.#isClosed) onClose();
    return {
      promise,
      dispose: () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#onClose.delete(onClose);
      },
    };
  }

  /**
   * Attempts until one succeeds, sleeping between attempts until woken (or
   * it is time to look again), within `until`.
   *
   * @param undo gives back what an attempt took for a call that had ended
   *   (gets); `null` for puts, whose late success stands
   * @returns the result, or `undefined` when the deadline passed first
   * @throws the signal's reason on abort, `ClosedError` on `close()`
   */
  async #wait<R>(
    until: Until,
    kind: "g" | "p" | "j",
    what: string,
    attempt: Attempt<R>,
    undo: ((r: R) => Promise<unknown>) | null,
  ): Promise<R | undefined> {
    this.checkOpen(what);
    until.signal?.throwIfAborted();
    const blocking = until.deadline !== -Infinity;
    const stop = this.#stopOf(
      blocking ? until.deadline : performance.now() + NONBLOCKING_MS,
      until.signal,
    );
    const stopped = () => stop.promise;
    const [member, slot]: [string, WaitSlot | null] = blocking
      ? this.link.openWait()
      : ["", null];
    let registered = false;
    let settled = false;
    try {
      for (;;) {
        if (slot !== null) slot.woken = false;
        // close() waits for requests in flight (and what they lead to).
        const pending = attempt(member, stopped);
        this.#track(pending);
        const r = await this.#settle(pending, stop.promise, undo);
        if (typeof r !== "number") {
          settled = true;
          // Closed while the reply was on its way: give it back.
          if (this.#isClosed && undo !== null) {
            this.#track(undo(r));
            throw closedError(what);
          }
          return r;
        }
        if (slot === null) return undefined;
        registered = true;
        if (!slot.woken) await this.#sleep(slot, r, stop.promise);
      }
    } catch (error) {
      if (!(error instanceof Stopped)) throw error;
      if (error.why === "deadline") return undefined;
      if (error.why === "abort") throw until.signal!.reason;
      throw closedError(what);
    } finally {
      stop.dispose();
      if (slot !== null) {
        this.link.closeWait(member);
        if (registered && !settled) this.#cancel(kind, member);
      }
    }
  }

  /**
   * Awaits an attempt; if the call ends while it is in flight, waits a
   * moment for its reply: a late result stands for a deadline or a put, and
   * is given back otherwise. A reply later than that is given back when it
   * comes (`close()` waits for it).
   */
  async #settle<R>(
    attempt: Promise<R | number>,
    stop: Promise<Stopped>,
    undo: ((r: R) => Promise<unknown>) | null,
  ): Promise<R | number> {
    const first = await Promise.race([attempt, stop]);
    if (!(first instanceof Stopped)) return first;
    const grace = delay(GRACE_MS);
    const late = await Promise.race([attempt.catch(() => -1), grace.promise]);
    grace.cancel();
    if (late === undefined) {
      this.#track(attempt.then((r) => {
        if (typeof r !== "number" && undo !== null) return undo(r);
      }));
      throw first;
    }
    if (typeof late === "number") throw first;
    if (undo === null || first.why === "deadline") return late;
    this.#track(undo(late));
    throw first;
  }

  /** Sleeps until woken, until it is worth looking again, or until stopped. */
  async #sleep(
    slot: WaitSlot,
    retryIn: number,
    stop: Promise<Stopped>,
  ): Promise<void> {
    const ms = retryIn >= 0
      ? Math.min(retryIn + 1, REGISTRATION_MS / 2)
      : REGISTRATION_MS / 2;
    const timer = delay(ms);
    const woken = new Promise<void>((resolve) => slot.wake = resolve);
    try {
      const r = await Promise.race([woken, timer.promise, stop]);
      if (r instanceof Stopped) throw r;
    } finally {
      slot.wake = null;
      timer.cancel();
    }
  }

  /** Ends a registration (passing on a wake already spent on it). */
  #cancel(kind: "g" | "p" | "j", member: string): void {
    const wkey = kind === "g"
      ? this.keys.getters
      : kind === "p"
      ? this.keys.putters
      : this.keys.joiners;
    this.#track(this.link.command([
      "EVAL",
      lua.CANCEL,
      "3",
      this.keys.meta,
      this.keys.ready,
      wkey,
      WAKE_CHANNEL,
      member,
      kind,
      String(this.stored.maxsize),
    ]));
  }

  /** Notes that a put has had its reply. */
  #settledSeq(seq: number): void {
    if (seq !== this.#settledUpTo + 1) {
      this.#settledAbove.add(seq);
      return;
    }
    this.#settledUpTo = seq;
    while (this.#settledAbove.delete(this.#settledUpTo + 1)) {
      this.#settledUpTo++;
    }
  }

  /**
   * Puts payloads, waiting for room with a bound. A request whose reply
   * comes after the call ended (past the grace) has its items taken out
   * again if no consumer got them yet.
   *
   * @returns how many were put (fewer if the deadline passed first)
   */
  async put(payloads: readonly Uint8Array[], until: Until): Promise<number> {
    let done = 0;
    let ended = false;
    const k = this.keys;
    try {
      const all = await this.#wait<true>(
        until,
        "p",
        "put",
        async (member, stop) => {
          const seq = ++this.#seq;
          const sent = done === 0 ? payloads : payloads.slice(done);
          try {
            const n = await this.#run(
              lua.PUT,
              [k.meta, k.ready, k.getters, k.putters, k.puts(this.handle)],
              [
                WAKE_CHANNEL,
                member,
                String(REGISTRATION_MS),
                String(this.stored.maxsize),
                String(seq),
                String(this.#settledUpTo),
                ...sent,
              ],
              stop,
              "put",
            ) as number;
            step("redis:put-replied");
            if (ended) {
              if (n > 0) this.#track(this.#unput(sent.slice(0, n)));
              return -1;
            }
            done += n;
            return done === payloads.length ? true : -1;
          } finally {
            this.#settledSeq(seq);
          }
        },
        null,
      );
      return all === undefined ? done : payloads.length;
    } finally {
      ended = true;
    }
  }

  /** Takes the items of a put whose call had ended out of the queue again. */
  #unput(payloads: Uint8Array[]): Promise<unknown> {
    const k = this.keys;
    return this.link.script(lua.UNPUT, [k.meta, k.ready, k.putters], [
      WAKE_CHANNEL,
      String(this.stored.maxsize),
      ...payloads,
    ], NEVER);
  }

  /**
   * Gets up to `maxItems` payloads (and, joinable, their batches), waiting
   * for one.
   *
   * @returns what was got, or `undefined` when the deadline passed
   */
  get(
    maxItems: number,
    maxBytes: number,
    until: Until,
  ): Promise<Got | undefined> {
    const bytes = maxBytes === Infinity ? "-1" : String(maxBytes);
    const k = this.keys;
    // The arguments GET and JGET share.
    const shared = (member: string): Arg[] => [
      WAKE_CHANNEL,
      member,
      String(REGISTRATION_MS),
      String(this.stored.maxsize),
      String(maxItems),
      bytes,
    ];
    if (this.stored.kind === "queue") {
      return this.#wait(until, "g", "get", async (member, stop) => {
        const r = await this.#run(
          lua.GET,
          [k.meta, k.ready, k.getters, k.putters],
          shared(member),
          stop,
          "get",
        );
        if (typeof r !== "number") step("redis:get-replied");
        return typeof r === "number"
          ? r
          : { payloads: (r as Uint8Array[]).map(plain), groups: [] };
      }, (r) => this.unget(r.payloads));
    }
    return this.#wait(until, "g", "get", async (member, stop) => {
      const r = await this.#run(
        lua.JGET,
        [
          k.meta,
          k.ready,
          k.getters,
          k.putters,
          k.leases,
          k.ids,
          k.dead,
          k.joiners,
          k.info,
        ],
        [
          ...shared(member),
          this.handle,
          String(this.stored.leaseMs),
          String(this.stored.maxDeliveries),
          k.batch,
        ],
        stop,
        "get",
      );
      if (typeof r === "number") return r;
      step("redis:get-replied");
      const [head, ...items] = r as Uint8Array[];
      const groups = new TextDecoder().decode(head).split(",").map((g) => {
        const [batch, count] = g.split(":");
        return [batch, Number(count)] as [string, number];
      });
      return { payloads: items.map(plain), groups };
    }, (r) => this.#release(r.groups.map(([batch]) => batch), true));
  }

  /**
   * Plain queue: puts got payloads back at the head (a get whose caller had
   * gone, or items got and not handed out at `close()`).
   */
  unget(payloads: Uint8Array[]): Promise<unknown> {
    if (payloads.length === 0) return Promise.resolve();
    const k = this.keys;
    return this.link.script(lua.UNGET, [k.meta, k.ready, k.getters], [
      WAKE_CHANNEL,
      ...payloads,
    ], NEVER);
  }

  /**
   * Gives leased batches back for another delivery at once; `undelivered`:
   * their caller never had them, so the delivery does not count.
   */
  #release(batches: string[], undelivered: boolean): Promise<unknown> {
    if (batches.length === 0) return Promise.resolve();
    const k = this.keys;
    return this.link.script(
      lua.RELEASE,
      [k.meta, k.info, k.leases, k.getters],
      [WAKE_CHANNEL, this.handle, undelivered ? "1" : "0", ...batches],
      NEVER,
    );
  }

  /** Joinable: notes batches this handle now holds (and keeps their leases). */
  hold(groups: readonly [string, number][]): void {
    for (const [batch, left] of groups) this.#held.push({ batch, left });
    if (this.#renewTimer === undefined && this.#held.length > 0) {
      const every = Math.max(10, Math.floor(this.stored.leaseMs / 3));
      const timer = setInterval(() => this.#renew(), every);
      Deno.unrefTimer(timer as unknown as number);
      this.#renewTimer = timer;
    }
  }

  /** The batches held, each once ("" left out). */
  #heldBatches(): string[] {
    const batches = new Set<string>();
    for (const { batch } of this.#held) if (batch !== "") batches.add(batch);
    return [...batches];
  }

  /** Extends the leases of the held batches. */
  #renew(): void {
    if (this.#held.length === 0) return;
    const k = this.keys;
    this.link.command([
      "EVAL",
      lua.RENEW,
      "3",
      k.meta,
      k.info,
      k.leases,
      this.handle,
      String(this.stored.leaseMs),
      ...this.#heldBatches(),
    ]).catch(() => {});
  }

  /**
   * Joinable: marks the oldest held item done. Calls in the same tick are
   * sent together.
   *
   * @throws {RangeError} if this handle holds nothing
   */
  taskDone(): Promise<void> {
    this.checkOpen("mark a task done");
    const head = this.#held[0];
    if (head === undefined) {
      throw new RangeError(
        "Cannot mark a task done: this handle holds no item it got and has not marked done",
      );
    }
    if (--head.left === 0) this.#held.shift();
    let pending = this.#doneBatch;
    if (pending === null) {
      const counts = new Map<string, number>();
      const promise = Promise.resolve().then(() => {
        this.#doneBatch = null;
        const args: Arg[] = [WAKE_CHANNEL, this.handle, this.keys.batch];
        for (const [batch, n] of counts) {
          if (batch !== "") args.push(batch, String(n));
        }
        const k = this.keys;
        const request = this.#run(
          lua.DONE,
          [k.meta, k.ready, k.leases, k.joiners, k.info],
          args,
          this.#untilClose,
          "mark a task done",
        );
        this.#track(request);
        return Promise.race([request, this.#closeStop]);
      }).then((r) => {
        if (r instanceof Stopped) throw r;
      }).then(() => {}, (error) => {
        throw error instanceof Stopped
          ? closedError("mark a task done")
          : error;
      });
      pending = this.#doneBatch = { counts, promise };
    }
    pending.counts.set(head.batch, (pending.counts.get(head.batch) ?? 0) + 1);
    return pending.promise;
  }

  /**
   * Waits until every item put has been marked done.
   *
   * @returns false if the deadline passed first
   */
  async join(until: Until): Promise<boolean> {
    const k = this.keys;
    const r = await this.#wait<true>(
      until,
      "j",
      "join",
      async (member, stop) => {
        const all = await this.#run(
          lua.JOIN,
          [k.meta, k.ready, k.leases, k.joiners],
          [member, String(REGISTRATION_MS)],
          stop,
          "join",
        );
        return all === 1 ? true : -1;
      },
      null,
    );
    return r === true;
  }

  /** The number of items ready to get. */
  async size(): Promise<number> {
    this.checkOpen("read the size");
    const request = this.#run(
      lua.SIZE,
      [this.keys.meta, this.keys.ready],
      [],
      this.#untilClose,
      "read the size",
    );
    this.#track(request);
    const r = await Promise.race([request, this.#closeStop]);
    if (r instanceof Stopped) throw closedError("read the size");
    return r as number;
  }

  /** Moves undecodable items to the dead-letter stream. */
  async bury(
    bad: readonly { batch: string; index: number; payload: Uint8Array }[],
    reason: string,
  ): Promise<void> {
    const k = this.keys;
    const token = `\u0000mpq-bury-${crypto.randomUUID()}`;
    const args: Arg[] = [WAKE_CHANNEL, reason, k.batch, token, this.handle];
    // Last first, so that each index is still right when it is used.
    for (const { batch, index, payload } of [...bad].reverse()) {
      args.push(batch, String(index), payload);
      const held = this.#held.find((h) => h.batch === batch && batch !== "");
      if (held !== undefined && --held.left === 0) {
        this.#held.splice(this.#held.indexOf(held), 1);
      }
    }
    await this.link.script(
      lua.BURY,
      [k.meta, k.dead, k.ready, k.joiners, k.info, k.leases],
      args,
      this.#untilClose,
    ).catch(() => {});
  }

  /**
   * Closes the handle: ends its calls, lets the requests in flight finish
   * (giving back what they took), sends its pending done marks, gives back
   * `unhanded` (plain) and the batches it holds (joinable), and drops its
   * link. A server that is away gets `CLOSE_MS`.
   */
  close(unhanded: Uint8Array[] = []): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    this.#beginClose();
    this.#closed = (async () => {
      const timer = delay(CLOSE_MS);
      const finish = (async () => {
        // The calls see the close (their registrations are cancelled), the
        // requests in flight end, then the give-backs they started.
        await new Promise((resolve) => setTimeout(resolve, 0));
        while (this.#busy.size > 0) await Promise.all([...this.#busy]);
        await this.#doneBatch?.promise.catch(() => {});
        const batches = this.#heldBatches();
        this.#held = [];
        await Promise.allSettled([
          this.unget(unhanded),
          this.#release(batches, false),
        ]);
      })();
      await Promise.race([finish, timer.promise]);
      timer.cancel();
      this.#fireCloseStop(new Stopped("close"));
      await this.link.release();
    })();
    return this.#closed;
  }

  /** Marks the handle closed and ends its calls. */
  #beginClose(): void {
    this.#isClosed = true;
    clearInterval(this.#renewTimer);
    for (const stop of [...this.#onClose]) stop();
  }

  /**
   * Deletes every key of the queue (after waking every waiter, which then
   * finds it gone), then closes this handle.
   *
   * @throws {Deno.errors.ConnectionRefused} if the server stays away
   */
  destroy(): Promise<void> {
    this.checkOpen("destroy the queue");
    this.#beginClose();
    this.#held = [];
    const destroyed = this.#destroy().finally(() =>
      this.#fireCloseStop(new Stopped("close"))
    );
    this.#closed = destroyed.then(
      () => this.link.release(),
      async (error) => {
        await this.link.release();
        throw error;
      },
    );
    return this.#closed;
  }

  /** The key deletion of `destroy()`. */
  async #destroy(): Promise<void> {
    const k = this.keys;
    const timer = delay(DESTROY_MS);
    try {
      await this.link.script(
        lua.DESTROY,
        [k.meta, k.getters, k.putters, k.joiners],
        [WAKE_CHANNEL],
        () => timer.promise.then(() => new Stopped("deadline")),
      ).catch((error) => {
        throw error instanceof Stopped
          ? new Deno.errors.ConnectionRefused(
            `Cannot destroy queue ${
              JSON.stringify(this.name)
            }: the server was not reachable for ${DESTROY_MS} ms`,
          )
          : error;
      });
      let cursor = "0";
      do {
        const [next, found] = await this.link.command([
          "SCAN",
          cursor,
          "MATCH",
          k.pattern,
          "COUNT",
          "1000",
        ]) as [Uint8Array, Uint8Array[]];
        cursor = new TextDecoder().decode(next);
        if (found.length > 0) await this.link.command(["UNLINK", ...found]);
      } while (cursor !== "0");
    } finally {
      timer.cancel();
    }
  }
}
