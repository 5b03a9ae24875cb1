// The shared-memory layout of a native queue (queues/native/_layout.ts).

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  CARRY,
  checkLayout,
  CONSUMED,
  COUNTERS,
  FIELDS,
  PAGE_BYTES,
  RING,
  RLOCK,
  SHARED_BYTES,
  SharedPage,
  WLOCK,
  WRITTEN,
} from "../../queues/native/_layout.ts";
import { SharedMemory } from "../../ffi/shm.ts";

Deno.test("the layout's fields do not overlap, are aligned and fit the memory", () => {
  checkLayout(FIELDS, SHARED_BYTES);
  const spans = Object.values(FIELDS).map((f) => [f.at, f.at + f.bytes]);
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    ok(spans[i - 1][1] <= spans[i][0], `overlap at byte ${spans[i][0]}`);
  }
});

Deno.test("a queue's shared memory is 1 MiB + 66 KiB: a 2 KiB page, the 1 MiB ring, the 64 KiB read buffer", () => {
  strictEqual(PAGE_BYTES, 2048);
  strictEqual(RING * 4, 1 << 20);
  strictEqual(CARRY, 64 * 1024);
  strictEqual(SHARED_BYTES, (1 << 20) + 66 * 1024);
});

Deno.test("checkLayout() rejects overlapping, misaligned and spilling fields", () => {
  const i32 = (at: number) => ({ at, bytes: 4 });
  throws(() => checkLayout({ b: { at: 2, bytes: 4 } }, 64), /not 4-aligned/);
  throws(
    () => checkLayout({ a: { at: 0, bytes: 8 }, b: i32(4) }, 64),
    /Fields a and b overlap/,
  );
  throws(() => checkLayout({ a: { at: 4, bytes: 8 } }, 64), /not 8-aligned/);
  throws(() => checkLayout({ a: i32(64) }, 64), /ends past the 64-byte/);
  throws(
    () => checkLayout({ a: { at: PAGE_BYTES - 4, bytes: 8 } }, 4096),
    /not 8-aligned/,
  );
  throws(
    () => checkLayout({ a: { at: PAGE_BYTES - 8, bytes: 16 } }, 4096),
    /spills out of the page/,
  );
});

Deno.test("the index constants name the fields' offsets", () => {
  strictEqual(RLOCK * 4, FIELDS.rlock.at);
  strictEqual(WLOCK * 4, FIELDS.wlock.at);
  strictEqual(COUNTERS * 4, FIELDS.counters.at);
  strictEqual(WRITTEN * 8, FIELDS.written.at);
  strictEqual(CONSUMED * 8, FIELDS.consumed.at);
});

Deno.test("SharedPage views a mapping: Int32 and Float64 words, the ring and the read buffer, futex addresses", () => {
  const shm = SharedMemory.create(SHARED_BYTES);
  try {
    const page = new SharedPage(shm.buffer, (o) => shm.address(o));
    page.i32[WLOCK] = 1234;
    page.f64[WRITTEN] = 2 ** 40 + 0.5;
    page.ring[RING - 1] = 7;
    page.carry[CARRY - 1] = 9;
    const bytes = new DataView(shm.buffer);
    strictEqual(bytes.getInt32(FIELDS.wlock.at, true), 1234);
    strictEqual(bytes.getFloat64(FIELDS.written.at, true), 2 ** 40 + 0.5);
    strictEqual(bytes.getUint32(FIELDS.ring.at + (RING - 1) * 4, true), 7);
    strictEqual(bytes.getUint8(SHARED_BYTES - 1), 9);
    deepStrictEqual(
      Deno.UnsafePointer.value(page.address(WLOCK)),
      Deno.UnsafePointer.value(shm.address(FIELDS.wlock.at)),
    );
  } finally {
    shm.close();
  }
});
