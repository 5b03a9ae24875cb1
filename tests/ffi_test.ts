import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { libc, osError, unwrap } from "../ffi/libc.ts";
import {
  closeFd,
  createPipe,
  isOpen,
  POLLIN,
  pollNow,
  readSome,
  setNonBlocking,
  setPipeSize,
  WOULD_BLOCK,
  writeSome,
} from "../ffi/fd.ts";
import { isAlive, pid } from "../ffi/process.ts";
import { futexWait, futexWake } from "../ffi/futex.ts";
import { SharedMemory } from "../ffi/shm.ts";

Deno.test("unwrap() throws Deno's error class with code and errno", () => {
  let caught: unknown;
  try {
    unwrap(libc.close(-1), "close(-1)");
  } catch (e) {
    caught = e;
  }
  ok(caught instanceof Deno.errors.BadResource);
  strictEqual(caught.message, "Bad file descriptor (os error 9): close(-1)");
  strictEqual((caught as unknown as { code: string }).code, "EBADF");
  strictEqual((caught as unknown as { errno: number }).errno, 9);
  const notFound = osError(2, "open '/nope'");
  ok(notFound instanceof Deno.errors.NotFound);
  strictEqual(
    notFound.message,
    "No such file or directory (os error 2): open '/nope'",
  );
  strictEqual(osError(22, "x").code, "EINVAL");
});

Deno.test("createPipe() makes close-on-exec fds that move bytes", () => {
  const [r, w] = createPipe();
  try {
    for (const fd of [r, w]) {
      const flags = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`)
        .match(/flags:\s+([0-7]+)/)![1];
      ok((parseInt(flags, 8) & 0o2000000) !== 0, `fd ${fd} lacks O_CLOEXEC`);
    }
    setNonBlocking(r);
    strictEqual(readSome(r, new Uint8Array(4), 0, 4), WOULD_BLOCK);
    strictEqual(pollNow(r, POLLIN), 0);
    strictEqual(writeSome(w, new Uint8Array([7, 8, 9]), 1, 2), 2);
    ok(pollNow(r, POLLIN) & POLLIN);
    const buf = new Uint8Array(4);
    strictEqual(readSome(r, buf, 1, 3), 2);
    deepStrictEqual([...buf], [0, 8, 9, 0]);
    ok(setPipeSize(w, 1 << 20) >= 1 << 20);
    closeFd(w);
    strictEqual(readSome(r, buf, 0, 4), 0, "EOF after the writer closed");
  } finally {
    closeFd(r);
    closeFd(w);
  }
  ok(!isOpen(r) && !isOpen(w));
});

Deno.test("futexWait() on shared memory sleeps until futexWake() or its timeout", async () => {
  const shm = SharedMemory.create(4096);
  try {
    const word = new Int32Array(shm.buffer, 0, 1);
    const at = shm.address(0);
    // The word holds something else: no sleep at all.
    let t0 = performance.now();
    await futexWait(at, 1, 10_000);
    ok(performance.now() - t0 < 5_000, "futexWait() slept on a changed word");
    t0 = performance.now();
    await futexWait(at, 0, 60);
    ok(performance.now() - t0 >= 50, "futexWait() returned before its timeout");
    strictEqual(futexWake(at, 1), 0, "woke a sleeper that does not exist");
    const sleeping = futexWait(at, 0, 10_000);
    let woken = 0;
    for (let i = 0; i < 500 && woken === 0; i++) {
      await new Promise((r) => setTimeout(r, 10)); // until it sleeps
      woken = futexWake(at, 1);
    }
    strictEqual(woken, 1);
    Atomics.store(word, 0, 1);
    t0 = performance.now();
    await sleeping;
    ok(performance.now() - t0 < 5_000);
  } finally {
    shm.close();
  }
});

Deno.test("isAlive() tells a live process from a gone one", () => {
  strictEqual(isAlive(pid), true);
  strictEqual(pid, Deno.pid);
  strictEqual(isAlive(2 ** 22 + 12345), false);
});
