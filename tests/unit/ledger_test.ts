// The ledger of a queue (queues/_ledger.ts) over futex counters and the
// producer table of a native queue.

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { Ledger } from "../../queues/_ledger.ts";
import { FutexCounter } from "../../queues/native/_counter.ts";
import {
  CONSUMERS,
  COUNTERS,
  PRODUCERS,
  SLOTS,
  SLOTS_SLEEPERS,
} from "../../queues/native/_layout.ts";
import { ConsumerTable } from "../../queues/native/_consumers.ts";
import { ProducerTable } from "../../queues/native/_producers.ts";
import { pid } from "../../ffi/process.ts";
import { DEAD_PID, withPage } from "./_page.ts";

/** A joinable ledger with `bound` slots over a fresh page. */
function joinable(
  page: Parameters<Parameters<typeof withPage>[0]>[0],
  bound: number,
) {
  // As a channel builds them: the slots never above the bound.
  const slots = new FutexCounter(page, SLOTS, SLOTS_SLEEPERS, bound);
  const unfinished = new FutexCounter(page, COUNTERS);
  slots.init(bound);
  unfinished.init(0);
  const producers = new ProducerTable(page);
  const ledger = new Ledger({ slots, bound, unfinished, producers });
  return { ledger, slots, unfinished, producers };
}

Deno.test("Ledger: a reserve takes slots, counts the items unfinished and as this process's unwritten", () =>
  withPage((page) => {
    const { ledger, unfinished, producers } = joinable(page, 3);
    strictEqual(ledger.reserve(5), 3, "only as many as are free");
    strictEqual(ledger.size(), 3);
    strictEqual(ledger.full(), true);
    strictEqual(unfinished.value(), 3);
    strictEqual(page.i32[PRODUCERS], pid, "this process's record");
    strictEqual(page.i32[PRODUCERS + 1], 3, "reserved");
    producers.written(2);
    strictEqual(page.i32[PRODUCERS + 2], 2, "written");
    ledger.unreserve(1);
    strictEqual(page.i32[PRODUCERS + 1], 2);
    strictEqual(ledger.size(), 2);
    strictEqual(unfinished.value(), 2);
  }));

Deno.test("Ledger: frames taken free their slots; delivered items are held until done", () =>
  withPage((page) => {
    const { ledger, unfinished, slots } = joinable(page, 2 ** 31 - 1);
    ledger.reserve(2);
    slots.postTagged(2, 100); // a reader took them
    strictEqual(slots.tag(), 100);
    strictEqual(ledger.size(), 0);
    ledger.delivered(2);
    strictEqual(ledger.held, 2);
    strictEqual(ledger.done(), true);
    strictEqual(ledger.held, 1);
    strictEqual(unfinished.value(), 1);
    strictEqual(ledger.done(), true);
    strictEqual(ledger.done(), false, "nothing left unfinished");
    strictEqual(ledger.held, 0);
  }));

Deno.test("Ledger: lost frames free their slots and count as done; undecodable ones count as done", () =>
  withPage((page) => {
    const { ledger, unfinished, slots } = joinable(page, 10);
    ledger.reserve(4);
    ledger.lost(1);
    strictEqual(ledger.size(), 3);
    strictEqual(unfinished.value(), 3);
    slots.post(1); // a reader took it
    ledger.dropped(1); // and could not decode it
    strictEqual(ledger.size(), 2);
    strictEqual(unfinished.value(), 2);
  }));

Deno.test("Ledger.sweep(): a dead producer's unwritten items give back their slots and unfinished counts", () =>
  withPage((page) => {
    const { ledger, unfinished, slots } = joinable(page, 10);
    // A dead process buffered 3 items it never wrote: its slots are taken.
    slots.tryTake(3);
    unfinished.post(3);
    page.i32[PRODUCERS + 4] = DEAD_PID;
    page.i32[PRODUCERS + 5] = 5; // reserved
    page.i32[PRODUCERS + 6] = 2; // written
    strictEqual(ledger.size(), 0, "size() sweeps first");
    strictEqual(unfinished.value(), 0);
    strictEqual(page.i32[PRODUCERS + 4], 0, "the record is free again");
    ledger.sweep();
    strictEqual(slots.value(), 10, "a second sweep gives nothing back");
    slots.post(5);
    strictEqual(slots.value(), 10, "a give-back never passes the bound");
  }));

Deno.test("Ledger of a SimpleQueue counts nothing", () => {
  const ledger = new Ledger({});
  ledger.lost(2);
  ledger.dropped(1);
  ledger.delivered(4);
  strictEqual(ledger.held, 0);
});

Deno.test("Ledger: a dead consumer's held items are logged once as a loss and stop counting as unfinished", () =>
  withPage((page) => {
    const slots = new FutexCounter(page, COUNTERS);
    const unfinished = new FutexCounter(page, COUNTERS + 2);
    slots.init(10);
    unfinished.init(5);
    const parts = {
      slots,
      bound: 10,
      unfinished,
      producers: new ProducerTable(page),
    };
    const aTable = new ConsumerTable(page);
    const a = new Ledger({ ...parts, consumers: aTable });
    const b = new Ledger({ ...parts, consumers: new ConsumerTable(page) });
    // A dead process holds 3 items.
    page.i32[CONSUMERS + 4] = DEAD_PID;
    page.i32[CONSUMERS + 5] = 3;
    a.sweep();
    strictEqual(unfinished.value(), 2);
    strictEqual(page.i32[CONSUMERS + 4], 0, "the entry is free again");
    deepStrictEqual(a.nextLoss(), { pid: DEAD_PID, count: 3 });
    strictEqual(a.nextLoss(), null, "told once");
    b.sweep();
    deepStrictEqual(b.nextLoss(), { pid: DEAD_PID, count: 3 }, "each process");
    strictEqual(b.nextLoss(), null);
    strictEqual(unfinished.value(), 2, "a second sweep takes nothing");
    // This process's own items are recorded as it gets and finishes them.
    // (The reader records frames it takes; the ledger counts them handed out.)
    aTable.add(2);
    a.delivered(2);
    strictEqual(page.i32[CONSUMERS], pid);
    strictEqual(page.i32[CONSUMERS + 1], 2);
    a.done();
    strictEqual(page.i32[CONSUMERS + 1], 1);
  }));
