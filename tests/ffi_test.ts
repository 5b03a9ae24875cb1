import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
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
import { NamedSemaphore } from "../ffi/semaphore.ts";
import { isAlive, listDir, pid } from "../ffi/process.ts";

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

Deno.test("NamedSemaphore counts, times out, wakes and unlinks", async () => {
  const name = `/mpq.${pid}.fftest.0`;
  const sem = NamedSemaphore.create(name, 1);
  try {
    throws(
      () => NamedSemaphore.create(name, 1),
      (e: Error & { code?: string }) =>
        e instanceof Deno.errors.AlreadyExists && e.code === "EEXIST",
    );
    ok(listDir("/dev/shm").includes(`sem.mpq.${pid}.fftest.0`));
    strictEqual(sem.value(), 1);
    strictEqual(sem.tryWait(), true);
    strictEqual(sem.tryWait(), false);
    const t0 = performance.now();
    strictEqual(await sem.wait(60), false);
    ok(performance.now() - t0 >= 50, "wait() returned before its timeout");
    const other = NamedSemaphore.open(name);
    setTimeout(() => other.post(), 20);
    strictEqual(await sem.wait(5_000), true);
    other.close();
    strictEqual(sem.value(), 0);
  } finally {
    sem.close();
    strictEqual(NamedSemaphore.unlink(name), true);
  }
  strictEqual(NamedSemaphore.unlink(name), false);
  throws(() => NamedSemaphore.open(name), Deno.errors.NotFound);
});

Deno.test("isAlive() tells a live process from a gone one", () => {
  strictEqual(isAlive(pid), true);
  strictEqual(pid, Deno.pid);
  strictEqual(isAlive(2 ** 22 + 12345), false);
});
