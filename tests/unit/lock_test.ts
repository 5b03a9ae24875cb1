// The futex lock of a native queue (queues/native/_lock.ts).

import { ok, strictEqual } from "node:assert/strict";
import { pid } from "../../ffi/process.ts";
import { FutexLock } from "../../queues/native/_lock.ts";
import {
  RLOCK,
  RLOCK_SLEEPERS,
  WLOCK,
  WLOCK_SLEEPERS,
} from "../../queues/native/_layout.ts";
import { DEAD_PID, timed, withPage } from "./_page.ts";

Deno.test("FutexLock: taking stores this pid, a second take fails, release frees it", () =>
  withPage((page) => {
    const lock = new FutexLock(page, RLOCK, RLOCK_SLEEPERS);
    strictEqual(lock.holder(), 0);
    strictEqual(lock.tryAcquire(), true);
    strictEqual(page.i32[RLOCK], pid);
    strictEqual(lock.tryAcquire(), false);
    lock.release();
    strictEqual(lock.holder(), 0);
    strictEqual(lock.tryAcquire(), true);
    lock.release();
  }));

Deno.test("FutexLock: a dead holder is taken over once; a live or absent one never", () =>
  withPage((page) => {
    const lock = new FutexLock(page, WLOCK, WLOCK_SLEEPERS);
    strictEqual(lock.takeOverIfDead(), 0, "free");
    strictEqual(lock.holderDead(), false);
    page.i32[WLOCK] = DEAD_PID;
    strictEqual(lock.holderDead(), true);
    strictEqual(lock.takeOverIfDead(), DEAD_PID);
    strictEqual(lock.holder(), pid);
    strictEqual(lock.takeOverIfDead(), 0, "held by this process");
    lock.release();
    page.i32[WLOCK] = 1; // init: always alive
    strictEqual(lock.takeOverIfDead(), 0);
    strictEqual(lock.holderDead(), false);
  }));

Deno.test("FutexLock.wait() holds nothing while the lock is held (callers look again until their deadline), and takes the lock once it is released", () =>
  withPage(async (page) => {
    const lock = new FutexLock(page, RLOCK, RLOCK_SLEEPERS);
    page.i32[RLOCK] = 1; // held by another (live) process
    const t0 = performance.now();
    const until = { deadline: t0 + 30 };
    while (performance.now() < until.deadline) {
      strictEqual(await lock.wait(until), false);
    }
    const ms = performance.now() - t0;
    ok(ms >= 30 && ms < 1000, `${ms} ms`);
    const waiting = lock.wait({ deadline: performance.now() + 10_000 });
    setTimeout(() => {
      Atomics.store(page.i32, RLOCK, 0); // as a release by that process
      lock.release();
    }, 20);
    const w = await timed(waiting);
    strictEqual(w.value, true);
    ok(w.ms < 1000, `${w.ms} ms`);
    strictEqual(lock.holder(), pid);
    lock.release();
  }));

Deno.test("FutexLock.wait() rejects with the signal's reason when aborted", () =>
  withPage(async (page) => {
    const lock = new FutexLock(page, RLOCK, RLOCK_SLEEPERS);
    page.i32[RLOCK] = 1;
    const controller = new AbortController();
    const waiting = lock.wait({
      deadline: Infinity,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error("stop")), 10);
    const t = await timed(waiting);
    strictEqual((t.error as Error).message, "stop");
    ok(t.ms < 1000, `${t.ms} ms`);
    strictEqual(page.i32[RLOCK_SLEEPERS], 0, "no sleeper left counted");
  }));
