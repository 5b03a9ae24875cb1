// Soak (issue 6, item 6): MPQ_SOAK_N (default 20,000; the stress run uses
// 2,000,000) mixed-size items, 0 B to 256 KiB, through a Queue (maxsize 64)
// shared by 4 producer and 4 consumer processes. Every item is checked (its
// size and every byte) and must arrive exactly once, each producer's items in
// order in every consumer.

import { ok, strictEqual } from "node:assert/strict";
import { bytes, Queue, SimpleQueue, spawn } from "../mod.ts";
import { withTimeout, workerUrl } from "./_util.ts";
import { SOAK_STOP, soakSize } from "./workers/rel_items.ts";
import type { SoakResult } from "./workers/rel_soak_consumer.ts";

const N = Number(Deno.env.get("MPQ_SOAK_N") ?? 20_000);
const PRODUCERS = 4;
const CONSUMERS = 4;
const PER_PRODUCER = Math.ceil(N / PRODUCERS);
/** Generous: about 1 ms per item, at least 5 minutes. */
const BOUND_MS = Math.max(300_000, N);

Deno.test(`soak: ${PRODUCERS * PER_PRODUCER} items of 0 B to 256 KiB through ${PRODUCERS} producers and ${CONSUMERS} consumers, each checked and got exactly once`, async () => {
  const q = new Queue<Uint8Array>({ maxsize: 64, serializer: bytes });
  const results = new SimpleQueue<SoakResult>();
  const procs = [];
  const start = performance.now();
  try {
    const consumers = Array.from(
      { length: CONSUMERS },
      (_, i) =>
        spawn(workerUrl("rel_soak_consumer.ts"), {
          args: [q, results, PRODUCERS, i % 2 === 1],
        }),
    );
    procs.push(...consumers);
    const producers = Array.from(
      { length: PRODUCERS },
      (_, id) =>
        spawn(workerUrl("rel_soak_producer.ts"), {
          args: [q, id, PER_PRODUCER, id % 2 === 1],
        }),
    );
    procs.push(...producers);
    for (
      const s of await withTimeout(
        Promise.all(producers.map((p) => p.status)),
        BOUND_MS,
        "the producers",
      )
    ) strictEqual(s.code, 0);
    for (let i = 0; i < CONSUMERS; i++) await q.put(SOAK_STOP);
    const got: SoakResult[] = [];
    for (let i = 0; i < CONSUMERS; i++) {
      got.push(
        await withTimeout(results.get(), BOUND_MS, "a consumer's result"),
      );
    }
    for (
      const s of await withTimeout(
        Promise.all(consumers.map((p) => p.status)),
        60_000,
        "the consumers",
      )
    ) strictEqual(s.code, 0);
    const seconds = (performance.now() - start) / 1000;

    // Every item checked by its consumer, and got exactly once.
    let zeros = 0, expectZeros = 0, items = 0, totalBytes = 0, expectBytes = 0;
    for (const r of got) {
      strictEqual(r.bad, 0, `a consumer got bad items: ${r.errors.join("; ")}`);
      zeros += r.zeros;
      totalBytes += r.bytes;
      items += r.zeros;
    }
    for (let id = 0; id < PRODUCERS; id++) {
      const seen = new Uint8Array(PER_PRODUCER);
      for (const r of got) {
        for (const seq of r.seqs[id]) {
          ok(seq < PER_PRODUCER, `producer ${id}: seq ${seq} out of range`);
          strictEqual(seen[seq], 0, `producer ${id}: item ${seq} got twice`);
          seen[seq] = 1;
          items++;
        }
      }
      for (let seq = 0; seq < PER_PRODUCER; seq++) {
        const size = soakSize(id, seq);
        expectBytes += size;
        if (size === 0) expectZeros++;
        else strictEqual(seen[seq], 1, `producer ${id}: item ${seq} lost`);
      }
    }
    strictEqual(zeros, expectZeros, "the number of 0-byte items");
    strictEqual(items, PRODUCERS * PER_PRODUCER);
    strictEqual(totalBytes, expectBytes);
    deepStatsZero(q);
    console.log(
      `soak: ${items} items (${zeros} empty), ${
        (totalBytes / 2 ** 20).toFixed(0)
      } MiB in ${seconds.toFixed(1)} s; per consumer ${
        got.map((r) => r.seqs.reduce((n, s) => n + s.length, r.zeros)).join(
          "/",
        )
      }`,
    );
  } finally {
    q.close();
    results.close();
    for (const p of procs) {
      try {
        p.kill("SIGKILL");
      } catch {
        // exited already
      }
      await p.status;
    }
  }
});

function deepStatsZero(q: Queue<Uint8Array>): void {
  const s = q.stats();
  strictEqual(s.tornFrames + s.lostFrames, 0, JSON.stringify(s));
  strictEqual(q.qsize(), 0);
}
