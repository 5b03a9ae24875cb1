/**
 * The MessagePack codec behind the default `msgpack` serializer (internal).
 *
 * Plain data (`null`, booleans, numbers, well-formed strings, `Uint8Array`,
 * arrays, plain objects) is written as standard MessagePack, so any MessagePack
 * decoder reads it. Everything else JavaScript can hold and MessagePack cannot
 * is written as an extension value; the type numbers are fixed, in this table:
 *
 * | ext type | value                       | payload                                                        |
 * |---------:|-----------------------------|----------------------------------------------------------------|
 * |        0 | `undefined`                 | empty                                                          |
 * |        1 | `bigint` (any size)         | sign byte (0 = non-negative, 1 = negative), magnitude big-endian without leading zero bytes |
 * |        2 | `Date` (also invalid)       | float64 big-endian: `getTime()` (`NaN` for an invalid date)    |
 * |        3 | `ArrayBuffer`               | its bytes                                                      |
 * |        4 | `DataView`                  | the bytes it views                                             |
 * |        5 | `Int8Array`                 | the bytes it views (elements little-endian, as in memory)      |
 * |        6 | `Uint8ClampedArray`         | 〃                                                             |
 * |        7 | `Int16Array`                | 〃                                                             |
 * |        8 | `Uint16Array`               | 〃                                                             |
 * |        9 | `Int32Array`                | 〃                                                             |
 * |       10 | `Uint32Array`               | 〃                                                             |
 * |       11 | `Float32Array`              | 〃                                                             |
 * |       12 | `Float64Array`              | 〃                                                             |
 * |       13 | `BigInt64Array`             | 〃                                                             |
 * |       14 | `BigUint64Array`            | 〃                                                             |
 * |       15 | `Float16Array`              | 〃 (decoding needs a runtime that has `Float16Array`)          |
 * |       16 | `Map`                       | key, value, key, value, … as concatenated MessagePack values  |
 * |       17 | `Set`                       | the elements as concatenated MessagePack values                |
 * |       18 | `Error` and subclasses      | a MessagePack map with the keys `name`, and when present `message`, `stack`, `cause`, `errors` |
 * |       19 | `RegExp`                    | two MessagePack strings: `source`, `flags` (`lastIndex` is not kept) |
 * |       20 | string with lone surrogates | its UTF-16 code units, little-endian                           |
 *
 * `Uint8Array` (and subclasses such as Node's `Buffer`) is MessagePack `bin`
 * and decodes to a fresh `Uint8Array`. The MessagePack timestamp extension
 * (type -1) written by other encoders decodes to a `Date`.
 *
 * Numbers: safe integers (except `-0`) use the smallest integer form; other
 * numbers use float32 when that is exact, float64 otherwise, so `-0`, `NaN`
 * and `±Infinity` round-trip. A foreign 64-bit integer outside the safe range
 * decodes to a `bigint` rather than a rounded number.
 *
 * Strings are UTF-8 `str`. A string with a lone surrogate (not well-formed
 * UTF-16) cannot be UTF-8, so it is written as ext type 20 and round-trips
 * exactly; invalid UTF-8 in a `str` makes `decode` throw.
 *
 * Shared references are written once per occurrence (they arrive as copies);
 * circular references throw. Arrays keep only their elements (holes arrive as
 * `undefined`), errors keep only the fields listed above.
 *
 * @module
 */

import {
  article,
  isStackOverflow,
  keyLiteral,
  propertySegment,
} from "./_value_paths.ts";

/** Ext type numbers, see the module table. */
export const ExtType = {
  Undefined: 0,
  BigInt: 1,
  Date: 2,
  ArrayBuffer: 3,
  DataView: 4,
  Int8Array: 5,
  Uint8ClampedArray: 6,
  Int16Array: 7,
  Uint16Array: 8,
  Int32Array: 9,
  Uint32Array: 10,
  Float32Array: 11,
  Float64Array: 12,
  BigInt64Array: 13,
  BigUint64Array: 14,
  Float16Array: 15,
  Map: 16,
  Set: 17,
  Error: 18,
  RegExp: 19,
  Utf16String: 20,
} as const;

/**
 * Containers nested deeper than this are refused by `encode` and `decode`.
 * (The codec recurses; V8's default stack holds a few thousand levels, and a
 * stack overflow is reported as the same kind of error.)
 */
export const MAX_DEPTH = 1000;
/**
 * The longest array that is encoded: 2^27 elements, V8's limit for an array
 * that is not sparse.
 */
export const MAX_ARRAY = 2 ** 27;

/** The property that marks a queue object (set by the queue classes). */
const QUEUE_MARKER: unique symbol = Symbol.for("@mp/queues.queue") as never;

/** Depth above which the fast encoder pass restarts in careful mode. */
const FAST_DEPTH = 64;
/** The size of the slabs encoded values are written into. */
const SLAB_SIZE = 64 * 1024;
/** A new slab is started when less than this is left. */
const MIN_SLAB_ROOM = 1024;
/** `bin` values this large decode as views of a buffer that is ours. */
const VIEW_MIN = 4096;
/** Strings up to this length are encoded and decoded by hand. */
const SHORT_STRING = 48;

/** Thrown by the fast pass to ask for a careful pass (never escapes). */
const RESTART = { restart: true };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type TypedArrayCtor = {
  new (buffer: ArrayBuffer): ArrayBufferView;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

const globals = globalThis as unknown as Record<string, unknown>;

/** Typed array constructors by ext type (index = ext type). */
const TYPED_ARRAYS: (TypedArrayCtor | undefined)[] = [];
/** Ext type by `Symbol.toStringTag` of a typed array. */
const TYPED_ARRAY_EXT: Record<string, number> = { __proto__: null } as never;
for (
  const [name, ext] of [
    ["Int8Array", ExtType.Int8Array],
    ["Uint8ClampedArray", ExtType.Uint8ClampedArray],
    ["Int16Array", ExtType.Int16Array],
    ["Uint16Array", ExtType.Uint16Array],
    ["Int32Array", ExtType.Int32Array],
    ["Uint32Array", ExtType.Uint32Array],
    ["Float32Array", ExtType.Float32Array],
    ["Float64Array", ExtType.Float64Array],
    ["BigInt64Array", ExtType.BigInt64Array],
    ["BigUint64Array", ExtType.BigUint64Array],
    ["Float16Array", ExtType.Float16Array],
  ] as const
) {
  TYPED_ARRAYS[ext] = globals[name] as TypedArrayCtor | undefined;
  TYPED_ARRAY_EXT[name] = ext;
}

/** The error classes that arrive as themselves. */
const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  __proto__: null,
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError: AggregateError as unknown as ErrorConstructor,
} as never;

const nativeFunctionSource = /\{\s*\[native code\]\s*\}\s*$/;
const functionToString = Function.prototype.toString;
const ITERATOR_PROTOTYPES = new Map<object, string>([
  [
    Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())),
    "Iterator",
  ],
  [
    Object.getPrototypeOf(
      Object.getPrototypeOf(Object.getPrototypeOf((async function* () {})())),
    ),
    "AsyncIterator",
  ],
]);

/**
 * Classification of prototypes of class instances: `""` for an ordinary class
 * (its instances are encoded as plain objects), else a description ("a
 * WeakMap") of the built-in or platform class that makes its instances
 * unserializable.
 */
const prototypeKinds = new WeakMap<object, string>();
const BOXED = new Set<unknown>([Number, String, Boolean, Symbol, BigInt]);

function classifyPrototype(proto: object): string {
  const known = prototypeKinds.get(proto);
  if (known !== undefined) return known;
  let kind = "";
  const own = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
  const ownName = typeof own === "function" ? own.name : undefined;
  for (
    let p: object | null = proto;
    p !== null && p !== Object.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    const iterator = ITERATOR_PROTOTYPES.get(p);
    if (iterator !== undefined) {
      kind = article(iterator);
      break;
    }
    const ctor = Object.getOwnPropertyDescriptor(p, "constructor")?.value;
    if (typeof ctor !== "function") continue;
    const name = typeof ctor.name === "string" && ctor.name !== ""
      ? ctor.name
      : "built-in object";
    let platform = false;
    try {
      platform = nativeFunctionSource.test(functionToString.call(ctor)) ||
        globals[name] === ctor ||
        (typeof Deno === "object" &&
          (Deno as unknown as Record<string, unknown>)[name] === ctor);
    } catch {
      platform = true; // a revoked proxy or similar: not plain data
    }
    if (platform) {
      kind = article(BOXED.has(ctor) ? name + " object" : name);
      if (p !== proto && typeof ownName === "string" && ownName !== "") {
        kind = `${article(ownName)} (a subclass of ${name})`;
      }
      break;
    }
  }
  prototypeKinds.set(proto, kind);
  return kind;
}

// ---------------------------------------------------------------------------
// Encoder

/** Private buffers of big values, which `recycle` may take back. */
const bigBuffers = new WeakSet<ArrayBuffer>();
/** Big buffers given back by `recycle`, reused before allocating anew. */
const pool: ArrayBuffer[] = [];
let pooledBytes = 0;
/** At most this many bytes wait in the pool (what a queue has in flight). */
const POOL_BYTES = 16 << 20;
/** How a slab is used: by its encoder, and by the views handed out of it. */
interface SlabUse {
  /** Views handed out by `encode` and not given back by `recycle`. */
  views: number;
  /** An encoder writes into it (an encoder may run inside another). */
  inUse: boolean;
}
/** The use of each slab (weak: a slab nobody holds goes with it). */
const slabUses = new WeakMap<ArrayBuffer, SlabUse>();

/** A slab, new or freed, and its use record. */
function takeSlab(
  size: number,
): { slab: Uint8Array<ArrayBuffer>; use: SlabUse } {
  while (freeSlabs.length > 0 && freeSlabs[freeSlabs.length - 1].detached) {
    freeSlabs.pop();
  }
  const free = freeSlabs[freeSlabs.length - 1];
  const slab = free !== undefined && free.byteLength === size
    ? new Uint8Array(freeSlabs.pop()!)
    : new Uint8Array(size);
  const use = { views: 0, inUse: true };
  slabUses.set(slab.buffer, use);
  return { slab, use };
}
/** Slabs whose every view was given back, reused before allocating anew. */
const freeSlabs: ArrayBuffer[] = [];
/** At most this many slabs wait in `freeSlabs`. */
const FREE_SLABS = 64;

/** Keeps a free slab for reuse (the most recently freed first: still cached). */
function freeSlab(slab: ArrayBuffer): void {
  if (freeSlabs.length === FREE_SLABS) freeSlabs.shift();
  freeSlabs.push(slab);
}

/**
 * A buffer of at least `size` bytes for a big value: a pooled one (freshly
 * allocated memory costs page faults: ~100 µs for 64 KiB here) or a new one.
 */
function bigBuffer(size: number): Uint8Array {
  for (let i = pool.length - 1; i >= 0; i--) {
    const b = pool[i];
    if (b.byteLength >= size && b.byteLength <= 4 * size) {
      pool.splice(i, 1);
      pooledBytes -= b.byteLength;
      return new Uint8Array(b);
    }
  }
  const buf = new Uint8Array(size);
  bigBuffers.add(buf.buffer);
  return buf;
}

/**
 * Gives back the buffer of a big encoded value that nobody will read again
 * (a queue calls it once the bytes are in the pipe). Values in the shared
 * slab, or not made by this encoder, are ignored.
 */
export function recycle(encoded: Uint8Array): void {
  const b = encoded.buffer as ArrayBuffer;
  const use = slabUses.get(b);
  if (use !== undefined) {
    // A slab: free once every view of it came back and it is not the one
    // being written.
    if (--use.views === 0 && !use.inUse) {
      slabUses.delete(b);
      freeSlab(b);
    }
    return;
  }
  if (
    !bigBuffers.has(b) || pooledBytes + b.byteLength > POOL_BYTES ||
    pool.includes(b)
  ) return;
  pool.push(b);
  pooledBytes += b.byteLength;
}

/**
 * Encoding writes straight into a shared slab (like Node's `Buffer` pool) and
 * returns a view of the bytes written; the slab region is never written
 * again, so the view is owned by the caller. Allocating an `ArrayBuffer` costs
 * far more than encoding a small value, so this saves one per `encode`. A
 * value that outgrows the slab moves to a buffer of its own.
 */
class Encoder {
  slabSize: number;
  slab: Uint8Array<ArrayBuffer>;
  slabView: DataView;
  /** Where the next value starts in the slab. */
  slabPos = 0;
  /** The use record of `slab`. */
  slabUse: SlabUse;
  /** The buffer written to: the slab, or a private one for a big value. */
  buf: Uint8Array;
  view: DataView;
  /** Where the current value starts in `buf`. */
  start = 0;
  pos = 0;
  depth = 0;
  /** Careful mode: tracks the path and the ancestors (cycle detection). */
  careful = false;
  path: string[] = [];
  ancestors: Set<object> = new Set();
  encoder = new TextEncoder();

  constructor(slabSize: number) {
    this.slabSize = slabSize;
    const { slab, use } = takeSlab(slabSize);
    this.slab = this.buf = slab;
    this.slabUse = use;
    this.slabView = this.view = new DataView(slab.buffer);
  }

  newSlab(): void {
    // The old slab is free now if every view of it came back.
    this.slabUse.inUse = false;
    if (this.slabUse.views === 0) {
      slabUses.delete(this.slab.buffer);
      freeSlab(this.slab.buffer);
    }
    const { slab, use } = takeSlab(this.slabSize);
    this.slab = slab;
    this.slabUse = use;
    this.slabView = new DataView(slab.buffer);
    this.slabPos = 0;
  }

  encode(value: unknown): Uint8Array {
    if (
      this.slabSize - this.slabPos < MIN_SLAB_ROOM || this.slab.buffer.detached
    ) this.newSlab(); // (someone may have transferred a result's buffer)
    this.buf = this.slab;
    this.view = this.slabView;
    this.start = this.pos = this.slabPos;
    this.depth = 0;
    try {
      this.write(value);
    } catch (e) {
      if (e !== RESTART && !isStackOverflow(e)) throw e;
      this.pos = this.start;
      this.depth = 0;
      this.careful = true;
      try {
        this.write(value);
      } catch (e) {
        if (!isStackOverflow(e)) throw e;
        throw new TypeError(
          `Cannot serialize a value nested too deeply for the call stack at ${this.pathString()}`,
        );
      } finally {
        this.careful = false;
        this.path = [];
        this.ancestors.clear();
      }
    }
    const buf = this.buf;
    const pos = this.pos;
    if (buf === this.slab) {
      this.slabPos = (pos + 7) & ~7;
      this.slabUse.views++;
      return buf.subarray(this.start, pos);
    }
    // A private buffer (start is 0): hand it over unless mostly unused.
    this.buf = this.slab;
    this.view = this.slabView;
    if (buf.length - pos > pos >> 2) {
      const copy = buf.slice(0, pos);
      recycle(buf);
      return copy;
    }
    return buf.subarray(0, pos);
  }

  /**
   * Makes room for `n` more bytes. May move the value being written, so
   * positions kept across calls must be relative to `start`.
   */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    const need = used + n;
    let buf: Uint8Array;
    if (this.buf === this.slab && need <= this.slabSize >> 1) {
      this.newSlab();
      buf = this.slab;
    } else {
      // Room for this value plus 1/8 (a large Uint8Array fits at once, with
      // no second copy); doubling keeps repeated growth linear.
      buf = bigBuffer(
        Math.max(need + (need >> 3) + 64, used * 2, this.slabSize),
      );
    }
    buf.set(this.buf.subarray(this.start, this.pos));
    this.buf = buf;
    this.view = buf === this.slab ? this.slabView : new DataView(buf.buffer);
    this.start = 0;
    this.pos = used;
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

  fail(what: string, suffix = ""): never {
    if (!this.careful) throw RESTART;
    throw new TypeError(
      `Cannot serialize ${what} at ${this.pathString()}${suffix}`,
    );
  }

  write(value: unknown): void {
    switch (typeof value) {
      case "number":
        if (Number.isSafeInteger(value) && (value !== 0 || 1 / value > 0)) {
          this.writeInt(value);
        } else this.writeFloat(value);
        return;
      case "string":
        this.writeString(value);
        return;
      case "object":
        if (value === null) {
          this.ensure(1);
          this.buf[this.pos++] = 0xc0;
        } else if (Array.isArray(value)) {
          this.writeArray(value);
        } else {
          const proto = Object.getPrototypeOf(value);
          if (proto === Object.prototype || proto === null) {
            this.writePlainObject(value as Record<string, unknown>);
          } else this.writeOtherObject(value);
        }
        return;
      case "boolean":
        this.ensure(1);
        this.buf[this.pos++] = value ? 0xc3 : 0xc2;
        return;
      case "undefined":
        this.ensure(3);
        this.buf[this.pos++] = 0xc7;
        this.buf[this.pos++] = 0;
        this.buf[this.pos++] = ExtType.Undefined;
        return;
      case "bigint":
        this.writeBigInt(value);
        return;
      case "function":
        this.fail("a function");
        return;
      default:
        this.fail("a " + typeof value);
    }
  }

  writeInt(x: number): void {
    this.ensure(9);
    const buf = this.buf;
    let p = this.pos;
    if (x >= 0) {
      if (x < 0x80) {
        buf[p++] = x;
      } else if (x < 0x100) {
        buf[p++] = 0xcc;
        buf[p++] = x;
      } else if (x < 0x10000) {
        buf[p++] = 0xcd;
        buf[p++] = x >>> 8;
        buf[p++] = x;
      } else if (x < 0x100000000) {
        buf[p++] = 0xce;
        buf[p++] = x >>> 24;
        buf[p++] = x >>> 16;
        buf[p++] = x >>> 8;
        buf[p++] = x;
      } else {
        buf[p++] = 0xcf;
        const hi = Math.floor(x / 0x100000000);
        const lo = x >>> 0;
        buf[p++] = hi >>> 24;
        buf[p++] = hi >>> 16;
        buf[p++] = hi >>> 8;
        buf[p++] = hi;
        buf[p++] = lo >>> 24;
        buf[p++] = lo >>> 16;
        buf[p++] = lo >>> 8;
        buf[p++] = lo;
      }
    } else if (x >= -0x20) {
      buf[p++] = x & 0xff;
    } else if (x >= -0x80) {
      buf[p++] = 0xd0;
      buf[p++] = x & 0xff;
    } else if (x >= -0x8000) {
      buf[p++] = 0xd1;
      buf[p++] = x >> 8;
      buf[p++] = x;
    } else if (x >= -0x80000000) {
      buf[p++] = 0xd2;
      buf[p++] = x >> 24;
      buf[p++] = x >> 16;
      buf[p++] = x >> 8;
      buf[p++] = x;
    } else {
      buf[p++] = 0xd3;
      const hi = Math.floor(x / 0x100000000);
      const lo = (x - hi * 0x100000000) >>> 0;
      buf[p++] = hi >> 24;
      buf[p++] = hi >> 16;
      buf[p++] = hi >> 8;
      buf[p++] = hi;
      buf[p++] = lo >>> 24;
      buf[p++] = lo >>> 16;
      buf[p++] = lo >>> 8;
      buf[p++] = lo;
    }
    this.pos = p;
  }

  writeFloat(x: number): void {
    this.ensure(9);
    if (Math.fround(x) === x) {
      this.buf[this.pos] = 0xca;
      this.view.setFloat32(this.pos + 1, x);
      this.pos += 5;
    } else {
      this.buf[this.pos] = 0xcb;
      this.view.setFloat64(this.pos + 1, x);
      this.pos += 9;
    }
  }

  /** Writes a str header for `length` bytes at `p` (header size `size`). */
  strHeader(p: number, size: number, length: number): void {
    const buf = this.buf;
    switch (size) {
      case 1:
        buf[p] = 0xa0 | length;
        return;
      case 2:
        buf[p] = 0xd9;
        buf[p + 1] = length;
        return;
      case 3:
        buf[p] = 0xda;
        buf[p + 1] = length >>> 8;
        buf[p + 2] = length;
        return;
      default:
        buf[p] = 0xdb;
        buf[p + 1] = length >>> 24;
        buf[p + 2] = length >>> 16;
        buf[p + 3] = length >>> 8;
        buf[p + 4] = length;
    }
  }

  writeString(s: string): void {
    const n = s.length;
    // Reserve room for the worst case (3 bytes per UTF-16 code unit) and
    // guess the header from the ASCII length; fix it up when wrong.
    this.ensure(5 + 3 * n);
    const start = this.pos;
    const size = n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
    let length: number;
    if (n <= SHORT_STRING) {
      const buf = this.buf;
      let p = start + size;
      for (let i = 0; i < n; i++) {
        let c = s.charCodeAt(i);
        if (c < 0x80) {
          buf[p++] = c;
        } else if (c < 0x800) {
          buf[p++] = 0xc0 | (c >> 6);
          buf[p++] = 0x80 | (c & 0x3f);
        } else if (c < 0xd800 || c > 0xdfff) {
          buf[p++] = 0xe0 | (c >> 12);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
        } else {
          const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
          if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) {
            this.writeUtf16String(s);
            return;
          }
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 0x3f);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
        }
      }
      length = p - start - size;
    } else {
      if (!s.isWellFormed()) {
        this.writeUtf16String(s);
        return;
      }
      length = this.encoder.encodeInto(
        s,
        this.buf.subarray(start + size, start + size + 3 * n),
      ).written;
    }
    const needed = length < 32
      ? 1
      : length < 0x100
      ? 2
      : length < 0x10000
      ? 3
      : 5;
    if (needed !== size) {
      this.buf.copyWithin(
        start + needed,
        start + size,
        start + size + length,
      );
    }
    this.strHeader(start, needed, length);
    this.pos = start + needed + length;
  }

  /** A string with lone surrogates: ext 20, UTF-16LE code units. */
  writeUtf16String(s: string): void {
    const n = s.length;
    this.extHeader(ExtType.Utf16String, 2 * n);
    this.ensure(2 * n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      buf[p++] = c;
      buf[p++] = c >> 8;
    }
    this.pos = p;
  }

  /** Writes an ext header for a payload of known `length`. */
  extHeader(type: number, length: number): void {
    this.ensure(6);
    const buf = this.buf;
    let p = this.pos;
    switch (length) {
      case 1:
        buf[p++] = 0xd4;
        break;
      case 2:
        buf[p++] = 0xd5;
        break;
      case 4:
        buf[p++] = 0xd6;
        break;
      case 8:
        buf[p++] = 0xd7;
        break;
      case 16:
        buf[p++] = 0xd8;
        break;
      default:
        if (length < 0x100) {
          buf[p++] = 0xc7;
          buf[p++] = length;
        } else if (length < 0x10000) {
          buf[p++] = 0xc8;
          buf[p++] = length >>> 8;
          buf[p++] = length;
        } else {
          buf[p++] = 0xc9;
          buf[p++] = length >>> 24;
          buf[p++] = length >>> 16;
          buf[p++] = length >>> 8;
          buf[p++] = length;
        }
    }
    buf[p++] = type;
    this.pos = p;
  }

  /**
   * Reserves room for the largest ext header; returns where it starts,
   * relative to the start of the value.
   */
  beginExt(): number {
    this.ensure(6);
    const start = this.pos - this.start;
    this.pos += 6;
    return start;
  }

  /** Writes the ext header reserved by `beginExt`, shrinking it to fit. */
  endExt(relativeStart: number, type: number): void {
    const start = this.start + relativeStart;
    const end = this.pos;
    const length = end - start - 6;
    this.pos = start;
    this.extHeader(type, length);
    const headerEnd = this.pos;
    if (headerEnd !== start + 6) {
      this.buf.copyWithin(headerEnd, start + 6, end);
    }
    this.pos = headerEnd + length;
  }

  writeBytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  writeBigInt(value: bigint): void {
    const negative = value < 0n;
    let hex = (negative ? -value : value).toString(16);
    if (hex === "0") hex = "";
    if (hex.length & 1) hex = "0" + hex;
    const m = hex.length >> 1;
    this.extHeader(ExtType.BigInt, 1 + m);
    this.ensure(1 + m);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = negative ? 1 : 0;
    for (let i = 0; i < m; i++) {
      buf[p++] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    }
    this.pos = p;
  }

  writeMapHeader(n: number): void {
    this.ensure(5);
    const buf = this.buf;
    if (n < 16) {
      buf[this.pos++] = 0x80 | n;
    } else if (n < 0x10000) {
      buf[this.pos++] = 0xde;
      buf[this.pos++] = n >>> 8;
      buf[this.pos++] = n;
    } else {
      buf[this.pos++] = 0xdf;
      buf[this.pos++] = n >>> 24;
      buf[this.pos++] = n >>> 16;
      buf[this.pos++] = n >>> 8;
      buf[this.pos++] = n;
    }
  }

  /** Depth and cycle bookkeeping when entering a container. */
  enter(value: object): void {
    const depth = ++this.depth;
    if (this.careful) {
      if (depth > MAX_DEPTH) {
        this.fail(`a value nested more than ${MAX_DEPTH} levels deep`);
      }
      if (this.ancestors.has(value)) this.fail("a circular reference");
      this.ancestors.add(value);
    } else if (depth > FAST_DEPTH) {
      throw RESTART;
    }
  }

  leave(value: object): void {
    if (this.careful) this.ancestors.delete(value);
    this.depth--;
  }

  writeArray(array: unknown[]): void {
    const n = array.length;
    if (n > MAX_ARRAY) {
      // Only a sparse array is this long: its holes alone would be gigabytes.
      if (!this.careful) throw RESTART;
      throw new RangeError(
        `Cannot serialize an array of length ${n} at ${this.pathString()}: longer than ${MAX_ARRAY} elements (a sparse array; send its entries instead)`,
      );
    }
    this.enter(array);
    this.ensure(5);
    const buf = this.buf;
    if (n < 16) {
      buf[this.pos++] = 0x90 | n;
    } else if (n < 0x10000) {
      buf[this.pos++] = 0xdc;
      buf[this.pos++] = n >>> 8;
      buf[this.pos++] = n;
    } else {
      buf[this.pos++] = 0xdd;
      buf[this.pos++] = n >>> 24;
      buf[this.pos++] = n >>> 16;
      buf[this.pos++] = n >>> 8;
      buf[this.pos++] = n;
    }
    if (this.careful) {
      const path = this.path;
      for (let i = 0; i < n; i++) {
        path.push("[" + i + "]");
        this.write(array[i]);
        path.pop();
      }
    } else {
      for (let i = 0; i < n; i++) this.write(array[i]);
    }
    this.leave(array);
  }

  /** Objects that are neither arrays nor plain objects. */
  writeOtherObject(value: object): void {
    if (value instanceof Uint8Array) {
      const n = value.length;
      this.ensure(5);
      const buf = this.buf;
      if (n < 0x100) {
        buf[this.pos++] = 0xc4;
        buf[this.pos++] = n;
      } else if (n < 0x10000) {
        buf[this.pos++] = 0xc5;
        buf[this.pos++] = n >>> 8;
        buf[this.pos++] = n;
      } else {
        buf[this.pos++] = 0xc6;
        buf[this.pos++] = n >>> 24;
        buf[this.pos++] = n >>> 16;
        buf[this.pos++] = n >>> 8;
        buf[this.pos++] = n;
      }
      this.writeBytes(value);
    } else if (this.writeLeafObject(value)) {
      return;
    } else if (value instanceof Map) {
      this.writeMap(value);
    } else if (value instanceof Set) {
      this.writeSet(value);
    } else if (value instanceof Error) {
      this.writeError(value);
    } else {
      // A class instance: its own enumerable string-keyed properties.
      this.writePlainObject(value as Record<string, unknown>);
    }
  }

  writeSet(set: Set<unknown>): void {
    this.enter(set);
    const start = this.beginExt();
    const careful = this.careful;
    let i = 0;
    for (const element of set) {
      if (careful) this.path.push(".values()[" + i++ + "]");
      this.write(element);
      if (careful) this.path.pop();
    }
    this.endExt(start, ExtType.Set);
    this.leave(set);
  }

  writePlainObject(object: Record<string, unknown>): void {
    if (QUEUE_MARKER in object) {
      this.fail(
        "a queue",
        ": queues cross into workers only through spawn() args",
      );
    }
    this.enter(object);
    const keys = Object.keys(object);
    const n = keys.length;
    this.writeMapHeader(n);
    if (this.careful) {
      const path = this.path;
      for (let i = 0; i < n; i++) {
        const key = keys[i];
        this.writeString(key);
        path.push(propertySegment(key));
        this.write(object[key]);
        path.pop();
      }
    } else {
      for (let i = 0; i < n; i++) {
        const key = keys[i];
        this.writeString(key);
        this.write(object[key]);
      }
    }
    this.leave(object);
  }

  writeMap(map: Map<unknown, unknown>): void {
    this.enter(map);
    const start = this.beginExt();
    if (this.careful) {
      const path = this.path;
      let i = 0;
      for (const [key, value] of map) {
        path.push(".keys()[" + i + "]");
        this.write(key);
        path.pop();
        const literal = keyLiteral(key);
        path.push(
          literal === undefined
            ? ".values()[" + i + "]"
            : ".get(" + literal + ")",
        );
        this.write(value);
        path.pop();
        i++;
      }
    } else {
      for (const [key, value] of map) {
        this.write(key);
        this.write(value);
      }
    }
    this.endExt(start, ExtType.Map);
    this.leave(map);
  }

  writeError(error: Error): void {
    this.enter(error);
    const start = this.beginExt();
    const message = error.message;
    // DOMException and others have `message` as a prototype getter.
    const hasMessage = Object.hasOwn(error, "message") ||
      (typeof message === "string" && message !== "");
    const stack = error.stack;
    const hasCause = Object.hasOwn(error, "cause");
    const hasErrors = Object.hasOwn(error, "errors");
    this.writeMapHeader(
      1 + +hasMessage + +(stack !== undefined) + +hasCause + +hasErrors,
    );
    const field = (key: string, value: unknown) => {
      this.writeString(key);
      if (this.careful) this.path.push("." + key);
      this.write(value);
      if (this.careful) this.path.pop();
    };
    field("name", error.name);
    if (hasMessage) field("message", message);
    if (stack !== undefined) field("stack", stack);
    if (hasCause) field("cause", error.cause);
    if (hasErrors) field("errors", (error as AggregateError).errors);
    this.endExt(start, ExtType.Error);
    this.leave(error);
  }

  /**
   * Writes a non-container object that is not a plain object or an array.
   * Returns false for containers (Map, Set, Error, class instances).
   */
  writeLeafObject(value: object): boolean {
    if (ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(
        value.buffer,
        value.byteOffset,
        value.byteLength,
      );
      let type: number;
      if (value instanceof DataView) {
        type = ExtType.DataView;
      } else {
        type = TYPED_ARRAY_EXT[(value as Uint8Array)[Symbol.toStringTag]];
        if (type === undefined) {
          this.fail(article((value as Uint8Array)[Symbol.toStringTag]));
        }
        if (!LITTLE_ENDIAN && type !== ExtType.Int8Array) {
          this.fail(article(value.constructor.name) + " on a big-endian host");
        }
      }
      this.extHeader(type, bytes.length);
      this.writeBytes(bytes);
      return true;
    }
    if (value instanceof Date) {
      this.extHeader(ExtType.Date, 8);
      this.ensure(8);
      this.view.setFloat64(this.pos, value.getTime());
      this.pos += 8;
      return true;
    }
    if (value instanceof ArrayBuffer) {
      this.extHeader(ExtType.ArrayBuffer, value.byteLength);
      this.writeBytes(new Uint8Array(value));
      return true;
    }
    if (value instanceof RegExp) {
      const start = this.beginExt();
      this.writeString(value.source);
      this.writeString(value.flags);
      this.endExt(start, ExtType.RegExp);
      return true;
    }
    if (
      value instanceof Map || value instanceof Set || value instanceof Error
    ) {
      return false;
    }
    if (QUEUE_MARKER in value) {
      this.fail(
        "a queue",
        ": queues cross into workers only through spawn() args",
      );
    }
    const kind = classifyPrototype(Object.getPrototypeOf(value));
    if (kind !== "") this.fail(kind);
    return false;
  }
}

let sharedEncoder: Encoder | null = new Encoder(SLAB_SIZE);

/**
 * Encodes a value as MessagePack (with the ext types of the module table).
 *
 * @param value The value to encode.
 * @returns The bytes, owned by the caller. Small results are views into a
 * shared slab that is never written again (check `byteOffset` and
 * `byteLength` before using `.buffer`).
 * @throws {TypeError} If the value holds something that cannot be encoded;
 * the message names it and gives its path from `$`.
 * @throws {RangeError} For an array longer than {@linkcode MAX_ARRAY} (sparse).
 */
export function encode(value: unknown): Uint8Array {
  const encoder = sharedEncoder ?? new Encoder(MIN_SLAB_ROOM);
  sharedEncoder = null; // a getter may call encode() again while we run
  try {
    return encoder.encode(value);
  } finally {
    sharedEncoder = encoder;
  }
}

// ---------------------------------------------------------------------------
// Decoder

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

const EMPTY = new Uint8Array(0);
/** Map keys up to this many bytes are cached (ASCII only). */
const MAX_CACHED_KEY = 16;
const KEY_CACHE_SIZE = 4096;
const keyCache: string[] = new Array<string>(KEY_CACHE_SIZE).fill("");
const scratchBytes = new Uint8Array(8);
const scratch = new DataView(scratchBytes.buffer);

class Decoder {
  /** Whether big `bin` values may be views of the input (it is ours). */
  owned = false;
  bytes: Uint8Array = EMPTY;
  pos = 0;
  end = 0;
  depth = 0;
  utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  decode(bytes: Uint8Array): unknown {
    this.bytes = bytes;
    this.pos = 0;
    this.end = bytes.length;
    this.depth = 0;
    try {
      const value = this.read();
      if (this.pos !== this.end) {
        throw new RangeError(
          `Cannot decode msgpack: unexpected trailing bytes at byte ${this.pos}`,
        );
      }
      return value;
    } catch (e) {
      if (!isStackOverflow(e)) throw e;
      throw new RangeError(
        `Cannot decode msgpack: nesting too deep for the call stack at byte ${this.pos}`,
      );
    } finally {
      this.bytes = EMPTY;
    }
  }

  eof(at: number): never {
    throw new RangeError(
      `Cannot decode msgpack: unexpected end of ${
        this.end === this.bytes.length ? "input" : "ext payload"
      } at byte ${at}`,
    );
  }

  /** Checks that `n` more bytes are there; returns the current position. */
  need(n: number): number {
    const p = this.pos;
    if (n > this.end - p) this.eof(p);
    return p;
  }

  u8(): number {
    if (this.pos >= this.end) this.eof(this.pos);
    return this.bytes[this.pos++];
  }

  u16(): number {
    const p = this.need(2);
    const b = this.bytes;
    this.pos = p + 2;
    return (b[p] << 8) | b[p + 1];
  }

  u32(): number {
    const p = this.need(4);
    const b = this.bytes;
    this.pos = p + 4;
    return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
  }

  /** Loads `n` (4 or 8) bytes into the scratch view. */
  load(n: number): DataView {
    const p = this.need(n);
    const b = this.bytes;
    for (let i = 0; i < n; i++) scratchBytes[i] = b[p + i];
    this.pos = p + n;
    return scratch;
  }

  enter(): void {
    if (++this.depth > MAX_DEPTH) {
      throw new RangeError(
        `Cannot decode msgpack: nesting deeper than ${MAX_DEPTH} levels at byte ${
          this.pos - 1
        }`,
      );
    }
  }

  read(): unknown {
    if (this.pos >= this.end) this.eof(this.pos);
    const b = this.bytes[this.pos++];
    if (b < 0x80) return b;
    if (b < 0x90) return this.readMap(b & 0x0f);
    if (b < 0xa0) return this.readArray(b & 0x0f);
    if (b < 0xc0) return this.readString(b & 0x1f);
    if (b >= 0xe0) return b - 0x100;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.readBin(this.u8());
      case 0xc5:
        return this.readBin(this.u16());
      case 0xc6:
        return this.readBin(this.u32());
      case 0xc7:
        return this.readExt(this.u8());
      case 0xc8:
        return this.readExt(this.u16());
      case 0xc9:
        return this.readExt(this.u32());
      case 0xca:
        return this.load(4).getFloat32(0);
      case 0xcb:
        return this.load(8).getFloat64(0);
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        const hi = this.u32();
        const lo = this.u32();
        return hi < 0x200000
          ? hi * 0x100000000 + lo
          : (BigInt(hi) << 32n) | BigInt(lo);
      }
      case 0xd0:
        return (this.u8() << 24) >> 24;
      case 0xd1:
        return (this.u16() << 16) >> 16;
      case 0xd2:
        return this.u32() | 0;
      case 0xd3: {
        const hi = this.u32() | 0;
        const lo = this.u32();
        return hi >= -0x200000 && hi < 0x200000
          ? hi * 0x100000000 + lo
          : (BigInt(hi) << 32n) | BigInt(lo);
      }
      case 0xd4:
        return this.readExt(1);
      case 0xd5:
        return this.readExt(2);
      case 0xd6:
        return this.readExt(4);
      case 0xd7:
        return this.readExt(8);
      case 0xd8:
        return this.readExt(16);
      case 0xd9:
        return this.readString(this.u8());
      case 0xda:
        return this.readString(this.u16());
      case 0xdb:
        return this.readString(this.u32());
      case 0xdc:
        return this.readArray(this.u16());
      case 0xdd:
        return this.readArray(this.u32());
      case 0xde:
        return this.readMap(this.u16());
      case 0xdf:
        return this.readMap(this.u32());
      default:
        throw new TypeError(
          `Cannot decode msgpack: invalid type byte 0x${
            b.toString(16)
          } at byte ${this.pos - 1}`,
        );
    }
  }

  readString(n: number): string {
    const p = this.pos;
    if (n > this.end - p) this.eof(p);
    const b = this.bytes;
    if (n <= SHORT_STRING) {
      let s = "";
      for (let i = p, e = p + n; i < e; i++) {
        const c = b[i];
        if (c >= 0x80) return this.readUtf8(p, n);
        s += String.fromCharCode(c);
      }
      this.pos = p + n;
      return s;
    }
    return this.readUtf8(p, n);
  }

  readUtf8(p: number, n: number): string {
    let s: string;
    try {
      s = this.utf8.decode(this.bytes.subarray(p, p + n));
    } catch {
      throw new TypeError(
        `Cannot decode msgpack: invalid UTF-8 in the string at byte ${p}`,
      );
    }
    this.pos = p + n;
    return s;
  }

  readBin(n: number): Uint8Array {
    const p = this.need(n);
    this.pos = p + n;
    return this.owned && n >= VIEW_MIN
      ? this.bytes.subarray(p, p + n)
      : this.bytes.slice(p, p + n);
  }

  readArray(n: number): unknown[] {
    // Every element takes at least one byte.
    if (n > this.end - this.pos) this.eof(this.pos);
    this.enter();
    const array = new Array(n);
    for (let i = 0; i < n; i++) array[i] = this.read();
    this.depth--;
    return array;
  }

  readKey(): string {
    const at = this.pos;
    const bytes = this.bytes;
    const header = bytes[at];
    // Short ASCII keys come from a cache: no allocation, and the string is
    // already internalized for the property store.
    if (header > 0xa0 && header <= 0xa0 + MAX_CACHED_KEY && at < this.end) {
      const n = header & 0x1f;
      const start = at + 1;
      const end = start + n;
      if (end <= this.end) {
        let hash = n;
        let ascii = true;
        for (let i = start; i < end; i++) {
          const c = bytes[i];
          if (c >= 0x80) {
            ascii = false;
            break;
          }
          hash = Math.imul(hash ^ c, 0x01000193);
        }
        if (ascii) {
          const slot = (hash ^ (hash >>> 15)) & (KEY_CACHE_SIZE - 1);
          const cached = keyCache[slot];
          this.pos = end;
          if (cached.length === n) {
            let i = 0;
            while (i < n && cached.charCodeAt(i) === bytes[start + i]) i++;
            if (i === n) return cached;
          }
          let key = "";
          for (let i = start; i < end; i++) {
            key += String.fromCharCode(bytes[i]);
          }
          keyCache[slot] = key;
          return key;
        }
      }
    }
    const key = this.read();
    if (typeof key === "string") return key;
    if (typeof key === "number") return String(key);
    throw new TypeError(
      `Cannot decode msgpack: a map key at byte ${at} is not a string or a number`,
    );
  }

  readMap(n: number): Record<string, unknown> {
    // Every entry takes at least two bytes.
    if (n > (this.end - this.pos) / 2) this.eof(this.pos);
    this.enter();
    const object: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.readKey();
      const value = this.read();
      if (key === "__proto__") {
        Object.defineProperty(object, key, {
          value,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      } else object[key] = value;
    }
    this.depth--;
    return object;
  }

  malformed(what: string, at: number): never {
    throw new TypeError(
      `Cannot decode msgpack: malformed ${what} at byte ${at}`,
    );
  }

  readExt(n: number): unknown {
    const typeAt = this.pos;
    const rawType = this.u8();
    const type = (rawType << 24) >> 24;
    const p = this.need(n);
    const end = p + n;
    const b = this.bytes;
    switch (type) {
      case ExtType.Undefined:
        if (n !== 0) this.malformed("undefined", typeAt);
        return undefined;
      case ExtType.BigInt: {
        if (n === 0 || b[p] > 1) this.malformed("bigint", typeAt);
        this.pos = end;
        return this.bigint(p + 1, end, b[p] === 1);
      }
      case ExtType.Date: {
        if (n !== 8) this.malformed("Date", typeAt);
        const time = this.load(8).getFloat64(0);
        if (
          !Number.isNaN(time) &&
          (!Number.isInteger(time) || Math.abs(time) > 8.64e15)
        ) this.malformed("Date", typeAt);
        return new Date(time);
      }
      case -1:
        return this.timestamp(n, typeAt);
      case ExtType.ArrayBuffer:
        this.pos = end;
        return b.slice(p, end).buffer;
      case ExtType.DataView:
        this.pos = end;
        return new DataView(b.slice(p, end).buffer);
      case ExtType.Utf16String: {
        if (n & 1) this.malformed("UTF-16 string", typeAt);
        this.pos = end;
        const units = new Uint16Array(n >> 1);
        for (let i = 0, j = p; j < end; i++, j += 2) {
          units[i] = b[j] | (b[j + 1] << 8);
        }
        let s = "";
        for (let i = 0; i < units.length; i += 8192) {
          s += String.fromCharCode(...units.subarray(i, i + 8192));
        }
        return s;
      }
      case ExtType.Map:
      case ExtType.Set:
      case ExtType.Error:
      case ExtType.RegExp:
        return this.readContainerExt(type, end, typeAt);
    }
    const ctor = type >= ExtType.Int8Array && type <= ExtType.Float16Array
      ? TYPED_ARRAYS[type]
      : undefined;
    if (ctor === undefined) {
      if (type === ExtType.Float16Array) {
        throw new TypeError(
          `Cannot decode msgpack: Float16Array at byte ${typeAt} is not supported by this runtime`,
        );
      }
      throw new TypeError(
        `Cannot decode msgpack: unknown ext type ${type} at byte ${typeAt}`,
      );
    }
    if (n % ctor.BYTES_PER_ELEMENT !== 0) {
      this.malformed(ctor.name, typeAt);
    }
    this.pos = end;
    return new ctor(b.slice(p, end).buffer);
  }

  bigint(p: number, end: number, negative: boolean): bigint {
    const b = this.bytes;
    let value: bigint;
    if (end - p <= 6) {
      let x = 0;
      for (let i = p; i < end; i++) x = x * 256 + b[i];
      value = BigInt(x);
    } else {
      const parts: string[] = ["0x"];
      for (let i = p; i < end; i++) parts.push(HEX[b[i]]);
      try {
        value = BigInt(parts.join(""));
      } catch {
        throw new RangeError(
          `Cannot decode msgpack: a bigint of ${
            end - p
          } bytes is too large at byte ${p}`,
        );
      }
    }
    return negative ? -value : value;
  }

  timestamp(n: number, typeAt: number): Date {
    let seconds: number, nanoseconds: number;
    if (n === 4) {
      nanoseconds = 0;
      seconds = this.u32();
    } else if (n === 8) {
      const hi = this.u32();
      const lo = this.u32();
      nanoseconds = hi >>> 2;
      seconds = (hi & 3) * 0x100000000 + lo;
    } else if (n === 12) {
      nanoseconds = this.u32();
      const hi = this.u32() | 0;
      seconds = hi * 0x100000000 + this.u32();
    } else {
      this.malformed("timestamp", typeAt);
    }
    if (nanoseconds >= 1e9) this.malformed("timestamp", typeAt);
    return new Date(seconds * 1000 + Math.floor(nanoseconds / 1e6));
  }

  readContainerExt(type: number, end: number, typeAt: number): unknown {
    this.enter();
    const outerEnd = this.end;
    this.end = end;
    let value: unknown;
    switch (type) {
      case ExtType.Map: {
        const map = new Map();
        while (this.pos < end) {
          const key = this.read();
          map.set(key, this.read());
        }
        value = map;
        break;
      }
      case ExtType.Set: {
        const set = new Set();
        while (this.pos < end) set.add(this.read());
        value = set;
        break;
      }
      case ExtType.Error:
        value = this.readError(typeAt);
        break;
      default: {
        const source = this.read();
        const flags = this.read();
        if (typeof source !== "string" || typeof flags !== "string") {
          this.malformed("RegExp", typeAt);
        }
        try {
          value = new RegExp(source, flags);
        } catch {
          this.malformed("RegExp", typeAt);
        }
      }
    }
    if (this.pos !== end) this.malformed("ext payload", typeAt);
    this.end = outerEnd;
    this.depth--;
    return value;
  }

  readError(typeAt: number): Error {
    const b = this.u8();
    let n: number;
    if (b >= 0x80 && b < 0x90) n = b & 0x0f;
    else if (b === 0xde) n = this.u16();
    else if (b === 0xdf) n = this.u32();
    else this.malformed("error", typeAt);
    const fields: Record<string, unknown> = { __proto__: null } as never;
    for (let i = 0; i < n; i++) {
      const key = this.readKey();
      fields[key] = this.read();
    }
    const { name, message } = fields;
    if (
      typeof name !== "string" ||
      ("message" in fields && typeof message !== "string")
    ) this.malformed("error", typeAt);
    const Class = ERROR_CLASSES[name] ?? Error;
    const hasMessage = "message" in fields;
    const error = Class === (AggregateError as unknown)
      ? (hasMessage
        ? new AggregateError([], message as string)
        : new AggregateError([]))
      : hasMessage
      ? new Class(message as string)
      : new Class();
    const define = (key: string, value: unknown) =>
      Object.defineProperty(error, key, {
        value,
        writable: true,
        enumerable: false,
        configurable: true,
      });
    if (Class.name !== name) define("name", name);
    if ("stack" in fields) define("stack", fields.stack);
    else delete error.stack;
    if ("cause" in fields) define("cause", fields.cause);
    if ("errors" in fields) define("errors", fields.errors);
    return error;
  }
}

let sharedDecoder: Decoder | null = new Decoder();

/**
 * Decodes one MessagePack value (with the ext types of the module table).
 *
 * @param bytes Exactly one encoded value.
 * @returns The value; `bin` and typed arrays never alias `bytes`.
 * @throws {RangeError} On truncated input, trailing bytes, or nesting deeper
 * than {@linkcode MAX_DEPTH}.
 * @throws {TypeError} On invalid type bytes, unknown ext types, invalid UTF-8
 * and malformed ext payloads.
 */
export function decode(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot decode msgpack: expected a Uint8Array, got ${
        bytes === null ? "null" : typeof bytes
      }`,
    );
  }
  const decoder = sharedDecoder ?? new Decoder();
  sharedDecoder = null;
  try {
    return decoder.decode(bytes);
  } finally {
    sharedDecoder = decoder;
  }
}

/**
 * Like {@linkcode decode}, for a buffer nobody else holds (a frame a queue
 * read): a `bin` of {@linkcode VIEW_MIN} bytes or more is returned as a view
 * of it instead of a copy.
 */
export function decodeOwned(bytes: Uint8Array): unknown {
  const decoder = sharedDecoder ?? new Decoder();
  sharedDecoder = null;
  decoder.owned = true;
  try {
    return decoder.decode(bytes);
  } finally {
    decoder.owned = false;
    sharedDecoder = decoder;
  }
}
