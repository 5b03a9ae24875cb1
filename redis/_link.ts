// A process's connection to one Redis server, shared by every queue handle
// of that URL: a command client and a subscriber on the link's own wake
// channel. It runs the queue scripts (loading them when the server lost
// them, resending over a reconnect) and dispatches wakes to waits.

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { createClient, ErrorReply, RESP_TYPES } from "redis";

/** An argument of a script: a string or raw bytes. */
export type Arg = string | Uint8Array;

/** Why a call stopped waiting, besides success. */
export type Stop = "deadline" | "abort" | "close";

/** Thrown inside a call when its deadline, signal or handle's close ends it. */
export class Stopped {
  readonly why: Stop;
  constructor(why: Stop) {
    this.why = why;
  }
}

/** A stop that never comes: the call waits for a reconnect as long as it takes. */
export const NEVER = (): Promise<Stopped> => new Promise(() => {});

/** One pending wait of a call: woken by a PUBLISH of its id. */
export interface WaitSlot {
  /** Set when a wake arrived (cleared by the waiter before each attempt). */
  woken: boolean;
  /** Called on a wake. */
  wake: (() => void) | null;
}

/** How long closing waits for the replies in flight before it cuts them off. */
const CLOSE_WAIT_MS = 500;
/** The longest back-off between reconnect attempts, in ms. */
const MAX_BACKOFF_MS = 1000;
/** The channel prefix of wakes; a link listens on `WAKE_CHANNEL + id`. */
export const WAKE_CHANNEL = "mpq:w:";

type Client = ReturnType<typeof createClient>;

/**
 * The node-redis options of a URL (`unix:///path` for a unix socket).
 * `connected()` tells whether the server was ever reached: a server never
 * reached fails `connect()`, a lost one is retried with back-off.
 */
function clientOptions(
  url: string,
  connected: () => boolean,
  waiting: (ms: number) => void,
): Parameters<typeof createClient>[0] {
  const reconnectStrategy = (retries: number, cause: Error) => {
    if (!connected()) return cause;
    const backoff = Math.min(MAX_BACKOFF_MS, 25 * 2 ** Math.min(retries, 10));
    const ms = backoff + Math.floor(Math.random() * backoff / 4);
    waiting(ms);
    return ms;
  };
  const socket = { reconnectStrategy, connectTimeout: 5000 };
  const unix = /^(?:redis\+)?unix:\/\/(.*)$/.exec(url);
  return unix === null
    ? { url, socket, disableOfflineQueue: true }
    : { socket: { ...socket, path: unix[1] }, disableOfflineQueue: true };
}

/**
 * Checks a queue URL.
 *
 * @throws {TypeError} if it is not a redis:, rediss: or unix: URL
 */
export function checkUrl(url: unknown): string {
  if (
    typeof url !== "string" ||
    !/^(?:rediss?:\/\/|(?:redis\+)?unix:\/\/\/)/.test(url)
  ) {
    throw new TypeError(
      `Cannot connect: the URL must start with redis://, rediss:// or unix:///, received ${
        typeof url === "string" ? JSON.stringify(url) : typeof url
      }`,
    );
  }
  return url;
}

/** Replies that mean "not now" rather than "no". */
const TRANSIENT = /^(?:LOADING|BUSY|TRYAGAIN|MASTERDOWN)\b/;

/** Whether an error is the server's reply (not a lost connection). */
export function isReply(error: unknown): boolean {
  return error instanceof ErrorReply;
}

/** A connection to one server, shared by the handles of its URL. */
export class Link {
  /** The open links of this process, by URL. */
  static readonly #open = new Map<string, Promise<Link>>();

  /** Random: names this link's wake channel and its waits. */
  readonly id: string = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  readonly url: string;
  readonly #client: Client;
  readonly #subscriber: Client;
  /** The SHA1 of each script source. */
  readonly #shas = new Map<string, string>();
  readonly #waits = new Map<string, WaitSlot>();
  /** Called when the command client is ready again after a reconnect. */
  readonly #onReady = new Set<() => void>();
  #nextWait = 0;
  #refs = 0;
  /** How many times the command client became ready. */
  #epoch = 0;
  /**
   * When the last back-off before a reconnect attempt ends: node-redis
   * sleeps it on a timer that closing does not clear.
   */
  #retryEnds = 0;
  /** The server's run id, and the epoch it was read in. */
  #runIdValue = "";
  #runIdEpoch = -1;
  /** Set when the last reference was dropped (the clients are closing). */
  #released = false;

  private constructor(url: string) {
    this.url = url;
    this.#client = createClient(clientOptions(
      url,
      () => this.#epoch > 0,
      (ms) => {
        this.#retryEnds = Math.max(this.#retryEnds, performance.now() + ms);
      },
    ))
      .withTypeMapping({
        [RESP_TYPES.BLOB_STRING]: Buffer,
      }) as unknown as Client;
    this.#subscriber = this.#client.duplicate();
    // Errors are handled per call; without a listener node-redis throws.
    this.#client.on("error", () => {});
    this.#subscriber.on("error", () => {});
    this.#client.on("ready", () => {
      this.#epoch++;
      for (const f of [...this.#onReady]) f();
      this.#kickAll();
    });
    // Wakes sent while the subscriber was away are lost: look again.
    this.#subscriber.on("ready", () => this.#kickAll());
  }

  /**
   * The link of `url`, connected (shared with the other handles of this
   * process).
   */
  static open(url: string): Promise<Link> {
    let link = Link.#open.get(url);
    if (link === undefined) {
      link = Link.#connect(url);
      Link.#open.set(url, link);
      link.catch(() => Link.#open.delete(url));
    }
    return link.then((l) => {
      // Released to 0 (and closing) between the lookup and now: a new one.
      if (l.#refs === 0 && l.#released) return Link.open(url);
      l.#refs++;
      return l;
    });
  }

  /** Connects both clients and subscribes to the wake channel. */
  static async #connect(url: string): Promise<Link> {
    const link = new Link(url);
    try {
      await link.#client.connect();
      await link.#subscriber.connect();
      await link.#subscriber.subscribe(
        WAKE_CHANNEL + link.id,
        (message: string) => link.#wake(message),
      );
    } catch (error) {
      link.#client.destroy();
      link.#subscriber.destroy();
      throw new Deno.errors.ConnectionRefused(
        `Cannot connect to ${url}: ${(error as Error)?.message ?? error}`,
        { cause: error },
      );
    }
    return link;
  }

  /** Drops one reference; the last one closes the connections. */
  async release(): Promise<void> {
    if (this.#refs === 0) return;
    if (--this.#refs > 0) return;
    this.#released = true;
    Link.#open.delete(this.url);
    for (const slot of this.#waits.values()) slot.wake?.();
    await Promise.allSettled([
      this.#close(this.#subscriber),
      this.#close(this.#client),
    ]);
    // Outlive the client's back-off timer, so that nothing is left running.
    const left = this.#retryEnds - performance.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left + 5));
  }

  /** Closes a client, at once if it is not connected. */
  /**
   * Closes a client: gracefully (its replies in flight come in) for up to
   * CLOSE_WAIT_MS, then at once.
   */
  async #close(client: Client): Promise<void> {
    if (client.isReady) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), CLOSE_WAIT_MS);
      });
      try {
        const how = await Promise.race([client.close(), late]);
        if (how !== "late") return;
      } catch {
        // lost meanwhile
      } finally {
        clearTimeout(timer);
      }
    }
    if (client.isOpen) client.destroy();
  }

  /** How many times the connection became ready (changes on a reconnect). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Opens a wait; its member is `<link id>:<wait id>`. */
  openWait(): [string, WaitSlot] {
    const id = (this.#nextWait++).toString(36);
    const slot: WaitSlot = { woken: false, wake: null };
    this.#waits.set(id, slot);
    return [`${this.id}:${id}`, slot];
  }

  /** Forgets a wait (by its member). */
  closeWait(member: string): void {
    this.#waits.delete(member.slice(this.id.length + 1));
  }

  /** Delivers a wake to its wait, if it is still open. */
  #wake(id: string): void {
    const slot = this.#waits.get(id);
    if (slot === undefined) return;
    slot.woken = true;
    slot.wake?.();
  }

  /** Wakes every wait (after a reconnect: wakes may have been lost). */
  #kickAll(): void {
    for (const slot of this.#waits.values()) {
      slot.woken = true;
      slot.wake?.();
    }
  }

  /**
   * Runs a script; over a lost connection, waits for the reconnect and
   * sends it again, until `stop` settles (then throws its `Stopped`).
   */
  async script(
    lua: string,
    keys: readonly string[],
    args: readonly Arg[],
    stop: () => Promise<Stopped>,
  ): Promise<unknown> {
    const command: (string | Buffer)[] = [
      "EVALSHA",
      this.#sha(lua),
      String(keys.length),
      ...keys,
    ];
    for (const arg of args) command.push(toBuffer(arg));
    for (;;) {
      try {
        return await this.#client.sendCommand(command);
      } catch (error) {
        if (isReply(error)) {
          const message = String((error as Error).message);
          if (TRANSIENT.test(message)) {
            // A server loading its data or busy with a script: look again.
            let timer: ReturnType<typeof setTimeout> | undefined;
            const pause = new Promise<void>((r) => timer = setTimeout(r, 10));
            const stopped = await Promise.race([pause, stop()]);
            clearTimeout(timer);
            if (stopped instanceof Stopped) throw stopped;
            continue;
          }
          if (!message.startsWith("NOSCRIPT")) throw error;
          try {
            return await this.#client.sendCommand([
              "EVAL",
              lua,
              ...command.slice(2),
            ]);
          } catch (again) {
            if (isReply(again)) throw again;
          }
        }
      }
      await this.ready(stop);
    }
  }

  /**
   * The server's run id (it changes when the server restarts), read once
   * per connection; over a lost connection, read again after the reconnect,
   * until `stop` settles. "" if the server does not tell (INFO disabled).
   */
  async runId(stop: () => Promise<Stopped>): Promise<string> {
    while (this.#runIdEpoch !== this.#epoch) {
      const epoch = this.#epoch;
      try {
        const info = String(await this.#client.sendCommand(["INFO", "server"]));
        this.#runIdValue = /run_id:(\w+)/.exec(info)?.[1] ?? "";
      } catch (error) {
        if (!isReply(error)) {
          await this.ready(stop);
          continue;
        }
        this.#runIdValue = "";
      }
      this.#runIdEpoch = epoch;
    }
    return this.#runIdValue;
  }

  /**
   * Resolves once the connection is ready again (after a failure that was
   * not a reply).
   *
   * @throws {Stopped} if `stop` settles first
   */
  async ready(stop: () => Promise<Stopped>): Promise<void> {
    const ready = this.#whenReady();
    const stopped = await Promise.race([ready.promise, stop()]);
    ready.cancel();
    if (stopped instanceof Stopped) throw stopped;
  }

  /** Sends one plain command (no retry). */
  command(args: readonly Arg[]): Promise<unknown> {
    return this.#client.sendCommand(args.map(toBuffer));
  }

  /**
   * Resolves when the command client is ready again (after 10 ms if it
   * seems ready: it has yet to notice that its socket is gone).
   */
  #whenReady(): { promise: Promise<void>; cancel(): void } {
    if (this.#client.isReady) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const promise = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 10);
      });
      return { promise, cancel: () => clearTimeout(timer) };
    }
    let done!: () => void;
    const promise = new Promise<void>((resolve) => {
      done = () => {
        this.#onReady.delete(done);
        resolve();
      };
      this.#onReady.add(done);
    });
    return { promise, cancel: () => this.#onReady.delete(done) };
  }

  /** The SHA1 of a script source, hex. */
  #sha(lua: string): string {
    let sha = this.#shas.get(lua);
    if (sha === undefined) {
      sha = createHash("sha1").update(lua).digest("hex");
      this.#shas.set(lua, sha);
    }
    return sha;
  }
}

/** An argument as node-redis takes it (a Buffer over the same bytes). */
function toBuffer(arg: Arg): string | Buffer {
  return typeof arg === "string"
    ? arg
    : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
}
