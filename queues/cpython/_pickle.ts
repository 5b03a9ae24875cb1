/**
 * The pickle codec behind the `pickle` serializer (internal): plain data
 * between JavaScript and CPython's `pickle` / `multiprocessing`.
 *
 * `encodePickle` writes protocol 4 (no frames), which CPython 3.4 and later
 * loads. `decodePickle` reads protocols 0–5 as written by CPython's `pickle`
 * and `multiprocessing.reduction.ForkingPickler`.
 *
 * | JavaScript                     | Python                 | back in JavaScript                   |
 * |--------------------------------|------------------------|--------------------------------------|
 * | `null`, `undefined`            | `None`                 | `null`                               |
 * | boolean                        | `bool`                 | boolean                              |
 * | integral number (not `-0`)     | `int` (exact)          | number if safe, else `bigint`        |
 * | other number (`-0`, `NaN`, …)  | `float`                | number                               |
 * | `bigint`                       | `int`                  | number if safe, else `bigint`        |
 * | string (lone surrogates too)   | `str`                  | string                               |
 * | `Uint8Array` (and subclasses)  | `bytes`                | `Uint8Array`                         |
 * | array (holes are `None`)       | `list`                 | array                                |
 * | —                              | `tuple`                | array                                |
 * | plain object (string keys)     | `dict`                 | plain object if every key is a `str` |
 * | `Map`                          | `dict`                 | `Map` if some key is not a `str`     |
 * | `Set`                          | `set`                  | `Set`                                |
 * | —                              | `frozenset`            | `Set`                                |
 * | —                              | `bytearray`            | `Uint8Array`                         |
 *
 * Arrays in a `Map` key or a `Set` element (and arrays inside those) are
 * written as tuples and sets as frozensets, since a Python list or set is
 * unhashable; plain objects and maps there throw. Shared references are written once per occurrence;
 * circular references throw. A value nested more than {@linkcode MAX_DEPTH}
 * levels deep throws (CPython's own pickler stops at its recursion limit,
 * 1000 by default). Error paths start at `$`: `.key` or `["key"]` for a
 * property, `[i]` for an element, `.keys()[i]` for a map key, `.get(key)`
 * (`.values()[i]` when the key is an object) for a map value,
 * `.values()[i]` for a set element and `{persistent id}` for the id that
 * `persistentId` returned.
 *
 * Decoding keeps identity: an object the pickle references twice (through
 * its memo) arrives as one JavaScript object, and cycles (a list that holds
 * itself) are kept. Python 2 `str` (`STRING` opcodes) decodes as latin-1.
 * Two lone surrogates in a row that form a pair arrive as that pair (one
 * JavaScript string cannot tell them apart). A JavaScript object orders
 * integer-like keys first, so a dict's order is kept only for other keys.
 * Anything else — class instances, other built-in types, out-of-band
 * buffers, extension codes — throws a `TypeError` naming the Python type.
 * Malformed input throws a `RangeError` (truncated, lengths past the end,
 * stack underflow, unset memo entries, bytes after `STOP`) or a `TypeError`
 * (unknown opcodes, invalid text or UTF-8, operands of the wrong type), both
 * starting with "Cannot unpickle".
 *
 * @module
 */

import type { Serializer } from "../serializer.ts";
import {
  article,
  isStackOverflow,
  keyLiteral,
  propertySegment,
} from "../_value_paths.ts";

/** Options of {@linkcode encodePickle}. */
export interface PickleEncodeOptions {
  /**
   * Called for every object value (not primitives) before encoding it; a
   * non-undefined result is written as a persistent id (`BINPERSID` of that
   * value, encoded by the same rules) instead of the value. As in Python, the
   * id itself is not offered to `persistentId` again (the values inside it
   * are).
   */
  persistentId?: (value: object) => unknown;
}

/** Options of {@linkcode decodePickle}. */
export interface PickleDecodeOptions {
  /**
   * Turns a persistent id (`PERSID`/`BINPERSID`) into a value; without it a
   * persistent id is a `TypeError`. A `PERSID` id is a string.
   */
  persistentLoad?: (id: unknown) => unknown;
}

/**
 * Containers nested deeper than this are refused by `encodePickle` (the
 * encoder recurses). Decoding has no depth limit.
 */
export const MAX_DEPTH = 1000;

// Opcodes, named as in CPython's pickletools.
const MARK = 0x28; // (
const STOP = 0x2e; // .
const POP = 0x30; // 0
const POP_MARK = 0x31; // 1
const DUP = 0x32; // 2
const FLOAT = 0x46; // F
const INT = 0x49; // I
const BININT = 0x4a; // J
const BININT1 = 0x4b; // K
const LONG = 0x4c; // L
const BININT2 = 0x4d; // M
const NONE = 0x4e; // N
const PERSID = 0x50; // P
const BINPERSID = 0x51; // Q
const REDUCE = 0x52; // R
const STRING = 0x53; // S
const BINSTRING = 0x54; // T
const SHORT_BINSTRING = 0x55; // U
const UNICODE = 0x56; // V
const BINUNICODE = 0x58; // X
const APPEND = 0x61; // a
const BUILD = 0x62; // b
const GLOBAL = 0x63; // c
const DICT = 0x64; // d
const EMPTY_DICT = 0x7d; // }
const APPENDS = 0x65; // e
const GET = 0x67; // g
const BINGET = 0x68; // h
const INST = 0x69; // i
const LONG_BINGET = 0x6a; // j
const LIST = 0x6c; // l
const EMPTY_LIST = 0x5d; // ]
const OBJ = 0x6f; // o
const PUT = 0x70; // p
const BINPUT = 0x71; // q
const LONG_BINPUT = 0x72; // r
const SETITEM = 0x73; // s
const TUPLE = 0x74; // t
const EMPTY_TUPLE = 0x29; // )
const SETITEMS = 0x75; // u
const BINFLOAT = 0x47; // G
// Protocol 2
const PROTO = 0x80;
const NEWOBJ = 0x81;
const EXT1 = 0x82;
const EXT2 = 0x83;
const EXT4 = 0x84;
const TUPLE1 = 0x85;
const TUPLE2 = 0x86;
const TUPLE3 = 0x87;
const NEWTRUE = 0x88;
const NEWFALSE = 0x89;
const LONG1 = 0x8a;
const LONG4 = 0x8b;
// Protocol 3
const BINBYTES = 0x42; // B
const SHORT_BINBYTES = 0x43; // C
// Protocol 4
const SHORT_BINUNICODE = 0x8c;
const BINUNICODE8 = 0x8d;
const BINBYTES8 = 0x8e;
const EMPTY_SET = 0x8f;
const ADDITEMS = 0x90;
const FROZENSET = 0x91;
const NEWOBJ_EX = 0x92;
const STACK_GLOBAL = 0x93;
const MEMOIZE = 0x94;
const FRAME = 0x95;
// Protocol 5
const BYTEARRAY8 = 0x96;
const NEXT_BUFFER = 0x97;
const READONLY_BUFFER = 0x98;

/** The opcodes of a str with a 1-, 4- and 8-byte length. */
const UNICODE_OPS = [SHORT_BINUNICODE, BINUNICODE, BINUNICODE8] as const;
/** The opcodes of bytes with a 1-, 4- and 8-byte length. */
const BYTES_OPS = [SHORT_BINBYTES, BINBYTES, BINBYTES8] as const;
/** The highest protocol `decodePickle` reads (CPython's HIGHEST_PROTOCOL). */
const HIGHEST_PROTOCOL = 5;
/** Items per APPENDS/SETITEMS/ADDITEMS, as CPython batches them. */
const BATCH = 1000;
/** Depth above which the fast encoder pass restarts in careful mode. */
const FAST_DEPTH = 64;
/**
 * The longest array that is encoded: 2^27 elements, V8's limit for an array
 * that is not sparse.
 */
const MAX_ARRAY = 2 ** 27;
/** Strings up to this length are UTF-8 encoded by hand (3 × 80 < 256). */
const SHORT_STRING = 80;
/** Strings up to this many bytes are UTF-8 decoded by hand. */
const SHORT_UTF8 = 32;
/** The size of the slabs small pickles are written into. */
const SLAB_SIZE = 64 * 1024;
/** A new slab is started when less than this is left. */
const MIN_SLAB_ROOM = 1024;
/** ASCII strings up to this many bytes are decoded through a cache. */
const MAX_CACHED = 16;
const STRING_CACHE_SIZE = 4096;
const stringCache: string[] = new Array<string>(STRING_CACHE_SIZE).fill("");
/** Code units per `String.fromCharCode` call. */
const CHUNK = 8192;
/** What crosses, for the messages of unsupported Python objects. */
const PLAIN_DATA =
  "only plain data (None, bool, int, float, str, bytes, bytearray, list, tuple, dict, set, frozenset) crosses into JavaScript";

/** Thrown by the fast pass to ask for a careful pass (never escapes). */
const RESTART = { restart: true };

const DECIMAL = /^[+-]?[0-9]+$/;
const FLOAT_TEXT =
  /^[+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)$/i;
/** The latin-1 encoding names accepted by `_codecs.encode` and `bytearray`. */
const LATIN1 = new Set(["latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"]);
/** Python 2 module names, as CPython's unpickler maps them (fix_imports). */
const PY2_MODULES: ReadonlyMap<string, string> = new Map([
  ["__builtin__", "builtins"],
  ["copy_reg", "copyreg"],
  ["exceptions", "builtins"],
]);

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const EMPTY = new Uint8Array(0);
const scratchBytes = new Uint8Array(8);
const scratch = new DataView(scratchBytes.buffer);

/** What a JavaScript object is, for error messages: "a Date", "a Foo". */
function describe(value: object): string {
  if (typeof value === "function") return "a function";
  let name: unknown;
  try {
    name = Object.getPrototypeOf(value)?.constructor?.name;
  } catch {
    // a revoked proxy or a throwing getter: say nothing more
  }
  return typeof name === "string" && name !== "" ? article(name) : "an object";
}

/** Defines `key` as an own data property ("__proto__" included). */
function setOwn(
  object: Record<string, unknown>,
  key: string,
  value: unknown,
): void {
  if (key === "__proto__") {
    Object.defineProperty(object, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else object[key] = value;
}

/** A `bigint` in the safe integer range as a number, others unchanged. */
function normalize(value: bigint): number | bigint {
  return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value;
}

/** The value of an ASCII hex digit. */
function hexDigit(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

// ---------------------------------------------------------------------------
// Encoder

/**
 * Writes one value as a protocol 4 pickle into a growable buffer. A fast
 * pass keeps no path; when it meets something it cannot write, or nesting
 * deeper than {@linkcode FAST_DEPTH}, the value is written again in careful
 * mode, which tracks the path and the ancestors (cycle detection).
 */
class Encoder {
  /**
   * Small pickles are written into a shared slab and handed out as views of
   * it (the region is never written again): allocating an `ArrayBuffer`
   * costs more than encoding a small value.
   */
  slab: Uint8Array<ArrayBuffer> = new Uint8Array(SLAB_SIZE);
  slabView: DataView = new DataView(this.slab.buffer);
  /** Where the next pickle starts in the slab. */
  slabPos = 0;
  /** The buffer written to: the slab, or a private one for a big pickle. */
  buf: Uint8Array<ArrayBuffer> = this.slab;
  view: DataView = this.slabView;
  /** Where the current pickle starts in `buf`. */
  start = 0;
  pos = 0;
  depth = 0;
  /** Careful mode: tracks the path and the ancestors. */
  careful = false;
  path: string[] = [];
  ancestors: Set<object> = new Set();
  persistentId: ((value: object) => unknown) | undefined = undefined;
  /** The next object is a persistent id: not offered to `persistentId`. */
  skipId = false;
  text: TextEncoder = new TextEncoder();

  encode(
    value: unknown,
    persistentId: ((value: object) => unknown) | undefined,
  ): Uint8Array {
    this.persistentId = persistentId;
    // persistentId may have side effects: never call it twice for a value.
    this.careful = persistentId !== undefined;
    if (SLAB_SIZE - this.slabPos < MIN_SLAB_ROOM || this.slab.buffer.detached) {
      this.newSlab(); // (someone may have transferred a result's buffer)
    }
    this.buf = this.slab;
    this.view = this.slabView;
    this.start = this.slabPos;
    try {
      this.begin();
      try {
        this.write(value);
      } catch (e) {
        if (e !== RESTART && (this.careful || !isStackOverflow(e))) throw e;
        this.begin();
        this.careful = true;
        this.write(value);
      }
      this.byte(STOP);
      return this.result();
    } catch (e) {
      if (!isStackOverflow(e)) throw e;
      throw new TypeError(
        `Cannot pickle a value nested too deeply for the call stack at ${this.pathString()}`,
      );
    } finally {
      this.buf = this.slab;
      this.view = this.slabView;
      this.careful = false;
      this.skipId = false;
      this.path.length = 0;
      this.ancestors.clear();
      this.persistentId = undefined;
    }
  }

  /** Starts a fresh slab (the old one lives on in the views handed out). */
  newSlab(): void {
    this.slab = new Uint8Array(SLAB_SIZE);
    this.slabView = new DataView(this.slab.buffer);
    this.slabPos = 0;
  }

  /** Starts a pickle: PROTO 4. */
  begin(): void {
    this.pos = this.start;
    this.depth = 0;
    this.ensure(2);
    this.buf[this.pos++] = PROTO;
    this.buf[this.pos++] = 4;
  }

  /** The bytes written, owned by the caller. */
  result(): Uint8Array {
    const buf = this.buf;
    const pos = this.pos;
    if (buf === this.slab) {
      this.slabPos = (pos + 7) & ~7;
      return buf.subarray(this.start, pos);
    }
    // A private buffer (start is 0): hand it over unless mostly unused.
    return pos >= buf.length >> 1 ? buf.subarray(0, pos) : buf.slice(0, pos);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /**
   * Moves the pickle being written to a buffer with room for `n` more bytes:
   * a new slab when it is small, else a private buffer with some to spare.
   * Positions kept across calls must therefore be relative to `start`.
   */
  grow(n: number): void {
    const used = this.pos - this.start;
    const need = used + n;
    let buf: Uint8Array<ArrayBuffer>;
    if (this.buf === this.slab && need <= SLAB_SIZE >> 1) {
      this.newSlab();
      buf = this.slab;
    } else {
      buf = new Uint8Array(
        Math.max(need + (need >> 3) + 64, used * 2, SLAB_SIZE),
      );
    }
    buf.set(this.buf.subarray(this.start, this.pos));
    this.buf = buf;
    this.view = buf === this.slab ? this.slabView : new DataView(buf.buffer);
    this.start = 0;
    this.pos = used;
  }

  /** Writes one byte. */
  byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b;
  }

  /** The current path, e.g. `$.a[2].fn`. */
  pathString(): string {
    const path = this.path;
    if (path.length > 200) {
      return "$" + path.slice(0, 100).join("") + "…" +
        path.slice(-20).join("");
    }
    return "$" + path.join("");
  }

  /** Throws the TypeError for `what` at the current path (careful mode). */
  fail(what: string, suffix = ""): never {
    if (!this.careful) throw RESTART;
    throw new TypeError(
      `Cannot pickle ${what} at ${this.pathString()}${suffix}`,
    );
  }

  /** Depth and cycle bookkeeping when entering a container. */
  enter(value: object): void {
    const depth = ++this.depth;
    if (this.careful) {
      if (this.ancestors.has(value)) this.fail("a circular reference");
      if (depth > MAX_DEPTH) {
        this.fail(`a value nested more than ${MAX_DEPTH} levels deep`);
      }
      this.ancestors.add(value);
    } else if (depth > FAST_DEPTH) {
      throw RESTART;
    }
  }

  /** Undoes `enter`. */
  leave(value: object): void {
    if (this.careful) this.ancestors.delete(value);
    this.depth--;
  }

  /** Writes any value. */
  write(value: unknown): void {
    switch (typeof value) {
      case "number":
        this.writeNumber(value);
        return;
      case "string":
        this.writeString(value);
        return;
      case "object":
        if (value === null) this.byte(NONE);
        else this.writeObject(value, false);
        return;
      case "boolean":
        this.byte(value ? NEWTRUE : NEWFALSE);
        return;
      case "undefined":
        this.byte(NONE);
        return;
      case "bigint":
        this.writeBigInt(value);
        return;
      case "function":
        if (this.persistentId !== undefined && this.writePersistent(value)) {
          return;
        }
        this.fail("a function");
        return;
      default:
        this.fail("a " + typeof value);
    }
  }

  /** Writes a map key or set element: hashable, arrays as tuples. */
  writeKey(value: unknown): void {
    if (typeof value === "object" && value !== null) {
      this.writeObject(value, true);
    } else this.write(value);
  }

  /** Writes an object; `hashable` where Python needs a hashable value. */
  writeObject(value: object, hashable: boolean): void {
    if (this.persistentId !== undefined) {
      if (this.skipId) this.skipId = false;
      else if (this.writePersistent(value)) return;
    }
    if (Array.isArray(value)) {
      if (hashable) this.writeTuple(value);
      else this.writeList(value);
      return;
    }
    if (value instanceof Uint8Array) {
      this.writeBytes(value);
      return;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      if (hashable) this.unhashable("a plain object", "dict");
      this.writeDict(value as Record<string, unknown>);
    } else if (value instanceof Map) {
      if (hashable) this.unhashable("a Map", "dict");
      this.writeMap(value);
    } else if (value instanceof Set) {
      if (hashable) this.writeFrozenSet(value);
      else this.writeSet(value);
    } else {
      this.fail(describe(value));
    }
  }

  /** Throws for a dict or set where Python needs a hashable value. */
  unhashable(what: string, type: string): never {
    this.fail(
      what + " as a dict key or set element",
      `: a Python ${type} is unhashable`,
    );
  }

  /** Writes the persistent id of `value`, if it has one. */
  writePersistent(value: object): boolean {
    const id = this.persistentId!(value);
    if (id === undefined) return false;
    this.path.push("{persistent id}");
    this.skipId = true;
    this.write(id);
    this.skipId = false;
    this.path.pop();
    this.byte(BINPERSID);
    return true;
  }

  /** An int (BININT1/BININT2/BININT/LONG1) or a float (BINFLOAT). */
  writeNumber(x: number): void {
    if (Number.isInteger(x) && (x !== 0 || 1 / x > 0)) {
      if (x >= 0 && x < 0x10000) {
        this.ensure(3);
        const buf = this.buf;
        if (x < 0x100) {
          buf[this.pos++] = BININT1;
          buf[this.pos++] = x;
        } else {
          buf[this.pos++] = BININT2;
          buf[this.pos++] = x;
          buf[this.pos++] = x >>> 8;
        }
      } else if (x >= -0x80000000 && x <= 0x7fffffff) {
        this.ensure(5);
        const buf = this.buf;
        let p = this.pos;
        buf[p++] = BININT;
        buf[p++] = x;
        buf[p++] = x >> 8;
        buf[p++] = x >> 16;
        buf[p++] = x >> 24;
        this.pos = p;
      } else {
        this.writeBigInt(BigInt(x));
      }
      return;
    }
    this.ensure(9);
    this.buf[this.pos] = BINFLOAT;
    this.view.setFloat64(this.pos + 1, x);
    this.pos += 9;
  }

  /** LONG1 (LONG4 past 255 bytes): minimal little-endian two's complement. */
  writeBigInt(value: bigint): void {
    const negative = value < 0n;
    // A negative value is the complement of -value - 1, byte by byte.
    const magnitude = negative ? -value - 1n : value;
    const hex = magnitude === 0n ? "" : magnitude.toString(16);
    const digits = hex.length;
    const n = (digits + 1) >> 1;
    // One more byte when the top bit would read as the wrong sign (and for
    // -1, whose complement has no bytes at all).
    const pad = n === 0
      ? (negative ? 1 : 0)
      : (digits & 1) === 0 && hexDigit(hex.charCodeAt(0)) >= 8
      ? 1
      : 0;
    const length = n + pad;
    this.ensure(5 + length);
    const buf = this.buf;
    let p = this.pos;
    if (length < 0x100) {
      buf[p++] = LONG1;
      buf[p++] = length;
    } else {
      buf[p++] = LONG4;
      buf[p++] = length;
      buf[p++] = length >>> 8;
      buf[p++] = length >>> 16;
      buf[p++] = length >>> 24;
    }
    const flip = negative ? 0xff : 0;
    for (let i = digits; i > 0; i -= 2) {
      const lo = hexDigit(hex.charCodeAt(i - 1));
      const hi = i >= 2 ? hexDigit(hex.charCodeAt(i - 2)) : 0;
      buf[p++] = ((hi << 4) | lo) ^ flip;
    }
    if (pad) buf[p++] = flip;
    this.pos = p;
  }

  /** SHORT_BINUNICODE / BINUNICODE / BINUNICODE8, UTF-8 with surrogatepass. */
  writeString(s: string): void {
    const n = s.length;
    if (n <= SHORT_STRING) {
      this.ensure(2 + 3 * n);
      const buf = this.buf;
      const start = this.pos;
      buf[start] = SHORT_BINUNICODE;
      const end = this.utf8Into(s, start + 2);
      buf[start + 1] = end - start - 2;
      this.pos = end;
      return;
    }
    // Reserve the worst case (3 bytes per code unit), guess the header from
    // it, and move the bytes when the real length needs a smaller one.
    const most = 3 * n;
    const size = most < 0x100 ? 2 : most <= 0xffffffff ? 5 : 9;
    this.ensure(size + most);
    const start = this.pos;
    const length = s.isWellFormed()
      ? this.text.encodeInto(
        s,
        this.buf.subarray(start + size, start + size + most),
      ).written
      : this.utf8Into(s, start + size) - start - size;
    const needed = length < 0x100 ? 2 : length <= 0xffffffff ? 5 : 9;
    if (needed !== size) {
      this.buf.copyWithin(start + needed, start + size, start + size + length);
    }
    this.header(start, needed, length, UNICODE_OPS);
    this.pos = start + needed + length;
  }

  /**
   * Writes `s` as UTF-8 at `p`, lone surrogates as their 3-byte form (as
   * Python's "surrogatepass" does); returns the end. Room must be there.
   */
  utf8Into(s: string, p: number): number {
    const buf = this.buf;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        buf[p++] = c;
      } else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else {
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d < 0xe000) {
            i++;
            c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            buf[p++] = 0xf0 | (c >> 18);
            buf[p++] = 0x80 | ((c >> 12) & 0x3f);
            buf[p++] = 0x80 | ((c >> 6) & 0x3f);
            buf[p++] = 0x80 | (c & 0x3f);
            continue;
          }
        }
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      }
    }
    return p;
  }

  /**
   * Writes at `p` a header of `size` bytes (2, 5 or 9) for `length`: the
   * opcode of `ops` with a 1-, 4- or 8-byte little-endian length.
   */
  header(
    p: number,
    size: number,
    length: number,
    ops: readonly [number, number, number],
  ): void {
    const buf = this.buf;
    if (size === 2) {
      buf[p] = ops[0];
      buf[p + 1] = length;
      return;
    }
    buf[p] = size === 5 ? ops[1] : ops[2];
    buf[p + 1] = length;
    buf[p + 2] = length >>> 8;
    buf[p + 3] = length >>> 16;
    buf[p + 4] = length >>> 24;
    if (size === 9) {
      const hi = Math.floor(length / 0x100000000);
      buf[p + 5] = hi;
      buf[p + 6] = hi >>> 8;
      buf[p + 7] = hi >>> 16;
      buf[p + 8] = hi >>> 24;
    }
  }

  /** SHORT_BINBYTES / BINBYTES / BINBYTES8. */
  writeBytes(bytes: Uint8Array): void {
    const n = bytes.length;
    const size = n < 0x100 ? 2 : n <= 0xffffffff ? 5 : 9;
    this.ensure(size + n);
    this.header(this.pos, size, n, BYTES_OPS);
    this.pos += size;
    if (n < 32) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = bytes[i];
    } else {
      this.buf.set(bytes, this.pos);
    }
    this.pos += n;
  }

  /** EMPTY_LIST, then the elements: APPEND, or MARK … APPENDS per batch. */
  writeList(array: unknown[]): void {
    const n = array.length;
    if (n > MAX_ARRAY) {
      // Only a sparse array is this long: its holes alone would be gigabytes.
      if (!this.careful) throw RESTART;
      throw new RangeError(
        `Cannot pickle an array of length ${n} at ${this.pathString()}: longer than ${MAX_ARRAY} elements (a sparse array; send its entries instead)`,
      );
    }
    this.enter(array);
    this.byte(EMPTY_LIST);
    const careful = this.careful;
    const path = this.path;
    for (let start = 0; start < n; start += BATCH) {
      const stop = Math.min(start + BATCH, n);
      const one = stop - start === 1;
      if (!one) this.byte(MARK);
      for (let i = start; i < stop; i++) {
        if (careful) path.push("[" + i + "]");
        this.write(array[i]);
        if (careful) path.pop();
      }
      this.byte(one ? APPEND : APPENDS);
    }
    this.leave(array);
  }

  /** An array where Python needs a hashable value: a tuple. */
  writeTuple(array: unknown[]): void {
    const n = array.length;
    if (n > MAX_ARRAY) this.fail(`an array of length ${n}`);
    this.enter(array);
    if (n === 0) {
      this.byte(EMPTY_TUPLE);
    } else {
      if (n > 3) this.byte(MARK);
      const careful = this.careful;
      const path = this.path;
      for (let i = 0; i < n; i++) {
        if (careful) path.push("[" + i + "]");
        this.writeKey(array[i]);
        if (careful) path.pop();
      }
      this.byte(n > 3 ? TUPLE : TUPLE1 + n - 1);
    }
    this.leave(array);
  }

  /** EMPTY_DICT, then the own enumerable string-keyed properties. */
  writeDict(object: Record<string, unknown>): void {
    this.enter(object);
    this.byte(EMPTY_DICT);
    const keys = Object.keys(object);
    const n = keys.length;
    const careful = this.careful;
    const path = this.path;
    for (let start = 0; start < n; start += BATCH) {
      const stop = Math.min(start + BATCH, n);
      const one = stop - start === 1;
      if (!one) this.byte(MARK);
      for (let i = start; i < stop; i++) {
        const key = keys[i];
        this.writeString(key);
        if (careful) path.push(propertySegment(key));
        this.write(object[key]);
        if (careful) path.pop();
      }
      this.byte(one ? SETITEM : SETITEMS);
    }
    this.leave(object);
  }

  /** EMPTY_DICT, then MARK … SETITEMS per batch; keys hashable. */
  writeMap(map: Map<unknown, unknown>): void {
    this.enter(map);
    this.byte(EMPTY_DICT);
    const careful = this.careful;
    const path = this.path;
    let i = 0;
    for (const [key, value] of map) {
      if (i % BATCH === 0) {
        if (i > 0) this.byte(SETITEMS);
        this.byte(MARK);
      }
      if (careful) path.push(".keys()[" + i + "]");
      this.writeKey(key);
      if (careful) {
        path.pop();
        const literal = keyLiteral(key);
        path.push(
          literal === undefined
            ? ".values()[" + i + "]"
            : ".get(" + literal + ")",
        );
      }
      this.write(value);
      if (careful) path.pop();
      i++;
    }
    if (i > 0) this.byte(SETITEMS);
    this.leave(map);
  }

  /** A set where Python needs a hashable value: MARK … FROZENSET. */
  writeFrozenSet(set: Set<unknown>): void {
    this.enter(set);
    this.byte(MARK);
    const careful = this.careful;
    const path = this.path;
    let i = 0;
    for (const element of set) {
      if (careful) path.push(".values()[" + i + "]");
      this.writeKey(element);
      if (careful) path.pop();
      i++;
    }
    this.byte(FROZENSET);
    this.leave(set);
  }

  /** EMPTY_SET, then MARK … ADDITEMS per batch; elements hashable. */
  writeSet(set: Set<unknown>): void {
    this.enter(set);
    this.byte(EMPTY_SET);
    const careful = this.careful;
    const path = this.path;
    let i = 0;
    for (const element of set) {
      if (i % BATCH === 0) {
        if (i > 0) this.byte(ADDITEMS);
        this.byte(MARK);
      }
      if (careful) path.push(".values()[" + i + "]");
      this.writeKey(element);
      if (careful) path.pop();
      i++;
    }
    if (i > 0) this.byte(ADDITEMS);
    this.leave(set);
  }
}

let sharedEncoder: Encoder | null = null;

/**
 * Encodes a value as a protocol 4 pickle that CPython's `pickle.loads` reads
 * (see the module table for the types).
 *
 * @example Usage
 * ```ts
 * import { encodePickle } from "./_pickle.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * // PROTO 4, SHORT_BINUNICODE "hi", STOP
 * deepStrictEqual(
 *   encodePickle("hi"),
 *   new Uint8Array([0x80, 4, 0x8c, 2, 0x68, 0x69, 0x2e]),
 * );
 * ```
 *
 * @param value The value to encode.
 * @param options A `persistentId` hook.
 * @returns The pickle, owned by the caller.
 * @throws {TypeError} If the value holds something with no pickle form
 * (functions, symbols, class instances, typed arrays other than
 * `Uint8Array`, …), a circular reference, an unhashable map key or set
 * element, or nesting deeper than {@linkcode MAX_DEPTH}; the message gives
 * the path from `$`, e.g. `Cannot pickle a function at $.a[2].fn`.
 * @throws {RangeError} For an array longer than 2^27 elements (sparse).
 */
export function encodePickle(
  value: unknown,
  options?: PickleEncodeOptions,
): Uint8Array {
  const persistentId = options?.persistentId;
  if (persistentId !== undefined && typeof persistentId !== "function") {
    throw new TypeError(
      `Cannot pickle: persistentId must be a function, received ${typeof persistentId}`,
    );
  }
  const encoder = sharedEncoder ?? new Encoder();
  sharedEncoder = null; // persistentId or a getter may pickle while we run
  try {
    return encoder.encode(value, persistentId);
  } finally {
    sharedEncoder = encoder;
  }
}

// ---------------------------------------------------------------------------
// Decoder

/**
 * A Python dict being unpickled. Its JavaScript value (a plain object while
 * every key is a string, else a `Map`) is built in place; a dict that gets a
 * non-string key after its object was handed out cannot change, and throws.
 */
class PyDict {
  /** The JavaScript value: a plain object, or `map` once it is one. */
  value: Record<string, unknown> | Map<unknown, unknown> = {};
  /** The value as a `Map`, after the first key that is not a string. */
  map: Map<unknown, unknown> | null = null;
  /** Fetched from the memo or DUP'd while on the stack: may still change. */
  shared = false;
  /** Its value was handed out (placed in a container or returned). */
  used = false;

  /** dict[key] = value. */
  set(key: unknown, value: unknown, decoder: Decoder): void {
    const map = this.map;
    if (map !== null) {
      map.set(key, value);
    } else if (typeof key === "string") {
      setOwn(this.value as Record<string, unknown>, key, value);
    } else {
      if (this.used) {
        decoder.invalid("a dict got a non-string key after it was used");
      }
      const object = this.value as Record<string, unknown>;
      const converted = new Map<unknown, unknown>();
      for (const k of Object.keys(object)) converted.set(k, object[k]);
      converted.set(key, value);
      this.value = this.map = converted;
    }
  }
}

/** A reference to a Python class or function (GLOBAL, STACK_GLOBAL). */
class PyGlobal {
  /** `module.qualname`, Python 2 module names mapped as CPython does. */
  name: string;

  constructor(module: string, name: string) {
    this.name = (PY2_MODULES.get(module) ?? module) + "." + name;
  }
}

/** Carries an error thrown by `persistentLoad` past the decoder's wrapping. */
class CallbackError {
  error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/**
 * Runs a pickle as CPython's unpickler does: a stack machine with marks and
 * a memo. Dicts stay `PyDict` while on the stack; a value leaving the stack
 * (`take`) is its JavaScript value, except a dict that is also reachable
 * from the memo or a `DUP` and may still change: that stays a `PyDict` in
 * its container, and `fixup` replaces it once the pickle is done.
 */
class Decoder {
  bytes: Uint8Array = EMPTY;
  pos = 0;
  end = 0;
  /** Where the opcode being run starts. */
  at = 0;
  stack: unknown[] = [];
  /** The stack length at each MARK, innermost last. */
  marks: number[] = [];
  /** The bottom of the current frame: the innermost mark, or 0. */
  fence = 0;
  /** Memo entries 0 … length − 1. */
  memo: unknown[] = [];
  /** Memo entries at indices past `memo` (all ≥ memo.length). */
  farMemo: Map<number, unknown> | null = null;
  /** A `PyDict` was left in a container: run `fixup` before returning. */
  needsFixup = false;
  persistentLoad: ((id: unknown) => unknown) | undefined = undefined;
  utf8: TextDecoder = new TextDecoder("utf-8", {
    fatal: true,
    ignoreBOM: true,
  });

  decode(
    bytes: Uint8Array,
    persistentLoad: ((id: unknown) => unknown) | undefined,
  ): unknown {
    this.bytes = bytes;
    this.pos = 0;
    this.end = bytes.length;
    this.persistentLoad = persistentLoad;
    try {
      return this.run();
    } catch (e) {
      throw this.wrap(e);
    } finally {
      this.bytes = EMPTY;
      this.stack.length = 0;
      this.marks.length = 0;
      this.fence = 0;
      this.memo.length = 0;
      this.farMemo = null;
      this.needsFixup = false;
      this.persistentLoad = undefined;
    }
  }

  /** Our errors and `persistentLoad`'s as they are, others prefixed. */
  wrap(e: unknown): unknown {
    if (e instanceof CallbackError) return e.error;
    if (
      (e instanceof RangeError || e instanceof TypeError) &&
      e.message.startsWith("Cannot unpickle")
    ) return e;
    // An engine limit (a BigInt or a string too long, memory): still ours.
    const message = `Cannot unpickle: ${
      e instanceof Error ? e.message : String(e)
    } at byte ${this.at}`;
    return e instanceof RangeError
      ? new RangeError(message, { cause: e })
      : new TypeError(message, { cause: e });
  }

  /** Throws the RangeError for input that ends too early. */
  truncated(what: string): never {
    throw new RangeError(
      `Cannot unpickle: the input ends inside ${what} at byte ${this.at}`,
    );
  }

  /** Throws the RangeError for a broken structure. */
  broken(what: string): never {
    throw new RangeError(`Cannot unpickle: ${what} at byte ${this.at}`);
  }

  /** Throws the TypeError for invalid content. */
  invalid(what: string): never {
    throw new TypeError(`Cannot unpickle: ${what} at byte ${this.at}`);
  }

  /** Throws the TypeError for a Python object that is not plain data. */
  unsupported(name: string): never {
    throw new TypeError(`Cannot unpickle ${name}: ${PLAIN_DATA}`);
  }

  /** What a stack value is, in Python's terms, for error messages. */
  kind(value: unknown): string {
    if (value === null) return "None";
    switch (typeof value) {
      case "boolean":
        return "a bool";
      case "number":
      case "bigint":
        return "a number";
      case "string":
        return "a str";
      case "undefined":
        return "undefined";
    }
    if (Array.isArray(value)) return "a list or tuple";
    if (value instanceof PyDict || value instanceof Map) return "a dict";
    if (value instanceof Set) return "a set";
    if (value instanceof Uint8Array) return "bytes";
    if (value instanceof PyGlobal) return article(value.name);
    return describe(value as object);
  }

  /** Checks that `n` more bytes are there; returns the current position. */
  need(n: number, what: string): number {
    const p = this.pos;
    if (n > this.end - p) this.truncated(what);
    return p;
  }

  /** Checks a length read from the input against the bytes left. */
  length(n: number, what: string): number {
    const left = this.end - this.pos;
    if (n > left) {
      throw new RangeError(
        `Cannot unpickle: ${what} of ${n} bytes at byte ${this.at} runs past the end of the input (${left} bytes left)`,
      );
    }
    return n;
  }

  /** Reads an unsigned byte. */
  u8(what: string): number {
    if (this.pos >= this.end) this.truncated(what);
    return this.bytes[this.pos++];
  }

  /** Reads an unsigned 16-bit little-endian integer. */
  u16(what: string): number {
    const p = this.need(2, what);
    this.pos = p + 2;
    return this.bytes[p] | (this.bytes[p + 1] << 8);
  }

  /** Reads a signed 32-bit little-endian integer. */
  i32(what: string): number {
    const p = this.need(4, what);
    const b = this.bytes;
    this.pos = p + 4;
    return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
  }

  /** Reads an unsigned 32-bit little-endian integer. */
  u32(what: string): number {
    return this.i32(what) >>> 0;
  }

  /** Reads an unsigned 64-bit little-endian integer (inexact past 2^53). */
  u64(what: string): number {
    const lo = this.u32(what);
    return this.u32(what) * 0x100000000 + lo;
  }

  /** Reads a line; returns where its "\n" is (the line starts at `pos`). */
  lineEnd(what: string): number {
    const nl = this.bytes.indexOf(0x0a, this.pos);
    if (nl < 0 || nl >= this.end) this.truncated(what + " (no newline)");
    return nl;
  }

  /** Reads a line as latin-1 text, without its "\n". */
  line(what: string): string {
    const start = this.pos;
    const nl = this.lineEnd(what);
    this.pos = nl + 1;
    return this.latin1(start, nl);
  }

  /** The text of a line, quoted and shortened, for error messages. */
  quote(text: string): string {
    return JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text);
  }

  /** Bytes `start` … `end` as latin-1 text. */
  latin1(start: number, end: number): string {
    const bytes = this.bytes;
    if (end - start <= SHORT_UTF8) {
      let s = "";
      for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
      return s;
    }
    let s = "";
    for (let i = start; i < end; i += CHUNK) {
      s += String.fromCharCode(
        ...bytes.subarray(i, Math.min(i + CHUNK, end)),
      );
    }
    return s;
  }

  /** The next `n` bytes as UTF-8 with surrogatepass (as Python reads str). */
  utf8String(n: number): string {
    const p = this.pos;
    const end = p + n;
    const bytes = this.bytes;
    this.pos = end;
    if (n <= MAX_CACHED) {
      // Short ASCII strings (dict keys above all) come from a cache: no
      // allocation, and the string is already internalized for property
      // stores.
      let hash = n;
      for (let i = p; i < end; i++) {
        const c = bytes[i];
        if (c >= 0x80) return this.surrogatePass(p, end);
        hash = Math.imul(hash ^ c, 0x01000193);
      }
      const slot = (hash ^ (hash >>> 15)) & (STRING_CACHE_SIZE - 1);
      const cached = stringCache[slot];
      if (cached.length === n) {
        let i = 0;
        while (i < n && cached.charCodeAt(i) === bytes[p + i]) i++;
        if (i === n) return cached;
      }
      let s = "";
      for (let i = p; i < end; i++) s += String.fromCharCode(bytes[i]);
      stringCache[slot] = s;
      return s;
    }
    if (n <= SHORT_UTF8) {
      let s = "";
      for (let i = p; i < end; i++) {
        const c = bytes[i];
        if (c >= 0x80) return this.surrogatePass(p, end);
        s += String.fromCharCode(c);
      }
      return s;
    }
    try {
      return this.utf8.decode(bytes.subarray(p, end));
    } catch {
      // Not UTF-8 for TextDecoder: lone surrogates, or invalid.
      return this.surrogatePass(p, end);
    }
  }

  /**
   * Decodes UTF-8 that may hold surrogates in their 3-byte form (lone
   * surrogates from Python); throws for anything else that is not UTF-8.
   */
  surrogatePass(start: number, end: number): string {
    const b = this.bytes;
    const units: number[] = [];
    let s = "";
    let i = start;
    while (i < end) {
      const c = b[i];
      if (c < 0x80) {
        units.push(c);
        i++;
      } else if (
        c >= 0xc2 && c < 0xe0 && i + 1 < end && (b[i + 1] & 0xc0) === 0x80
      ) {
        units.push(((c & 0x1f) << 6) | (b[i + 1] & 0x3f));
        i += 2;
      } else if (
        c >= 0xe0 && c < 0xf0 && i + 2 < end && (b[i + 1] & 0xc0) === 0x80 &&
        (b[i + 2] & 0xc0) === 0x80 && (c !== 0xe0 || b[i + 1] >= 0xa0)
      ) {
        units.push(
          ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f),
        );
        i += 3;
      } else if (
        c >= 0xf0 && c < 0xf5 && i + 3 < end && (b[i + 1] & 0xc0) === 0x80 &&
        (b[i + 2] & 0xc0) === 0x80 && (b[i + 3] & 0xc0) === 0x80 &&
        (c !== 0xf0 || b[i + 1] >= 0x90) && (c !== 0xf4 || b[i + 1] < 0x90)
      ) {
        const cp = (((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) |
          ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f)) - 0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        i += 4;
      } else {
        throw new TypeError(
          `Cannot unpickle: invalid UTF-8 in a str at byte ${i} (the str starts at byte ${start})`,
        );
      }
      if (units.length >= CHUNK) {
        s += String.fromCharCode(...units);
        units.length = 0;
      }
    }
    return s + String.fromCharCode(...units);
  }

  /** Pushes a value. */
  push(value: unknown): void {
    this.stack.push(value);
  }

  /** Throws the RangeError for popping below the current mark. */
  underflow(): never {
    this.broken("stack underflow");
  }

  /** Pops the top of the current frame. */
  pop(): unknown {
    if (this.stack.length <= this.fence) this.underflow();
    return this.stack.pop();
  }

  /** The top of the current frame. */
  top(): unknown {
    const n = this.stack.length;
    if (n <= this.fence) this.underflow();
    return this.stack[n - 1];
  }

  /** Pops the innermost mark: returns where its items start on the stack. */
  popMark(): number {
    const marks = this.marks;
    const mark = marks.pop();
    if (mark === undefined) this.broken("no MARK to pop");
    this.fence = marks.length > 0 ? marks[marks.length - 1] : 0;
    return mark;
  }

  /** The container just below the items of a popped mark. */
  below(from: number): unknown {
    if (from <= this.fence) this.underflow();
    return this.stack[from - 1];
  }

  /**
   * A value leaving the stack into a container or the result: a dict becomes
   * its JavaScript value, unless it may still change; a class or function
   * reference cannot leave.
   */
  take(value: unknown): unknown {
    if (typeof value === "object" && value !== null) {
      if (value instanceof PyDict) {
        if (value.shared) {
          this.needsFixup = true;
          return value;
        }
        value.used = true;
        return value.value;
      }
      if (value instanceof PyGlobal) this.unsupported(article(value.name));
    }
    return value;
  }

  /** The stack items from `from` on, taken, in a new array (and popped). */
  takeFrom(from: number): unknown[] {
    const stack = this.stack;
    const n = stack.length - from;
    const items = new Array<unknown>(n);
    for (let i = 0; i < n; i++) items[i] = this.take(stack[from + i]);
    stack.length = from;
    return items;
  }

  /** Stores `value` in the memo at `index`. */
  memoPut(index: number, value: unknown): void {
    const memo = this.memo;
    if (index < memo.length) {
      memo[index] = value;
    } else if (index === memo.length) {
      memo.push(value);
      this.farMemo?.delete(index);
    } else {
      (this.farMemo ??= new Map()).set(index, value);
    }
  }

  /** The memo entry at `index` (a dict fetched here may be shared). */
  memoGet(index: number): unknown {
    let value: unknown;
    if (index < this.memo.length) {
      value = this.memo[index];
    } else if (this.farMemo?.has(index)) {
      value = this.farMemo.get(index);
    } else {
      this.broken(`memo entry ${index} is not set`);
    }
    if (value instanceof PyDict) {
      if (value.used) return value.value;
      value.shared = true;
    }
    return value;
  }

  /** A memo index written as text (PUT, GET). */
  textIndex(what: string): number {
    const text = this.line(what);
    if (!/^[0-9]{1,15}$/.test(text)) {
      this.invalid(`invalid ${what} index ${this.quote(text)}`);
    }
    return Number(text);
  }

  /** The dict that SETITEM/SETITEMS adds to. */
  dictAt(value: unknown, op: string): PyDict {
    if (value instanceof PyDict) return value;
    this.invalid(`${op} adds to ${this.kind(value)}, not a dict being built`);
  }

  /** The integer LONG1/LONG4 holds: `n` bytes of little-endian two's complement. */
  readLong(n: number): number | bigint {
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + n;
    if (n === 0) return 0;
    const negative = b[p + n - 1] >= 0x80;
    if (n <= 6) {
      let x = 0;
      for (let i = n - 1; i >= 0; i--) x = x * 256 + b[p + i];
      return negative ? x - 2 ** (8 * n) : x;
    }
    let hex = "";
    for (let i = n - 1; i >= 0; i--) hex += HEX[b[p + i]];
    let value = BigInt("0x" + hex);
    if (negative) value -= 1n << BigInt(8 * n);
    return normalize(value);
  }

  /** A decimal integer written as text (INT, LONG). */
  textInt(text: string, what: string): number | bigint {
    if (!DECIMAL.test(text)) {
      this.invalid(`invalid ${what} text ${this.quote(text)}`);
    }
    return text.length <= 15 ? Number(text) : normalize(BigInt(text));
  }

  /** A float written as text (FLOAT): Python's repr, "inf" and "nan" too. */
  textFloat(text: string): number {
    const t = text.trim();
    if (!FLOAT_TEXT.test(t)) {
      this.invalid(`invalid FLOAT text ${this.quote(text)}`);
    }
    const lower = t.toLowerCase();
    const unsigned = lower.replace(/^[+-]/, "");
    if (unsigned === "nan") return NaN;
    if (unsigned === "inf" || unsigned === "infinity") {
      return lower.startsWith("-") ? -Infinity : Infinity;
    }
    return Number(t);
  }

  /** A STRING argument: quoted, with Python escapes; latin-1. */
  quotedString(start: number, end: number): string {
    const b = this.bytes;
    const q = b[start];
    if (end - start < 2 || (q !== 0x27 && q !== 0x22) || b[end - 1] !== q) {
      this.invalid("the STRING argument is not quoted");
    }
    const units: number[] = [];
    let s = "";
    for (let i = start + 1; i < end - 1;) {
      let c = b[i++];
      if (c === 0x5c && i < end - 1) {
        const e = b[i++];
        switch (e) {
          case 0x6e: // n
            c = 0x0a;
            break;
          case 0x74: // t
            c = 0x09;
            break;
          case 0x72: // r
            c = 0x0d;
            break;
          case 0x61: // a
            c = 0x07;
            break;
          case 0x62: // b
            c = 0x08;
            break;
          case 0x66: // f
            c = 0x0c;
            break;
          case 0x76: // v
            c = 0x0b;
            break;
          case 0x5c: // backslash
          case 0x27: // '
          case 0x22: // "
            c = e;
            break;
          case 0x0a: // an escaped newline: nothing
            continue;
          case 0x78: { // x: exactly two hex digits
            const h1 = b[i];
            const h2 = b[i + 1];
            if (i + 1 >= end - 1 || !isHex(h1) || !isHex(h2)) {
              this.invalid("invalid \\x escape in a STRING");
            }
            c = (hexDigit(h1) << 4) | hexDigit(h2);
            i += 2;
            break;
          }
          default:
            if (e >= 0x30 && e <= 0x37) { // up to three octal digits
              c = e - 0x30;
              for (let k = 0; k < 2 && i < end - 1; k++) {
                const o = b[i];
                if (o < 0x30 || o > 0x37) break;
                c = c * 8 + o - 0x30;
                i++;
              }
              c &= 0xff;
            } else {
              units.push(0x5c);
              c = e;
            }
        }
      }
      units.push(c);
      if (units.length >= CHUNK) {
        s += String.fromCharCode(...units);
        units.length = 0;
      }
    }
    return s + String.fromCharCode(...units);
  }

  /** A UNICODE argument: raw-unicode-escape (latin-1 plus \uXXXX, \UXXXXXXXX). */
  rawUnicodeEscape(start: number, end: number): string {
    const b = this.bytes;
    const units: number[] = [];
    let s = "";
    for (let i = start; i < end;) {
      const c = b[i++];
      if (c !== 0x5c || i >= end) {
        units.push(c);
      } else {
        const e = b[i++];
        if (e !== 0x75 && e !== 0x55) { // neither u nor U: both kept
          units.push(c, e);
        } else {
          const count = e === 0x75 ? 4 : 8;
          if (end - i < count) {
            this.invalid("truncated \\u escape in a UNICODE");
          }
          let cp = 0;
          for (let k = 0; k < count; k++) {
            const h = b[i++];
            if (!isHex(h)) this.invalid("invalid \\u escape in a UNICODE");
            cp = cp * 16 + hexDigit(h);
          }
          if (cp > 0x10ffff) {
            this.invalid("\\U escape out of range in a UNICODE");
          }
          if (cp >= 0x10000) {
            cp -= 0x10000;
            units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
          } else units.push(cp);
        }
      }
      if (units.length >= CHUNK) {
        s += String.fromCharCode(...units);
        units.length = 0;
      }
    }
    return s + String.fromCharCode(...units);
  }

  /** Copies the next `n` bytes. */
  readBytes(n: number): Uint8Array {
    const p = this.pos;
    this.pos = p + n;
    return this.bytes.slice(p, p + n);
  }

  /** Calls `persistentLoad` with a persistent id. */
  persistent(id: unknown, op: string): unknown {
    const load = this.persistentLoad;
    if (load === undefined) {
      this.invalid(`a persistent id (${op}) needs the persistentLoad option`);
    }
    try {
      return load(id);
    } catch (e) {
      throw new CallbackError(e);
    }
  }

  /** The result of REDUCE: the few callables that make plain data. */
  reduce(callable: unknown, args: unknown): unknown {
    if (!(callable instanceof PyGlobal)) {
      this.invalid(`REDUCE calls ${this.kind(callable)}`);
    }
    const name = callable.name;
    if (!Array.isArray(args)) {
      this.invalid(`REDUCE calls ${name} with ${this.kind(args)}, not a tuple`);
    }
    switch (name) {
      case "builtins.bytearray":
      case "builtins.bytes":
        if (args.length === 0) return new Uint8Array(0);
        if (args.length === 1 && args[0] instanceof Uint8Array) {
          return args[0].slice();
        }
        if (args.length === 2) return this.latin1Bytes(name, args[0], args[1]);
        break;
      case "_codecs.encode":
        if (args.length === 2) return this.latin1Bytes(name, args[0], args[1]);
        break;
      case "builtins.set":
      case "builtins.frozenset":
        if (args.length === 0) return new Set();
        if (args.length === 1 && Array.isArray(args[0])) {
          return new Set(args[0]);
        }
        break;
      default:
        this.unsupported(article(name));
    }
    this.invalid(`unexpected arguments for ${name}`);
  }

  /** `str.encode(encoding)` for latin-1 (how Python 2 protocols write bytes). */
  latin1Bytes(name: string, text: unknown, encoding: unknown): Uint8Array {
    if (typeof text !== "string" || typeof encoding !== "string") {
      this.invalid(`unexpected arguments for ${name}`);
    }
    if (!LATIN1.has(encoding.toLowerCase().replaceAll("_", "-"))) {
      this.invalid(
        `${name} with the encoding ${
          this.quote(encoding)
        }: only latin-1 is supported`,
      );
    }
    const n = text.length;
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0xff) this.invalid(`${name}: a character beyond latin-1`);
      bytes[i] = c;
    }
    return bytes;
  }

  /** The class a NEWOBJ/NEWOBJ_EX/OBJ would instantiate, for its error. */
  instance(cls: unknown, op: string): never {
    if (cls instanceof PyGlobal) this.unsupported(article(cls.name));
    this.invalid(`${op} of ${this.kind(cls)}`);
  }

  /** Runs opcodes up to STOP. */
  run(): unknown {
    const bytes = this.bytes;
    const stack = this.stack;
    for (;;) {
      const at = this.at = this.pos;
      if (at >= this.end) this.truncated("the pickle (no STOP)");
      const op = bytes[this.pos++];
      switch (op) {
        case BININT1:
          this.push(this.u8("BININT1"));
          break;
        case BINPUT:
          this.memoPut(this.u8("BINPUT"), this.top());
          break;
        case BINGET:
          this.push(this.memoGet(this.u8("BINGET")));
          break;
        case MEMOIZE:
          this.memoPut(
            this.memo.length + (this.farMemo?.size ?? 0),
            this.top(),
          );
          break;
        case SHORT_BINUNICODE: {
          const n = this.u8("SHORT_BINUNICODE");
          this.push(this.utf8String(this.length(n, "SHORT_BINUNICODE")));
          break;
        }
        case BINUNICODE: {
          const n = this.u32("BINUNICODE");
          this.push(this.utf8String(this.length(n, "BINUNICODE")));
          break;
        }
        case BINUNICODE8: {
          const n = this.u64("BINUNICODE8");
          this.push(this.utf8String(this.length(n, "BINUNICODE8")));
          break;
        }
        case MARK:
          this.marks.push(stack.length);
          this.fence = stack.length;
          break;
        case EMPTY_DICT:
          this.push(new PyDict());
          break;
        case EMPTY_LIST:
          this.push([]);
          break;
        case EMPTY_TUPLE:
          this.push([]);
          break;
        case EMPTY_SET:
          this.push(new Set());
          break;
        case SETITEM: {
          const value = this.take(this.pop());
          const key = this.take(this.pop());
          this.dictAt(this.top(), "SETITEM").set(key, value, this);
          break;
        }
        case SETITEMS: {
          const from = this.popMark();
          const dict = this.dictAt(this.below(from), "SETITEMS");
          const end = stack.length;
          if ((end - from) & 1) {
            this.invalid("odd number of items for SETITEMS");
          }
          for (let i = from; i < end; i += 2) {
            dict.set(this.take(stack[i]), this.take(stack[i + 1]), this);
          }
          stack.length = from;
          break;
        }
        case APPEND: {
          const value = this.take(this.pop());
          const list = this.top();
          if (!Array.isArray(list)) {
            this.invalid(`APPEND to ${this.kind(list)}`);
          }
          list.push(value);
          break;
        }
        case APPENDS: {
          const from = this.popMark();
          const list = this.below(from);
          if (!Array.isArray(list)) {
            this.invalid(`APPENDS to ${this.kind(list)}`);
          }
          for (let i = from, end = stack.length; i < end; i++) {
            list.push(this.take(stack[i]));
          }
          stack.length = from;
          break;
        }
        case ADDITEMS: {
          const from = this.popMark();
          const set = this.below(from);
          if (!(set instanceof Set)) {
            this.invalid(`ADDITEMS to ${this.kind(set)}`);
          }
          for (let i = from, end = stack.length; i < end; i++) {
            set.add(this.take(stack[i]));
          }
          stack.length = from;
          break;
        }
        case NONE:
          this.push(null);
          break;
        case NEWTRUE:
          this.push(true);
          break;
        case NEWFALSE:
          this.push(false);
          break;
        case BININT2:
          this.push(this.u16("BININT2"));
          break;
        case BININT:
          this.push(this.i32("BININT"));
          break;
        case LONG1: {
          const n = this.u8("LONG1");
          this.push(this.readLong(this.length(n, "LONG1")));
          break;
        }
        case LONG4: {
          const n = this.i32("LONG4");
          if (n < 0) this.invalid("LONG4 with a negative length");
          this.push(this.readLong(this.length(n, "LONG4")));
          break;
        }
        case BINFLOAT: {
          const p = this.need(8, "BINFLOAT");
          for (let i = 0; i < 8; i++) scratchBytes[i] = bytes[p + i];
          this.pos = p + 8;
          this.push(scratch.getFloat64(0));
          break;
        }
        case TUPLE1:
          this.push([this.take(this.pop())]);
          break;
        case TUPLE2: {
          const b = this.take(this.pop());
          this.push([this.take(this.pop()), b]);
          break;
        }
        case TUPLE3: {
          const c = this.take(this.pop());
          const b = this.take(this.pop());
          this.push([this.take(this.pop()), b, c]);
          break;
        }
        case TUPLE:
        case LIST:
          this.push(this.takeFrom(this.popMark()));
          break;
        case DICT: {
          const from = this.popMark();
          const end = stack.length;
          if ((end - from) & 1) this.invalid("odd number of items for DICT");
          const dict = new PyDict();
          for (let i = from; i < end; i += 2) {
            dict.set(this.take(stack[i]), this.take(stack[i + 1]), this);
          }
          stack.length = from;
          this.push(dict);
          break;
        }
        case FROZENSET:
          this.push(new Set(this.takeFrom(this.popMark())));
          break;
        case SHORT_BINBYTES: {
          const n = this.u8("SHORT_BINBYTES");
          this.push(this.readBytes(this.length(n, "SHORT_BINBYTES")));
          break;
        }
        case BINBYTES: {
          const n = this.u32("BINBYTES");
          this.push(this.readBytes(this.length(n, "BINBYTES")));
          break;
        }
        case BINBYTES8: {
          const n = this.u64("BINBYTES8");
          this.push(this.readBytes(this.length(n, "BINBYTES8")));
          break;
        }
        case BYTEARRAY8: {
          const n = this.u64("BYTEARRAY8");
          this.push(this.readBytes(this.length(n, "BYTEARRAY8")));
          break;
        }
        case SHORT_BINSTRING: {
          const n = this.length(this.u8("SHORT_BINSTRING"), "SHORT_BINSTRING");
          this.push(this.latin1(this.pos, this.pos += n));
          break;
        }
        case BINSTRING: {
          const n = this.i32("BINSTRING");
          if (n < 0) this.invalid("BINSTRING with a negative length");
          this.length(n, "BINSTRING");
          this.push(this.latin1(this.pos, this.pos += n));
          break;
        }
        case PROTO: {
          const version = this.u8("PROTO");
          if (version > HIGHEST_PROTOCOL) {
            this.invalid(`unsupported pickle protocol ${version}`);
          }
          break;
        }
        case FRAME:
          this.need(8, "FRAME");
          this.pos += 8;
          break;
        case STOP: {
          let value = this.take(this.pop());
          if (this.pos !== this.end) {
            throw new RangeError(
              `Cannot unpickle: unexpected trailing bytes after STOP at byte ${this.pos}`,
            );
          }
          if (this.needsFixup) value = this.fixup(value);
          return value;
        }
        case POP:
          if (stack.length > this.fence) stack.pop();
          else this.popMark();
          break;
        case POP_MARK:
          stack.length = this.popMark();
          break;
        case DUP: {
          const value = this.top();
          if (value instanceof PyDict) value.shared = true;
          this.push(value);
          break;
        }
        case LONG_BINPUT:
          this.memoPut(this.u32("LONG_BINPUT"), this.top());
          break;
        case LONG_BINGET:
          this.push(this.memoGet(this.u32("LONG_BINGET")));
          break;
        case PUT:
          this.memoPut(this.textIndex("PUT"), this.top());
          break;
        case GET:
          this.push(this.memoGet(this.textIndex("GET")));
          break;
        case INT: {
          const text = this.line("INT");
          this.push(
            text === "00"
              ? false
              : text === "01"
              ? true
              : this.textInt(text, "INT"),
          );
          break;
        }
        case LONG: {
          const text = this.line("LONG");
          this.push(
            this.textInt(text.endsWith("L") ? text.slice(0, -1) : text, "LONG"),
          );
          break;
        }
        case FLOAT:
          this.push(this.textFloat(this.line("FLOAT")));
          break;
        case STRING: {
          const start = this.pos;
          const nl = this.lineEnd("STRING");
          this.pos = nl + 1;
          this.push(this.quotedString(start, nl));
          break;
        }
        case UNICODE: {
          const start = this.pos;
          const nl = this.lineEnd("UNICODE");
          this.pos = nl + 1;
          this.push(this.rawUnicodeEscape(start, nl));
          break;
        }
        case PERSID: {
          const id = this.line("PERSID");
          if (/[\u0080-\u00ff]/.test(id)) {
            this.invalid("a PERSID id that is not ASCII");
          }
          this.push(this.persistent(id, "PERSID"));
          break;
        }
        case BINPERSID: {
          let id = this.take(this.pop());
          if (this.needsFixup) id = this.fixup(id);
          this.push(this.persistent(id, "BINPERSID"));
          break;
        }
        case GLOBAL: {
          const module = this.utf8Line("GLOBAL");
          const name = this.utf8Line("GLOBAL");
          this.push(new PyGlobal(module, name));
          break;
        }
        case STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== "string" || typeof name !== "string") {
            this.invalid("STACK_GLOBAL needs two str");
          }
          this.push(new PyGlobal(module, name));
          break;
        }
        case REDUCE: {
          const args = this.pop();
          this.push(this.reduce(this.pop(), args));
          break;
        }
        case NEWOBJ: {
          this.pop();
          this.instance(this.pop(), "NEWOBJ");
          break;
        }
        case NEWOBJ_EX: {
          this.pop();
          this.pop();
          this.instance(this.pop(), "NEWOBJ_EX");
          break;
        }
        case OBJ: {
          const from = this.popMark();
          if (from >= stack.length) this.underflow();
          this.instance(stack[from], "OBJ");
          break;
        }
        case INST: {
          const module = this.utf8Line("INST");
          const name = this.utf8Line("INST");
          this.unsupported(article(new PyGlobal(module, name).name));
          break;
        }
        case BUILD: {
          this.pop();
          this.unsupported(`${this.kind(this.top())} with state (BUILD)`);
          break;
        }
        case EXT1:
        case EXT2:
        case EXT4: {
          const code = op === EXT1
            ? this.u8("EXT1")
            : op === EXT2
            ? this.u16("EXT2")
            : this.i32("EXT4");
          this.unsupported(
            `an object of the extension registry (code ${code})`,
          );
          break;
        }
        case NEXT_BUFFER:
        case READONLY_BUFFER:
          this.unsupported(
            `an out-of-band buffer (${
              op === NEXT_BUFFER ? "NEXT_BUFFER" : "READONLY_BUFFER"
            }; pickle without buffer_callback)`,
          );
          break;
        default:
          this.invalid(
            `unknown opcode 0x${op.toString(16).padStart(2, "0")}`,
          );
      }
    }
  }

  /** Reads a line as UTF-8 text (module and class names). */
  utf8Line(what: string): string {
    const start = this.pos;
    const nl = this.lineEnd(what);
    this.pos = nl + 1;
    return new TextDecoder().decode(this.bytes.subarray(start, nl)).slice(
      0,
      200,
    );
  }

  /** A dict whose value is handed out now. */
  resolved(dict: PyDict): Record<string, unknown> | Map<unknown, unknown> {
    dict.used = true;
    return dict.value;
  }

  /**
   * Replaces every `PyDict` left in a container with its value, walking the
   * whole value without recursion (any depth, cycles included).
   */
  fixup(root: unknown): unknown {
    if (root instanceof PyDict) root = this.resolved(root);
    const todo: unknown[] = [root];
    const seen = new Set<object>();
    while (todo.length > 0) {
      const value = todo.pop();
      if (typeof value !== "object" || value === null || seen.has(value)) {
        continue;
      }
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          let item = value[i];
          if (item instanceof PyDict) value[i] = item = this.resolved(item);
          if (typeof item === "object" && item !== null) todo.push(item);
        }
      } else if (value instanceof Map) {
        let rebuild = false;
        for (const [key, item] of value) {
          if (key instanceof PyDict) rebuild = true;
          else if (item instanceof PyDict) value.set(key, this.resolved(item));
        }
        if (rebuild) {
          const entries = [...value];
          value.clear();
          for (const [key, item] of entries) {
            value.set(
              key instanceof PyDict ? this.resolved(key) : key,
              item instanceof PyDict ? this.resolved(item) : item,
            );
          }
        }
        for (const [key, item] of value) todo.push(key, item);
      } else if (value instanceof Set) {
        let rebuild = false;
        for (const item of value) if (item instanceof PyDict) rebuild = true;
        if (rebuild) {
          const items = [...value];
          value.clear();
          for (const item of items) {
            value.add(item instanceof PyDict ? this.resolved(item) : item);
          }
        }
        for (const item of value) todo.push(item);
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) continue;
        const object = value as Record<string, unknown>;
        for (const key of Object.keys(object)) {
          let item = object[key];
          if (item instanceof PyDict) {
            setOwn(object, key, item = this.resolved(item));
          }
          if (typeof item === "object" && item !== null) todo.push(item);
        }
      }
    }
    return root;
  }
}

/** Is `c` an ASCII hex digit? */
function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

let sharedDecoder: Decoder | null = null;

/**
 * Decodes a pickle of plain data (protocols 0–5, as CPython writes them; see
 * the module table for the types).
 *
 * Identity is kept: a Python object referenced twice arrives as one
 * JavaScript object, and self-references arrive as cycles. Integers arrive
 * as numbers when safe, else as `bigint`; tuples as arrays; a dict as a
 * plain object when every key is a `str` (an own `"__proto__"` key is a
 * normal property), else as a `Map`; `set` and `frozenset` as `Set`;
 * `bytes` and `bytearray` as fresh `Uint8Array`s.
 *
 * @example Usage
 * ```ts
 * import { decodePickle } from "./_pickle.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * // pickle.dumps({"a": (1, 2)}, protocol=2)
 * const bytes = new Uint8Array([
 *   0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1,
 *   0x4b, 1, 0x4b, 2, 0x86, 0x71, 2, 0x73, 0x2e,
 * ]);
 * deepStrictEqual(decodePickle(bytes), { a: [1, 2] });
 * ```
 *
 * @param bytes Exactly one pickle (bytes after its STOP are an error).
 * @param options A `persistentLoad` hook.
 * @returns The value; nothing in it aliases `bytes`.
 * @throws {TypeError} For Python objects that are not plain data (the
 * message names the type, e.g. `Cannot unpickle a datetime.datetime: …`),
 * unknown opcodes, invalid text or UTF-8, and operands of the wrong type.
 * @throws {RangeError} For truncated input, lengths past its end, stack
 * underflow, unset memo entries and trailing bytes.
 */
export function decodePickle(
  bytes: Uint8Array,
  options?: PickleDecodeOptions,
): unknown {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot unpickle: expected a Uint8Array, received ${
        bytes === null ? "null" : typeof bytes
      }`,
    );
  }
  const persistentLoad = options?.persistentLoad;
  if (persistentLoad !== undefined && typeof persistentLoad !== "function") {
    throw new TypeError(
      `Cannot unpickle: persistentLoad must be a function, received ${typeof persistentLoad}`,
    );
  }
  const decoder = sharedDecoder ?? new Decoder();
  sharedDecoder = null; // persistentLoad may unpickle while we run
  try {
    return decoder.decode(bytes, persistentLoad);
  } finally {
    sharedDecoder = decoder;
  }
}

/**
 * The serializer named `"pickle"`: plain data as CPython's `pickle` writes
 * and reads it, so a queue can carry items between JavaScript and Python
 * (`multiprocessing`'s `ForkingPickler` produces and loads the same bytes).
 *
 * `encode` writes protocol 4: `null`/`undefined` → `None`, booleans, numbers
 * (integral ones as `int`, others and `-0` as `float`), `bigint` → `int`,
 * strings, `Uint8Array` → `bytes`, arrays → `list`, plain objects and `Map`
 * → `dict` (arrays in keys become tuples), `Set` → `set`. It throws
 * `TypeError` for anything else, with the path, e.g.
 * `Cannot pickle a Date at $.when`.
 *
 * `decode` reads protocols 0–5: tuples arrive as arrays, a dict as a plain
 * object when all its keys are strings (else a `Map`), `frozenset` as `Set`,
 * `bytearray` as `Uint8Array`, integers as numbers when safe (else
 * `bigint`). Class instances and other Python types throw a `TypeError`
 * naming the type.
 *
 * @example Usage
 * ```ts
 * import { pickle } from "@mp/queues";
 * import { deepStrictEqual, throws } from "node:assert/strict";
 *
 * const value = { n: [1, 2.5, -0], big: 2n ** 80n, tags: new Set(["a"]) };
 * deepStrictEqual(pickle.decode(pickle.encode(value)), value);
 *
 * throws(() => pickle.encode({ when: new Date(0) }), {
 *   name: "TypeError",
 *   message: "Cannot pickle a Date at $.when",
 * });
 * ```
 */
export const pickle: Serializer = Object.freeze({
  name: "pickle",
  encode: (value: unknown): Uint8Array => encodePickle(value),
  decode: (bytes: Uint8Array): unknown => decodePickle(bytes),
});
