import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { bytes, SimpleQueue, spawn } from "../mod.ts";
import { shmNames } from "./_sys.ts";
import { withTimeout, workerUrl } from "./_util.ts";

const RUNS = Number(Deno.env.get("MPQ_CRASH_RUNS") ?? 5);

Deno.test(`a producer killed while writing 1 MiB items neither wedges nor corrupts the queue (${RUNS} runs)`, async () => {
  for (let run = 0; run < RUNS; run++) {
    const q = new SimpleQueue<Uint8Array>({ serializer: bytes });
    const victim = spawn(workerUrl("crash_producer.ts"), { args: [q] });
    // Let it write a few items, then kill it at a random moment.
    for (let k = 0; k < 2; k++) {
      const item = await withTimeout(q.get(), 30_000, "victim item");
      strictEqual(item.length, 1 << 20);
      ok(item.every((b) => b === item[0]), "a 1 MiB item arrived corrupted");
    }
    await new Promise((r) => setTimeout(r, Math.random() * 20));
    victim.kill("SIGKILL");
    await victim.status;
    const survivor = spawn(workerUrl("tagged_producer.ts"), {
      args: [q, 7, 100],
    });
    let next = 0;
    while (next < 100) {
      const item = await withTimeout(q.get(), 30_000, `survivor item ${next}`);
      if (item.length === 3 && item[0] === 255) {
        strictEqual(item[1], 7);
        strictEqual(
          item[2],
          next,
          "the survivor's items arrived out of order or one was lost",
        );
        next++;
      } else {
        strictEqual(item.length, 1 << 20, "garbage arrived");
        ok(item.every((b) => b === item[0]), "a 1 MiB item arrived corrupted");
      }
    }
    strictEqual((await survivor.status).code, 0);
    q.close();
  }
});

Deno.test("workers blocked in get() exit within about a second when the queue's creator is killed, and /dev/shm is unchanged", async () => {
  const shmBefore = shmNames();
  const report = new SimpleQueue<number>();
  const middle = spawn(workerUrl("orphan_parent.ts"), {
    args: [report],
    permissions: ["--allow-run"],
  });
  const grandchild = await withTimeout(report.get(), 30_000, "grandchild pid");
  middle.kill("SIGKILL");
  await middle.status;
  const killedAt = performance.now();
  // The grandchild is not our child: poll /proc until it is gone.
  await withTimeout(
    (async () => {
      while (true) {
        try {
          const stat = Deno.readTextFileSync(`/proc/${grandchild}/stat`);
          if (stat.split(") ")[1]?.startsWith("Z")) return;
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })(),
    10_000,
    "the orphaned worker's exit",
  );
  const took = performance.now() - killedAt;
  ok(
    took < 5_000,
    `the orphaned worker lived ${took} ms after its queue's creator died`,
  );
  // The killed creator left nothing behind: a queue has no names, only
  // fds and shared memory that die with the last process holding them.
  deepStrictEqual(shmNames(), shmBefore);
  report.close();
});
