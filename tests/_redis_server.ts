// A throwaway redis-server (no persistence) on a free loopback port and a
// unix socket in a temp dir, restartable at the same address: the server of
// the Redis tests, and of the Redis benches.

/** The path of `redis-server` on PATH, or "" if there is none. */
export function redisServerPath(): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const path = `${dir}/redis-server`;
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not in this directory
    }
  }
  return "";
}

const SERVER = redisServerPath();

/** A port that was free a moment ago on 127.0.0.1. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * A throwaway redis-server on a free loopback port (and a unix socket),
 * restartable at the same address.
 */
export class RedisServer implements AsyncDisposable {
  readonly #dir: string;
  readonly #port = freePort();
  #child: Deno.ChildProcess | null = null;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** The socket path. */
  get socket(): string {
    return `${this.#dir}/redis.sock`;
  }

  /** The TCP port (on 127.0.0.1). */
  get port(): number {
    return this.#port;
  }

  /** The URL to connect to (TCP: a worker needs only --allow-net). */
  get url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  /**
   * Starts a server.
   *
   * @throws {Error} if redis-server is missing (only reached when required)
   */
  static async start(): Promise<RedisServer> {
    if (SERVER === "") {
      throw new Error(
        "redis-server is not installed: apt-get install -y redis-server",
      );
    }
    const server = new RedisServer(
      await Deno.makeTempDir({ prefix: "mpq-redis-" }),
    );
    await server.restart();
    return server;
  }

  /** Kills the server (SIGKILL: it loses everything) and waits for its exit. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(this.socket).catch(() => {});
  }

  /** Freezes the server (SIGSTOP): it keeps its sockets and answers nothing. */
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  /** Lets a paused server go on (SIGCONT). */
  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** Starts the server again (after `kill()`), empty. */
  async restart(): Promise<void> {
    await this.kill();
    this.#child = new Deno.Command(SERVER, {
      args: [
        "--port",
        String(this.#port),
        "--bind",
        "127.0.0.1",
        "--unixsocket",
        this.socket,
        "--unixsocketperm",
        "700",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.#dir,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: this.#port,
        });
        conn.close();
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`redis-server did not start: ${error}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /** `stop()` (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
