// Frame headers (queues/_framing.ts): Python's Connection.send_bytes framing.

import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  checkLength,
  DEFAULT_MAX_FRAME,
  headerSize,
  readLong,
  readShort,
  SHORT_MAX,
  writeHeader,
} from "../../queues/_framing.ts";

Deno.test("a length up to 2^31-1 takes a 4-byte big-endian header", () => {
  for (const length of [0, 1, 255, 256, 65_536, SHORT_MAX]) {
    const buf = new Uint8Array(16);
    strictEqual(writeHeader(buf, 3, length), 4);
    strictEqual(headerSize(length), 4);
    strictEqual(readShort(buf, 3), length);
  }
  const buf = new Uint8Array(4);
  writeHeader(buf, 0, 0x01020304);
  deepStrictEqual([...buf], [1, 2, 3, 4]);
});

Deno.test("a longer length takes -1 and an 8-byte big-endian length", () => {
  for (const length of [SHORT_MAX + 1, 2 ** 32, 2 ** 40 + 5, 2 ** 53 - 1]) {
    const buf = new Uint8Array(12);
    strictEqual(writeHeader(buf, 0, length), 12);
    strictEqual(headerSize(length), 12);
    strictEqual(readShort(buf, 0), -1);
    strictEqual(readLong(buf, 4), length);
  }
  const buf = new Uint8Array(12);
  writeHeader(buf, 0, 2 ** 32 + 1);
  deepStrictEqual([...buf], [255, 255, 255, 255, 0, 0, 0, 1, 0, 0, 0, 1]);
});

Deno.test("readLong() reports a length above 2^53-1 as -1", () => {
  const buf = new Uint8Array(8).fill(0xff);
  strictEqual(readLong(buf, 0), -1);
  buf.set([0, 0x20, 0, 0, 0, 0, 0, 0]);
  strictEqual(readLong(buf, 0), -1);
  buf.set([0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  strictEqual(readLong(buf, 0), 2 ** 53 - 1);
});

Deno.test("checkLength() passes a length within the cap and names what is wrong otherwise", () => {
  strictEqual(checkLength(10, 10), 10);
  strictEqual(DEFAULT_MAX_FRAME, 2 ** 32 - 1);
  throws(() => checkLength(-5, 10), /malformed header declares length -5/);
  throws(() => checkLength(11, 10), /declares 11 bytes, more than the 10-byte/);
});
