// examples/pool.ts on Redis: the same pool, but the workers attach to the
// queues with only a URL and a name, so they could run on other machines.
// With no URL given, a throwaway redis-server is started (and stopped).
//
//   deno task example:redis [redis://host:6379]
//   (deno run --allow-net --allow-env=REDIS_DEBUG_MAINTENANCE --allow-run
//    --allow-read examples/redis_pool.ts)
import { RedisQueue } from "../redis/mod.ts";
import type { Job, Result } from "./pool.ts";

/** Starts a redis-server on a free loopback port, without persistence. */
async function throwawayServer(): Promise<
  { url: string; stop(): Promise<void> }
> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const child = new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let tries = 0;; tries++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (tries > 500) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill();
      await child.status;
    },
  };
}

const server = Deno.args[0] === undefined ? await throwawayServer() : null;
const url = Deno.args[0] ?? server!.url;
try {
  const run = crypto.randomUUID().slice(0, 8); // queue names of this run
  const jobs = await RedisQueue.connect<Job | null>(url, `pool-jobs-${run}`);
  const results = await RedisQueue.connect<Result>(url, `pool-results-${run}`);
  // Each worker gets only the URL and the two names.
  const workers = ["w1", "w2", "w3"].map((name) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env=REDIS_DEBUG_MAINTENANCE",
        new URL("./redis_pool_worker.ts", import.meta.url).href,
        name,
        url,
        jobs.name,
        results.name,
      ],
      stdin: "null",
    }).spawn()
  );

  const inputs = [837799, 77031, 6171, 871, 97, 27, 9, 7, 6, 3, 2, 1];
  await jobs.putMany(inputs.map((n, index) => ({ index, n })));
  await jobs.putMany(workers.map(() => null)); // one stop value each

  const ordered = new Array<Result>(inputs.length);
  for (let got = 0; got < inputs.length; got++) {
    const r = await results.get({ timeout: 30_000 });
    ordered[r.index] = r;
  }
  for (const w of workers) {
    const { code } = await w.status;
    if (code !== 0) throw new Error(`a worker exited with code ${code}`);
  }
  for (const [i, r] of ordered.entries()) {
    console.log(`collatz(${inputs[i]}) = ${r.steps} steps (${r.worker})`);
  }
  console.log(
    `${ordered.length} results, in input order, from 3 workers over ${
      server ? "a throwaway" : "the given"
    } Redis`,
  );
  await jobs.destroy();
  await results.destroy();
} finally {
  await server?.stop();
}
