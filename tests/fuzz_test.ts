// Fuzzing of the msgpack decoder and of the frame parser (issue 6, item 4).
//
// MPQ_FUZZ_N (default 100,000) random and mutated inputs in total, split
// between the decoder (80 %), the frame parser on a bare channel whose write
// end is closed after the input (19 %), and whole queues read through
// getNowait/get/getMany while a (simulated) dead writer holds the write lock
// (1 %). Every input must end in a clear error or a correct value: the
// outcomes are compared with a reference parse, counted and printed.
// MPQ_FUZZ_SEED makes a run repeatable (the seed is printed).

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { bytes, Empty, msgpack, Queue } from "../mod.ts";
import {
  closeFd,
  createPipe,
  setNonBlocking,
  setPipeSize,
  writeSome,
} from "../ffi/fd.ts";
import { SharedMemory } from "../ffi/shm.ts";
import { Channel } from "../queues/native/_channel.ts";
import { RLOCK, SHARED_BYTES, WLOCK } from "../queues/native/_layout.ts";
import type { FrameDecoder } from "../queues/_transport.ts";
import { countTornWarnings, type Rng, rng, withTimeout } from "./_util.ts";

const N = Number(Deno.env.get("MPQ_FUZZ_N") ?? 100_000);
const SEED = Number(Deno.env.get("MPQ_FUZZ_SEED") ?? (Date.now() % 0x7fffffff));
const DECODER_N = Math.round(N * 0.80);
const QUEUE_N = Math.max(20, Math.round(N * 0.01));
const CHANNEL_N = Math.max(0, N - DECODER_N - QUEUE_N);

/** The frame cap of every fuzzed channel (so no claim allocates more). */
const CAP = 64 * 1024;
/** Above pid_max: never a live process. */
const DEAD_PID = 2 ** 22 + 1234;
/** Hands each payload out as bytes (a copy of a shared view). */
const asBytes: FrameDecoder = (payload, owned) =>
  owned ? payload : payload.slice();
const MARK = Symbol.for("@mp/queues.queue");

// ------------------------------------------------------------------ random

// ----------------------------------------------------- values of the table

const TYPED = [
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];
const ERRORS = [
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  127,
  128,
  255,
  256,
  -32,
  -33,
  65535,
  65536,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  0.5,
  1.1,
  NaN,
  Infinity,
  -Infinity,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
];

function randomString(r: Rng): string {
  const n = r.pick([0, 1, 5, 31, 32, 47, 48, 49, 200]);
  let s = "";
  for (let i = 0; i < n; i++) {
    const k = r.int(10);
    s += k < 6
      ? String.fromCharCode(r.range(32, 126))
      : k < 8
      ? String.fromCharCode(r.range(0x80, 0x7ff))
      : k < 9
      ? String.fromCodePoint(r.range(0x10000, 0x10ffff))
      : String.fromCharCode(r.range(0xd800, 0xdfff)); // maybe a lone surrogate
  }
  return s;
}

/** A random value of the API's type table (no holes: they decode as undefined). */
function randomValue(r: Rng, depth = 0): unknown {
  const leaf = depth >= 3 || r.chance(depth === 0 ? 0.3 : 0.6);
  if (leaf) {
    switch (r.int(14)) {
      case 0:
        return null;
      case 1:
        return undefined;
      case 2:
        return r.chance(0.5);
      case 3:
        return r.pick(NUMBERS);
      case 4:
        return (r.next() - 0.5) * 10 ** r.int(20);
      case 5:
        return r.range(-(2 ** 31), 2 ** 31);
      case 6:
      case 7:
        return randomString(r);
      case 8:
        return r.pick([0n, 1n, -1n, 2n ** 64n, -(2n ** 70n) - 5n]) +
          BigInt(r.int(1000));
      case 9:
        return r.bytes(r.pick([0, 1, 7, 300]));
      case 10: {
        const T = r.pick(TYPED);
        const n = r.int(5);
        const buf = r.bytes(n * T.BYTES_PER_ELEMENT).buffer;
        return new T(buf as ArrayBuffer);
      }
      case 11:
        return r.chance(0.5) ? r.bytes(r.int(9)).buffer : new DataView(
          r.bytes(r.int(9)).buffer as ArrayBuffer,
        );
      case 12:
        return r.chance(0.8) ? new Date(r.range(-1e12, 4e12)) : new Date(NaN);
      default:
        return new RegExp(r.pick(["a+b", "^x$", "[0-9]{2,}", ""]), "gi");
    }
  }
  switch (r.int(5)) {
    case 0: {
      const n = depth === 0 ? r.pick([0, 1, 3, 15, 16, 17]) : r.int(4);
      return Array.from({ length: n }, () => randomValue(r, depth + 1));
    }
    case 1: {
      const o: Record<string, unknown> = {};
      const n = depth === 0 ? r.pick([0, 1, 3, 15, 16, 17]) : r.int(4);
      for (let i = 0; i < n; i++) {
        o[r.chance(0.8) ? `k${r.int(50)}` : randomString(r)] = randomValue(
          r,
          depth + 1,
        );
      }
      return o;
    }
    case 2: {
      const m = new Map<unknown, unknown>();
      for (let i = r.int(4); i > 0; i--) {
        m.set(randomValue(r, depth + 1), randomValue(r, depth + 1));
      }
      return m;
    }
    case 3: {
      const s = new Set<unknown>();
      for (let i = r.int(4); i > 0; i--) s.add(randomValue(r, depth + 1));
      return s;
    }
    default: {
      if (r.chance(0.2)) {
        return new AggregateError(
          [randomValue(r, depth + 1)],
          randomString(r),
        );
      }
      // (a renamed error arrives as Error with that name, not as its class)
      const E = r.chance(0.3) ? Error : r.pick(ERRORS);
      const e = new E(randomString(r), { cause: randomValue(r, depth + 1) });
      if (E === Error && r.chance(0.5)) {
        Object.defineProperty(e, "name", {
          value: "CustomError",
          writable: true,
          enumerable: false,
          configurable: true,
        });
      }
      return e;
    }
  }
}

// ------------------------------------------------------------ mutations

const INTERESTING_BYTES = [
  0x00,
  0x7f,
  0x80,
  0x8f,
  0x9f,
  0xbf,
  0xc0,
  0xc1,
  0xc4,
  0xc6,
  0xc7,
  0xc9,
  0xd4,
  0xd8,
  0xdb,
  0xdd,
  0xdf,
  0xff,
];

function be(value: number, size: 1 | 2 | 4): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = size - 1; i >= 0; i--) {
    b[i] = value & 0xff;
    value = Math.floor(value / 256);
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One random mutation of `b` (a fresh array). */
function mutate(r: Rng, b: Uint8Array, donor: () => Uint8Array): Uint8Array {
  const out = b.slice();
  const pos = () => r.int(Math.max(1, out.length));
  switch (r.int(9)) {
    case 0: { // bit flips
      if (out.length === 0) return r.bytes(1);
      for (let k = r.range(1, 4); k > 0; k--) out[pos()] ^= 1 << r.int(8);
      return out;
    }
    case 1: { // an interesting byte
      if (out.length === 0) return Uint8Array.of(r.pick(INTERESTING_BYTES));
      out[pos()] = r.pick(INTERESTING_BYTES);
      return out;
    }
    case 2: // truncation
      return out.subarray(0, r.int(Math.max(1, out.length)));
    case 3: { // splice in random bytes
      const at = r.int(out.length + 1);
      return concat(
        out.subarray(0, at),
        r.bytes(r.range(1, 8)),
        out.subarray(at),
      );
    }
    case 4: { // splice in (part of) another valid encoding
      const d = donor();
      const at = r.int(out.length + 1);
      const from = r.int(d.length + 1);
      return concat(
        out.subarray(0, at),
        d.subarray(from, from + r.range(1, 64)),
        out.subarray(at),
      );
    }
    case 5: { // delete or duplicate a range
      const a = r.int(out.length + 1);
      const z = Math.min(out.length, a + r.range(1, 16));
      return r.chance(0.5)
        ? concat(out.subarray(0, a), out.subarray(z))
        : concat(out.subarray(0, z), out.subarray(a));
    }
    case 6: { // a length field beyond the buffer (or 0, or huge)
      if (out.length === 0) return out;
      const size = r.pick([1, 2, 4] as const);
      const at = pos();
      const left = out.length - at;
      const value = r.pick([
        0,
        1,
        left,
        left + 1,
        left + r.int(1000),
        0xff,
        0xffff,
        0x7fffffff,
        0x80000000,
        0xffffffff,
      ]);
      const field = be(value, size);
      out.set(field.subarray(0, Math.min(size, out.length - at)), at);
      return out;
    }
    case 7: // trailing bytes
      return concat(out, r.chance(0.5) ? donor() : r.bytes(r.range(1, 4)));
    default: { // several of the above
      let x: Uint8Array = out;
      for (let k = r.range(2, 4); k > 0; k--) x = mutate(r, x, donor);
      return x;
    }
  }
}

/** Hand-made ext values: bad types, bad payloads, bad lengths. */
function craftedExt(r: Rng): Uint8Array {
  const type = r.chance(0.5) ? r.range(-128, 127) : r.range(-2, 22);
  const payload = r.chance(0.5)
    ? r.bytes(r.pick([0, 1, 2, 3, 4, 7, 8, 9, 12, 16, 17]))
    : msgpack.encode(randomValue(r, 2));
  const t = type & 0xff;
  const n = payload.length;
  const lie = r.chance(0.2) ? r.pick([1, -1, 100, 0x7fffffff]) : 0;
  const len = Math.max(0, n + lie);
  const fix = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 }[n];
  let header: Uint8Array;
  if (fix !== undefined && lie === 0 && r.chance(0.6)) {
    header = Uint8Array.of(fix, t);
  } else {switch (r.int(3)) {
      case 0:
        header = Uint8Array.of(0xc7, len & 0xff, t);
        break;
      case 1:
        header = concat(
          Uint8Array.of(0xc8),
          be(len & 0xffff, 2),
          Uint8Array.of(t),
        );
        break;
      default:
        header = concat(
          Uint8Array.of(0xc9),
          be(len >>> 0, 4),
          Uint8Array.of(t),
        );
    }}
  return concat(header, payload);
}

/** Hand-made container headers whose counts or lengths lie. */
function craftedLengths(r: Rng): Uint8Array {
  const big = r.pick([0xffff, 0x10000, 0x7fffffff, 0xffffffff, r.int(100)]);
  const body = r.bytes(r.int(16));
  switch (r.int(7)) {
    case 0:
      return concat(Uint8Array.of(0xdd), be(big, 4), body); // array32
    case 1:
      return concat(Uint8Array.of(0xdf), be(big, 4), body); // map32
    case 2:
      return concat(Uint8Array.of(0xdb), be(big, 4), body); // str32
    case 3:
      return concat(Uint8Array.of(0xc6), be(big, 4), body); // bin32
    case 4:
      return concat(
        Uint8Array.of(0xc9),
        be(big, 4),
        Uint8Array.of(r.int(256)),
        body,
      );
    case 5: { // deep nesting
      const depth = r.pick([999, 1000, 1001, 3000]);
      const open = r.pick([0x91, 0x81]);
      const b = new Uint8Array(depth * (open === 0x81 ? 2 : 1) + 1);
      let at = 0;
      for (let i = 0; i < depth; i++) {
        if (open === 0x81) b[at++] = 0xa0; // key ""
        b[at++] = open === 0x81 ? 0x81 : 0x91;
      }
      // the innermost map needs a key; the innermost array an element
      if (open === 0x81) b[at - 1] = 0xc0;
      else b[at++] = 0xc0;
      return b.subarray(0, at);
    }
    default: { // nested Set exts
      let inner: Uint8Array = Uint8Array.of(0xc0);
      for (let i = r.pick([10, 1001]); i > 0; i--) {
        inner = concat(
          Uint8Array.of(0xc9),
          be(inner.length, 4),
          Uint8Array.of(17),
          inner,
        );
      }
      return inner;
    }
  }
}

// -------------------------------------------------------------- outcomes

type Counts = Record<string, number>;

function bump(counts: Counts, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/** Classifies a decoder failure; throws (fails the test) on an unclear one. */
function decodeError(e: unknown, input: Uint8Array): string {
  const show = () => `input ${hex(input)}: ${String(e)}`;
  ok(e instanceof Error, `a non-Error was thrown: ${show()}`);
  ok(
    e instanceof RangeError || e instanceof TypeError,
    `not a RangeError or TypeError: ${show()}`,
  );
  ok(
    e.message.startsWith("Cannot decode msgpack"),
    `an unclear decoder error: ${show()}`,
  );
  return e instanceof RangeError ? "RangeError" : "TypeError";
}

function hex(b: Uint8Array): string {
  const s = Array.from(
    b.subarray(0, 48),
    (x) => x.toString(16).padStart(2, "0"),
  )
    .join("");
  return b.length > 48 ? `${s}… (${b.length} bytes)` : s;
}

/** Decodes; a decoded value must survive a second round trip unchanged. */
function checkDecode(input: Uint8Array, counts: Counts): void {
  let value: unknown;
  try {
    value = msgpack.decode(input);
  } catch (e) {
    bump(counts, decodeError(e, input));
    return;
  }
  let again: unknown;
  try {
    again = msgpack.decode(msgpack.encode(value));
  } catch (e) {
    throw new Error(`decoded ${hex(input)} but its value does not round-trip`, {
      cause: e,
    });
  }
  deepStrictEqual(
    again,
    value,
    `the value of ${hex(input)} changed on a round trip`,
  );
  bump(counts, "value");
}

// ------------------------------------------------------------------ tests

Deno.test(`msgpack.decode: ${DECODER_N} random and mutated inputs end in a value or a clear error (seed ${SEED})`, () => {
  const r = rng(SEED);
  const pool: Uint8Array[] = [];
  const donor = () => pool[r.int(pool.length)];
  for (let i = 0; i < 200; i++) pool.push(msgpack.encode(randomValue(r)));
  const counts: Counts = {};
  const kinds: Counts = {};
  const rss = Deno.memoryUsage().rss;
  for (let i = 0; i < DECODER_N; i++) {
    const k = r.int(100);
    let input: Uint8Array;
    if (k < 10) {
      // A valid encoding: must decode to exactly the value.
      const value = randomValue(r);
      const enc = msgpack.encode(value);
      if (r.chance(0.1)) pool[r.int(pool.length)] = enc;
      deepStrictEqual(msgpack.decode(enc), value);
      bump(kinds, "valid");
      bump(counts, "value");
      continue;
    } else if (k < 55) {
      input = mutate(r, donor(), donor);
      bump(kinds, "mutated");
    } else if (k < 70) {
      input = craftedExt(r);
      if (r.chance(0.3)) input = mutate(r, input, donor);
      bump(kinds, "ext");
    } else if (k < 80) {
      input = r.bytes(r.int(64));
      bump(kinds, "random");
    } else if (k < 90) {
      const d = donor();
      input = d.subarray(0, r.int(Math.max(1, d.length)));
      bump(kinds, "truncated");
    } else if (k < 95) {
      input = concat(donor(), r.chance(0.5) ? donor() : r.bytes(1));
      bump(kinds, "trailing");
    } else {
      input = craftedLengths(r);
      bump(kinds, "lengths");
    }
    checkDecode(input, counts);
  }
  const grew = Deno.memoryUsage().rss - rss;
  let total = 0;
  for (const v of Object.values(counts)) total += v;
  strictEqual(total, DECODER_N, "every input has exactly one outcome");
  ok(counts.value > 0 && counts.RangeError > 0 && counts.TypeError > 0);
  ok(grew < 1024 * 1024 * 1024, `RSS grew by ${grew} bytes`);
  console.log(
    `decoder (seed ${SEED}): ${JSON.stringify(counts)} from ${
      JSON.stringify(kinds)
    }`,
  );
});

// ------------------------------------------------------------ frame streams

/** A frame header: 4-byte length, or -1 and an 8-byte length. */
function header(length: number, long: boolean): Uint8Array {
  if (!long) return be(length >>> 0, 4);
  const h = new Uint8Array(12).fill(0xff);
  const hi = Math.floor(length / 2 ** 32);
  h.set(be(hi >>> 0, 4), 4);
  h.set(be(length >>> 0, 4), 8);
  return h;
}

interface Reference {
  frames: Uint8Array[];
  /** How the stream ends after the last whole frame. */
  end: "clean" | "partial" | "range";
}

/** What a correct parser makes of `stream` (cap `cap`). */
function referenceParse(stream: Uint8Array, cap: number): Reference {
  const frames: Uint8Array[] = [];
  const dv = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  let pos = 0;
  for (;;) {
    const left = stream.length - pos;
    if (left === 0) return { frames, end: "clean" };
    if (left < 4) return { frames, end: "partial" };
    let length = dv.getInt32(pos);
    let hsize = 4;
    if (length === -1) {
      if (left < 12) return { frames, end: "partial" };
      const hi = dv.getUint32(pos + 4);
      if (hi > 0x1fffff) return { frames, end: "range" };
      length = hi * 2 ** 32 + dv.getUint32(pos + 8);
      hsize = 12;
    }
    if (length < 0 || length > cap) return { frames, end: "range" };
    if (left < hsize + length) return { frames, end: "partial" };
    frames.push(stream.slice(pos + hsize, pos + hsize + length));
    pos += hsize + length;
  }
}

/** A random stream of frames, then mutated (mostly in its headers). */
function randomStream(r: Rng, pool: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const headers: number[] = []; // byte offsets of the headers
  let at = 0;
  for (let k = r.range(1, 5); k > 0; k--) {
    const payload = r.chance(0.8)
      ? pool[r.int(pool.length)]
      : r.bytes(r.pick([0, 1, 3, 4, 13, 1000]));
    const h = header(payload.length, r.chance(0.1));
    headers.push(at);
    parts.push(h, payload);
    at += h.length + payload.length;
  }
  const stream = concat(...parts);
  const k = r.int(100);
  if (k < 15) return stream; // intact
  if (k < 65) {
    // A header lies: beyond the buffer, negative, -1 + 8 bytes, above the cap.
    const h = headers[r.int(headers.length)];
    const left = stream.length - h - 4;
    const claim = r.pick([
      "short",
      "beyond",
      "negative",
      "long-small",
      "long-beyond",
      "long-cap",
      "long-2^53",
      "cap",
      "cap+1",
      "max",
    ]);
    let field: Uint8Array;
    switch (claim) {
      case "short":
        field = be(Math.max(0, left - r.range(1, 8)), 4);
        break;
      case "beyond":
        field = be(left + r.range(1, 5000), 4);
        break;
      case "negative":
        field = be((-r.range(2, 2 ** 31)) >>> 0, 4);
        break;
      case "long-small":
        field = header(Math.max(0, left - 8 - r.int(3)), true);
        break;
      case "long-beyond":
        field = header(left + r.range(1, 5000), true);
        break;
      case "long-cap":
        field = header(CAP + r.range(1, 2 ** 40), true);
        break;
      case "long-2^53": {
        field = new Uint8Array(12).fill(0xff);
        field.set(be(r.range(0x200000, 0xffffffff), 4), 4);
        break;
      }
      case "cap":
        field = be(CAP, 4);
        break;
      case "cap+1":
        field = be(CAP + 1, 4);
        break;
      default:
        field = be(0x7fffffff, 4);
    }
    return concat(stream.subarray(0, h), field, stream.subarray(h + 4));
  }
  if (k < 80) return stream.subarray(0, r.int(stream.length)); // truncated
  return mutate(r, stream, () => pool[r.int(pool.length)]);
}

/** Writes all of `bytes` into the non-blocking `fd` (it must have room). */
function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    const n = writeSome(fd, data, off, data.length - off);
    ok(n > 0, "the pipe had no room for the fuzz input");
    off += n;
  }
}

function isFrameRangeError(e: unknown): boolean {
  return e instanceof RangeError && e.message.startsWith("Cannot read frame");
}

Deno.test(`frame parser: ${CHANNEL_N} random and mutated streams end in whole frames and a clear error (seed ${SEED})`, async () => {
  const r = rng(SEED ^ 0x5bd1e995);
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) pool.push(msgpack.encode(randomValue(r)));
  const shm = SharedMemory.create(SHARED_BYTES);
  const page = new Int32Array(shm.buffer, 0, 256);
  const counts: Counts = {};
  let frames = 0;
  try {
    for (let i = 0; i < CHANNEL_N; i++) {
      const stream = randomStream(r, pool);
      const ref = referenceParse(stream, CAP);
      const [rfd, wfd] = createPipe();
      let got: Uint8Array[] = [];
      let error: unknown;
      const sync = r.chance(0.5);
      try {
        setNonBlocking(rfd);
        setNonBlocking(wfd);
        if (stream.length > 60_000) setPipeSize(wfd, 1 << 20);
        writeAll(wfd, stream);
        closeFd(wfd); // the end of the input is the end of the pipe
        page.fill(0);
        const ch = new Channel(rfd, wfd, shm);
        ch.maxFrame = CAP;
        const maxItems = sync ? 1 : r.pick([1, 2, 3, 1024]);
        const maxBytes = r.chance(0.7) ? Infinity : r.int(3000);
        try {
          for (let guard = 0; guard < 1000; guard++) {
            if (sync) {
              const f = ch.readFrameNow(asBytes);
              ok(
                f instanceof Uint8Array,
                "readFrameNow() gave no frame with data or EOF waiting",
              );
              got.push(f);
            } else {
              const fs = await withTimeout(
                ch.readFrames({
                  maxItems,
                  maxBytes,
                  until: { deadline: performance.now() + 5_000 },
                  check: () => {},
                  decode: asBytes,
                }),
                30_000,
                `readFrames on ${hex(stream)}`,
              );
              ok(fs !== null && fs.length > 0, "readFrames gave no frame");
              ok(fs.length <= maxItems);
              ok(fs.every((f) => f instanceof Uint8Array));
              got = got.concat(fs as Uint8Array[]);
            }
          }
          throw new Error("the stream never ended");
        } catch (e) {
          error = e;
        }
      } finally {
        closeFd(rfd);
      }
      strictEqual(page[RLOCK], 0, "the read lock was not released");
      // The frames delivered: every one of the reference's, in order (a
      // batch stops before a bad header, which the next read throws).
      const what = `stream ${hex(stream)} (${ref.end})`;
      strictEqual(got.length, ref.frames.length, `frames of ${what}`);
      for (let k = 0; k < got.length; k++) {
        deepStrictEqual(got[k], ref.frames[k], `frame ${k} of ${what}`);
        checkDecode(got[k], counts);
      }
      frames += got.length;
      ok(error instanceof Error, `${what} ended in ${String(error)}`);
      if (ref.end === "range") {
        ok(isFrameRangeError(error), `${what} ended in ${error}`);
        bump(counts, "end: RangeError");
      } else {
        ok(
          error instanceof Deno.errors.UnexpectedEof,
          `${what} ended in ${error}`,
        );
        const mid = /middle of a frame/.test(error.message);
        strictEqual(mid, ref.end === "partial", `${what}: ${error.message}`);
        bump(
          counts,
          mid ? "end: UnexpectedEof mid-frame" : "end: UnexpectedEof",
        );
      }
    }
  } finally {
    shm.close();
  }
  let ends = 0;
  for (const [k, v] of Object.entries(counts)) {
    if (k.startsWith("end:")) ends += v;
  }
  strictEqual(ends, CHANNEL_N, "every stream has exactly one ending");
  console.log(
    `frames (seed ${SEED}): ${CHANNEL_N} streams, ${frames} whole frames: ${
      JSON.stringify(counts)
    }`,
  );
});

// ------------------------------------------------------------ whole queues

interface QueueCase {
  stream: Uint8Array;
  ref: Reference;
  mode: "getNowait" | "get" | "getMany";
  serializer: "bytes" | "msgpack";
  maxItems: number;
  timeout: number;
}

/**
 * Writes `c.stream` raw into a fresh queue's pipe, as a writer that then died
 * holding the write lock, and reads it back with `c.mode`.
 */
async function runQueueCase(c: QueueCase, counts: Counts): Promise<void> {
  const MAXSIZE = 1000;
  const q = new Queue<unknown>({
    maxsize: MAXSIZE,
    serializer: c.serializer === "bytes" ? bytes : msgpack,
  });
  // deno-lint-ignore no-explicit-any
  const core = (q as any)[MARK];
  const ch: Channel = core.channel;
  // The raw frames were never put: take slots for them, as their writer
  // would have (a slot count never exceeds the bound), and count the frames
  // taken from the pipe by the slots they give back.
  const HELD = MAXSIZE / 2;
  strictEqual(core.channel.counters[0].tryTake(HELD), HELD);
  const consumed = (): number =>
    core.channel.counters[0].value() - (MAXSIZE - HELD);
  const what = `${c.mode}/${c.serializer} of ${hex(c.stream)} (${c.ref.end})`;
  let values = 0;
  try {
    ch.maxFrame = CAP;
    // A dead process holds the write lock.
    new Int32Array(ch.shared.buffer)[WLOCK] = DEAD_PID;
    writeAll(ch.writeFd, c.stream);
    const torn0 = q.stats().tornFrames;
    let idx = 0; // reference frames accounted for
    let end: unknown;
    const start = consumed();
    for (let guard = 0; guard < 1000 && end === undefined; guard++) {
      let got: unknown[];
      try {
        got = c.mode === "getNowait"
          ? [q.getNowait()]
          : c.mode === "get"
          ? [await q.get({ timeout: c.timeout })]
          : await q.getMany({ maxItems: c.maxItems, timeout: 20 });
      } catch (e) {
        if (
          (e instanceof RangeError || e instanceof TypeError) &&
          e.message.startsWith("Cannot decode msgpack")
        ) {
          // The next frame in pipe order decodes badly, alone.
          ok(idx < c.ref.frames.length, what);
          let first: unknown;
          try {
            msgpack.decode(c.ref.frames[idx]);
          } catch (d) {
            first = d;
          }
          ok(first instanceof Error, `${what}: ${e} but frame ${idx} decodes`);
          strictEqual(e.message, first.message, what);
          bump(counts, `decode ${e.name}`);
          idx++;
          continue;
        }
        end = e;
        break;
      }
      ok(got.length > 0, `${what}: no items and no error`);
      ok(idx + got.length <= c.ref.frames.length, `extra items from ${what}`);
      for (const v of got) {
        const frame = c.ref.frames[idx++];
        deepStrictEqual(
          v,
          c.serializer === "bytes" ? frame : msgpack.decode(frame),
          `item ${idx - 1} of ${what}`,
        );
        values++;
      }
      // Taken from the pipe: what was handed out, and maybe a few more
      // waiting behind a bad one.
      ok(consumed() - start >= idx, `${what}: items not taken`);
    }
    // Every frame taken from the pipe was handed out or thrown.
    strictEqual(consumed() - start, idx, `frames taken by ${what}`);
    ok(end instanceof Error, `${what} ended in ${String(end)}`);
    const torn = q.stats().tornFrames - torn0;
    if (c.ref.end === "range") {
      ok(isFrameRangeError(end), `${what} ended in ${end}`);
      strictEqual(idx, c.ref.frames.length, what);
      strictEqual(torn, 0, what);
      bump(counts, "end: RangeError");
    } else {
      ok(end instanceof Empty, `${what} ended in ${end}`);
      strictEqual(idx, c.ref.frames.length, `every frame of ${what}`);
      strictEqual(
        torn,
        c.ref.end === "partial" ? 1 : 0,
        `torn count of ${what}`,
      );
      bump(counts, c.ref.end === "partial" ? "end: torn, Empty" : "end: Empty");
    }
    bump(counts, "items", values);
  } finally {
    q.close();
  }
}

Deno.test(`Queue getNowait/get/getMany: ${QUEUE_N} fuzzed pipes left by a dead writer end in items and a clear error (seed ${SEED})`, async () => {
  const r = rng(SEED ^ 0x27d4eb2f);
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) pool.push(msgpack.encode(randomValue(r)));
  const counts: Counts = {};
  const tornWarnings = countTornWarnings();
  try {
    const cases: QueueCase[] = [];
    for (let i = 0; i < QUEUE_N; i++) {
      const stream = randomStream(r, pool);
      cases.push({
        stream,
        ref: referenceParse(stream, CAP),
        mode: r.pick(["getNowait", "get", "getMany"] as const),
        serializer: r.chance(0.5) ? "bytes" : "msgpack",
        maxItems: r.pick([1, 2, 1024]),
        timeout: r.pick([0, 5, 30]),
      });
    }
    // getNowait waits on this thread: one at a time; the others in batches.
    for (const c of cases.filter((c) => c.mode === "getNowait")) {
      await runQueueCase(c, counts);
    }
    const rest = cases.filter((c) => c.mode !== "getNowait");
    for (let i = 0; i < rest.length; i += 32) {
      await withTimeout(
        Promise.all(rest.slice(i, i + 32).map((c) => runQueueCase(c, counts))),
        60_000,
        "a batch of queue cases",
      );
    }
  } finally {
    tornWarnings.restore();
  }
  let ends = 0;
  for (const [k, v] of Object.entries(counts)) {
    if (k.startsWith("end:")) ends += v;
  }
  strictEqual(ends, QUEUE_N, "every case has exactly one ending");
  strictEqual(
    tornWarnings.count(),
    counts["end: torn, Empty"] ?? 0,
    "one warning per torn frame",
  );
  console.log(
    `queues (seed ${SEED}): ${QUEUE_N} pipes: ${JSON.stringify(counts)}`,
  );
});

/** A fresh bytes queue whose pipe holds `raw`, left by a dead writer. */
function rawQueue(raw: Uint8Array, maxFrame?: number): Queue<Uint8Array> {
  const q = new Queue<Uint8Array>({ maxsize: 10, serializer: bytes });
  // deno-lint-ignore no-explicit-any
  const ch: Channel = (q as any)[MARK].channel;
  if (maxFrame !== undefined) ch.maxFrame = maxFrame;
  // A dead process holds the write lock.
  new Int32Array(ch.shared.buffer)[WLOCK] = DEAD_PID;
  writeAll(ch.writeFd, raw);
  return q;
}

Deno.test("a header claiming more than maxFrame throws RangeError before allocating or reading the payload", async () => {
  {
    const q = rawQueue(new Uint8Array(0));
    // deno-lint-ignore no-explicit-any
    strictEqual((q as any)[MARK].channel.maxFrame, 2 ** 32 - 1);
    q.close();
  }
  const limit = /more than the 1000-byte limit/;
  const cases: [string, Uint8Array, RegExp][] = [
    ["4-byte, cap + 1", header(1001, false), limit],
    ["4-byte, 2^31 - 1", header(0x7fffffff, false), limit],
    ["8-byte, cap + 1", header(1001, true), limit],
    ["8-byte, 2^40", header(2 ** 40, true), limit],
    ["8-byte, 2^53 - 1", header(2 ** 53 - 1, true), limit],
    ["8-byte, above 2^53", concat(header(0, true).fill(0xff, 4, 5)), /2\^53/],
    ["negative", be(-5 >>> 0, 4), /malformed header declares length -5/],
    ["negative 2^31", be(0x80000000, 4), /malformed header/],
  ];
  for (const [what, raw, message] of cases) {
    for (const how of ["getNowait", "get", "getMany"] as const) {
      // Only the header is there: a parser that trusted it would allocate
      // and wait for a payload that never comes (and find it torn).
      const q = rawQueue(raw, 1000);
      const rss = Deno.memoryUsage().rss;
      try {
        let error: unknown;
        try {
          if (how === "getNowait") q.getNowait();
          else if (how === "get") await q.get({ timeout: 2000 });
          else await q.getMany({ timeout: 2000 });
        } catch (e) {
          error = e;
        }
        ok(error instanceof RangeError, `${what} (${how}): ${error}`);
        ok(message.test(error.message), `${what} (${how}): ${error.message}`);
        deepStrictEqual(q.stats(), { tornFrames: 0, lostFrames: 0 });
        ok(Deno.memoryUsage().rss - rss < 256 * 1024 * 1024);
      } finally {
        q.close();
      }
    }
  }
  // The default cap: 4 GiB - 1.
  {
    const q = rawQueue(header(2 ** 32, true));
    try {
      const e = await q.get({ timeout: 2000 }).catch((e) => e);
      ok(e instanceof RangeError, String(e));
      ok(/more than the 4294967295-byte limit/.test(e.message), e.message);
    } finally {
      q.close();
    }
  }
  // Right at the cap, in either header form, the frame arrives whole.
  for (const long of [false, true]) {
    const payload = new Uint8Array(1000).map((_, i) => i % 251);
    const q = rawQueue(concat(header(1000, long), payload), 1000);
    try {
      deepStrictEqual(q.getNowait(), payload);
      deepStrictEqual(q.stats(), { tornFrames: 0, lostFrames: 0 });
    } finally {
      q.close();
    }
  }
});
