// Consumers killed with SIGKILL while reading 1 MiB items (issue 6, item 5).
// MPQ_CRASH_RUNS runs (default 5), one kill each.

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { bytes, Queue, SimpleQueue, spawn } from "../mod.ts";
import { countTornWarnings, withTimeout, workerUrl } from "./_util.ts";
import { checkItem } from "./workers/rel_items.ts";
import { READING, RLOCK } from "../queues/native/_layout.ts";

const RUNS = Number(Deno.env.get("MPQ_CRASH_RUNS") ?? 5);
const MARK = Symbol.for("@mp/queues.queue");
// Int32 slots of the shared page (queues/_channel.ts).

const PRODUCERS = 2;
const SIZE = 1 << 20;
const COUNT = 16; // 1 MiB items per producer
// Two ways to read: one 1 MiB item per get(), the victim mostly inside a
// frame; or batches of up to BATCH small items per getMany(), each read
// taking many frames at once (the survivor must find the next frame start
// after the victim's last read, wherever it ended).
const BATCH = 64;
const CASES = [
  { size: SIZE, count: COUNT, batch: 1, what: "1 MiB items with get()" },
  { size: 40, count: 3000, batch: BATCH, what: "40-byte items with getMany()" },
];
const SENTINEL = Uint8Array.of(0xee);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (
  const [kind, { size, count, batch, what }] of [
    ["SimpleQueue", CASES[0]],
    ["Queue", CASES[0]],
    ["Queue", CASES[1]],
  ] as const
) {
  Deno.test(
    `a consumer killed while reading ${what} loses at most what it held; the survivor gets every other item once, in order (${kind}, ${RUNS} runs)`,
    async () => {
      const totals = {
        runs: 0,
        kills: 0,
        midFrame: 0,
        lostFrames: 0,
        lostWithVictim: 0,
        lostFromSurvivors: 0,
        items: 0,
      };
      for (let run = 0; run < RUNS; run++) {
        const simple = kind === "SimpleQueue";
        const q = simple
          ? new SimpleQueue<Uint8Array>({ serializer: bytes })
          : new Queue<Uint8Array>({
            maxsize: batch === 1 ? 4 : 1024,
            serializer: bytes,
          });
        const report = new SimpleQueue<([number, number] | string)[]>();
        const procs = [];
        try {
          const victim = spawn(workerUrl("rel_consumer.ts"), {
            args: [q, report, batch],
          });
          procs.push(victim);
          const producers = Array.from(
            { length: PRODUCERS },
            (_, id) =>
              spawn(workerUrl("rel_producer.ts"), {
                args: [q, id, count, size],
              }),
          );
          procs.push(...producers);
          // Let the victim take a few items, then kill it at a random moment.
          const victimGot: [number, number][] = [];
          const take = (list: ([number, number] | string)[]) => {
            for (const r of list) {
              ok(Array.isArray(r), `the victim got a bad item: ${r}`);
              victimGot.push(r);
            }
          };
          const wait = 1 + Math.floor(Math.random() * 6);
          for (let reports = 0; reports < wait; reports++) {
            take(
              await withTimeout(
                report.get(),
                60_000,
                `victim report (${kind})`,
              ),
            );
          }
          await sleep(Math.random() * 4);
          victim.kill("SIGKILL");
          strictEqual((await victim.status).signal, "SIGKILL");
          totals.kills++;
          // Did it die inside a frame? (Nobody else reads yet.)
          // deno-lint-ignore no-explicit-any
          const page = new Int32Array((q as any)[MARK].channel.shared.buffer);
          // Killed holding the read lock: inside a frame (READING), or having
          // just read a header it had not recorded yet. Either way the frame
          // it was taking is the one it may lose.
          const heldLock = Atomics.load(page, RLOCK) === victim.pid;
          const midFrame = heldLock && Atomics.load(page, READING) === 1;
          while (!report.empty()) {
            take(
              await withTimeout(report.get(), 10_000, "a last victim report"),
            );
          }
          // Now this process is the surviving consumer.
          const got: [number, number][] = [];
          const reading = (async () => {
            for (;;) {
              const item = await q.get();
              if (item.length === 1 && item[0] === SENTINEL[0]) return;
              const r = checkItem(item);
              ok(Array.isArray(r), `the survivor got garbage (${kind}): ${r}`);
              strictEqual(item.length, size);
              got.push(r);
            }
          })();
          // (A failed read fails the run at once: the producers would block.)
          const statuses = await withTimeout(
            Promise.race([
              Promise.all(producers.map((p) => p.status)),
              reading.then(() => {
                throw new Error("the survivor saw the sentinel too early");
              }),
            ]),
            120_000,
            `the producers (${kind})`,
          );
          for (const s of statuses) strictEqual(s.code, 0);
          await q.put(SENTINEL);
          await withTimeout(reading, 60_000, `the survivor's reads (${kind})`);

          // Exactly once, in per-producer order; at most the victim's item lost.
          const seen = new Set<string>();
          for (const [id, seq] of [...victimGot, ...got]) {
            const key = `${id}/${seq}`;
            ok(!seen.has(key), `item ${key} arrived twice (${kind})`);
            seen.add(key);
          }
          for (let id = 0; id < PRODUCERS; id++) {
            const mine = got.filter(([p]) => p === id).map(([, s]) => s);
            deepStrictEqual(
              mine,
              [...mine].sort((a, b) => a - b),
              `producer ${id}'s items out of order (${kind})`,
            );
          }
          const missing: [number, number][] = [];
          for (let id = 0; id < PRODUCERS; id++) {
            for (let seq = 0; seq < count; seq++) {
              if (!seen.has(`${id}/${seq}`)) missing.push([id, seq]);
            }
          }
          const lost = q.stats().lostFrames;
          // An item is the victim's if it lies between what the victim reported
          // and what the survivor got of that producer (the victim read in pipe
          // order, the survivor only after it).
          let withVictim = 0;
          for (const [id, seq] of missing) {
            const before = victimGot.every(([p, s]) => p !== id || s < seq);
            const after = got.every(([p, s]) => p !== id || s > seq);
            if (before && after) withVictim++;
          }
          // At most what it was taking: what it had read ahead is in the
          // queue's shared read buffer, not lost with it.
          const most = batch;
          ok(
            withVictim <= most,
            `more than ${most} items lost with the victim (${kind}): ${withVictim}`,
          );
          totals.lostWithVictim += withVictim;
          totals.lostFromSurvivors += missing.length - withVictim;
          strictEqual(
            missing.length - withVictim,
            0,
            `items lost (${kind}): ${JSON.stringify(missing)}; victim ${
              JSON.stringify(victimGot)
            }`,
          );
          if (midFrame) {
            // The frame it was reading is skipped by the survivor, and
            // counted with the frames it had taken in the same hold.
            ok(
              lost >= 1 && lost <= most,
              `lostFrames after a mid-frame kill (${kind}): ${lost}`,
            );
            strictEqual(missing.length, lost);
            totals.midFrame++;
          } else if (heldLock) {
            ok(
              lost <= most,
              `lostFrames after a kill holding the lock (${kind}): ${lost}`,
            );
            strictEqual(missing.length, lost);
          } else {
            strictEqual(
              lost,
              0,
              `lostFrames without a mid-frame kill (${kind})`,
            );
          }
          if (q instanceof Queue) {
            // The killed consumer's item must not keep its slot.
            strictEqual(
              q.qsize(),
              0,
              `qsize() of the drained Queue (lost ${lost}, missing ${missing.length}, held the lock: ${heldLock}, mid-frame: ${midFrame})`,
            );
          }
          totals.lostFrames += lost;
          totals.items += got.length + victimGot.length;
          totals.runs++;
        } finally {
          q.close();
          report.close();
          for (const p of procs) {
            try {
              p.kill("SIGKILL");
            } catch {
              // exited already
            }
            await p.status;
          }
        }
      }
      strictEqual(totals.runs, RUNS);
      strictEqual(totals.lostFromSurvivors, 0);
      console.log(
        `consumer kills (${kind}, ${what}): ${JSON.stringify(totals)}`,
      );
    },
  );
}

// Producers killed mid-frame (extends crash_test.ts's producer test with the
// torn-frame count and its warning; kept here so as not to touch that file).
for (const kind of ["SimpleQueue", "Queue"] as const) {
  Deno.test(`a producer killed while writing 1 MiB items: its torn frame is counted and warned about once; a surviving producer loses nothing (${kind}, ${RUNS} runs)`, async () => {
    const totals = { runs: 0, kills: 0, tornFrames: 0, warnings: 0, lost: 0 };
    const tornWarnings = countTornWarnings();
    try {
      for (let run = 0; run < RUNS; run++) {
        const q = kind === "SimpleQueue"
          ? new SimpleQueue<Uint8Array>({ serializer: bytes })
          : new Queue<Uint8Array>({ maxsize: 4, serializer: bytes });
        const procs = [];
        const warned = tornWarnings.count();
        try {
          const victim = spawn(workerUrl("rel_producer.ts"), {
            args: [q, 0, 1000, SIZE],
          });
          procs.push(victim);
          const got: [number, number][] = [];
          const take = async () => {
            const item = await withTimeout(
              q.get(),
              60_000,
              `an item (${kind})`,
            );
            if (item.length === 1 && item[0] === SENTINEL[0]) return false;
            const r = checkItem(item);
            ok(Array.isArray(r), `garbage arrived (${kind}): ${r}`);
            got.push(r);
            return true;
          };
          for (let k = 1 + Math.floor(Math.random() * 3); k > 0; k--) {
            await take();
          }
          await sleep(Math.random() * 4);
          victim.kill("SIGKILL");
          strictEqual((await victim.status).signal, "SIGKILL");
          totals.kills++;
          // Take what it wrote whole (and let a torn frame be found).
          for (; q instanceof Queue;) {
            const item = await withTimeout(
              q.get({ timeout: 1000 }).catch((e) => e),
              30_000,
              `draining (${kind})`,
            );
            if (item instanceof Error) {
              strictEqual(item.name, "Empty", String(item));
              break;
            }
            const r = checkItem(item);
            ok(Array.isArray(r), `garbage arrived (${kind}): ${r}`);
            got.push(r);
          }
          if (q instanceof Queue) {
            // Its buffered items died with it: their slots must not.
            strictEqual(q.qsize(), 0, `qsize() of the drained Queue`);
            ok(!q.full(), "the drained Queue is full: no producer can put");
          }
          const survivor = spawn(workerUrl("rel_producer.ts"), {
            args: [q, 1, COUNT, SIZE],
          });
          procs.push(survivor);
          const reading = (async () => {
            while (await take());
          })();
          const status = await withTimeout(
            Promise.race([
              survivor.status,
              reading.then(() => {
                throw new Error("the sentinel came too early");
              }),
            ]),
            120_000,
            `the survivor (${kind})`,
          );
          strictEqual(status.code, 0);
          await q.put(SENTINEL);
          await withTimeout(reading, 60_000, `the reads (${kind})`);
          const of = (id: number) =>
            got.filter(([p]) => p === id).map(([, s]) => s);
          totals.lost += COUNT - new Set(of(1)).size;
          // The victim's whole items arrive in order from 0, the survivor's all.
          deepStrictEqual(
            of(0),
            of(0).map((_, i) => i),
            `victim items (${kind})`,
          );
          deepStrictEqual(
            of(1),
            Array.from({ length: COUNT }, (_, i) => i),
            `survivor items (${kind})`,
          );
          const torn = q.stats().tornFrames;
          ok(torn <= 1, `${torn} torn frames from one kill (${kind})`);
          strictEqual(
            tornWarnings.count() - warned,
            torn,
            `one warning per torn frame (${kind})`,
          );
          strictEqual(q.stats().lostFrames, 0);
          totals.tornFrames += torn;
          totals.warnings += tornWarnings.count() - warned;
          totals.runs++;
        } finally {
          q.close();
          for (const p of procs) {
            try {
              p.kill("SIGKILL");
            } catch {
              // exited already
            }
            await p.status;
          }
        }
      }
    } finally {
      tornWarnings.restore();
    }
    strictEqual(totals.runs, RUNS);
    console.log(`producer kills (${kind}): ${JSON.stringify(totals)}`);
  });
}
