// A reader or a writer killed at each named step of its path (MPQ_DIE_AT, see
// queues/native/_steps.ts), deterministically: afterwards qsize() counts
// exactly the items in the queue, exactly maxsize puts fit, and a
// JoinableQueue's join() resolves once the items that arrived are done
// (issue 12, item 1).

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  Empty,
  Full,
  JoinableQueue,
  Queue,
  spawn,
  TasksLostError,
} from "../mod.ts";
import { countWarnings, guardedTest as test, workerUrl } from "./_util.ts";

const READ_STEPS = [
  "read:took",
  "read:released",
  "read:delivered",
  "get:returned",
];
const MAXSIZE = 8;

for (const step of READ_STEPS) {
  for (const Kind of [Queue, JoinableQueue]) {
    test(`a reader killed at ${step} (${Kind.name}): qsize() is exact, exactly maxsize puts fit, nothing is given back twice`, async () => {
      const q = new Kind<number>({ maxsize: MAXSIZE });
      const warnings = countWarnings("died while reading");
      try {
        await q.putMany([0, 1, 2, 3, 4]);
        await q.joinThread();
        const worker = spawn(workerUrl("die_at_get.ts"), {
          args: [q],
          env: { MPQ_DIE_AT: step },
        });
        strictEqual(
          (await worker.status).signal,
          "SIGKILL",
          "died at the step",
        );
        // The two items it took are gone; the other three arrive in order.
        const got: number[] = [];
        for (;;) {
          const item = await q.get({ timeout: 300 }).catch((e) => e);
          if (item instanceof Empty) break;
          got.push(item);
          strictEqual(q.qsize(), 3 - got.length, `qsize() after ${got}`);
          if (q instanceof JoinableQueue) q.taskDone();
        }
        deepStrictEqual(got, [2, 3, 4]);
        strictEqual(q.qsize(), 0, "qsize() of the drained queue");
        if (q instanceof JoinableQueue) {
          if (step === "get:returned") {
            // It had got the two items (the lock was released): it died
            // holding them.
            const e = await q.join({ timeout: 3_000 }).catch((e) => e);
            ok(e instanceof TasksLostError, String(e));
            strictEqual(e.pid, worker.pid);
            strictEqual(e.count, 2);
          }
          await q.join({ timeout: 3_000 });
        }
        for (let i = 0; i < MAXSIZE; i++) q.putNowait(100 + i);
        throws(() => q.putNowait(200), Full, "one put more than maxsize fit");
        strictEqual(q.qsize(), MAXSIZE);
        ok(warnings.count() <= 1);
      } finally {
        warnings.restore();
        q.close();
        await q.joinThread();
      }
    });
  }
}

const WRITE_STEPS = ["write:wrote", "write:marked"];

for (const step of WRITE_STEPS) {
  for (const Kind of [Queue, JoinableQueue]) {
    test(`a writer killed at ${step} (${Kind.name}): its items arrive, qsize() is exact, exactly maxsize puts fit, nothing is given back twice`, async () => {
      const q = new Kind<number>({ maxsize: MAXSIZE });
      try {
        const worker = spawn(workerUrl("die_at_put.ts"), {
          args: [q],
          env: { MPQ_DIE_AT: step },
        });
        strictEqual(
          (await worker.status).signal,
          "SIGKILL",
          "died at the step",
        );
        strictEqual(q.qsize(), 5, "qsize() with its five items in the pipe");
        for (let i = 0; i < 5; i++) {
          strictEqual(await q.get({ timeout: 10_000 }), i);
          strictEqual(q.qsize(), 4 - i, `qsize() after item ${i}`);
          if (q instanceof JoinableQueue) q.taskDone();
        }
        if (q instanceof JoinableQueue) await q.join({ timeout: 3_000 });
        for (let i = 0; i < MAXSIZE; i++) q.putNowait(100 + i);
        throws(() => q.putNowait(200), Full, "one put more than maxsize fit");
        strictEqual(q.qsize(), MAXSIZE);
      } finally {
        q.close();
        await q.joinThread();
      }
    });
  }
}

for (const Kind of [Queue, JoinableQueue]) {
  test(`a writer killed at write:locked, holding the write lock with nothing written (${Kind.name}): its slots come back, its lock is taken over, exactly maxsize puts fit and arrive`, async () => {
    const q = new Kind<number>({ maxsize: MAXSIZE });
    try {
      const worker = spawn(workerUrl("die_at_put.ts"), {
        args: [q],
        env: { MPQ_DIE_AT: "write:locked" },
      });
      strictEqual(
        (await worker.status).signal,
        "SIGKILL",
        "died at the step",
      );
      // None of its five items reached the pipe.
      const e = await q.get({ timeout: 300 }).catch((e) => e);
      ok(e instanceof Empty, String(e));
      strictEqual(q.qsize(), 0, "qsize() with its items dead unwritten");
      for (let i = 0; i < MAXSIZE; i++) q.putNowait(100 + i);
      throws(() => q.putNowait(200), Full, "one put more than maxsize fit");
      strictEqual(q.qsize(), MAXSIZE);
      // They are written: the dead holder's write lock was taken over.
      for (let i = 0; i < MAXSIZE; i++) {
        strictEqual(await q.get({ timeout: 10_000 }), 100 + i);
        if (q instanceof JoinableQueue) q.taskDone();
      }
      if (q instanceof JoinableQueue) await q.join({ timeout: 3_000 });
    } finally {
      q.close();
      await q.joinThread();
    }
  });
}
