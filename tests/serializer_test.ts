import {
  deepStrictEqual,
  notStrictEqual,
  ok,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import { Queue } from "../mod.ts";
import {
  decode as referenceDecode,
  encode as referenceEncode,
} from "@msgpack/msgpack";
import {
  bytes,
  msgpack,
  registerSerializer,
  type Serializer,
  serializerByName,
} from "../queues/serializer.ts";
import {
  decodeOwned,
  encode as rawEncode,
  ExtType,
  MAX_ARRAY,
  MAX_DEPTH,
  recycle,
} from "../queues/_msgpack.ts";

const QUEUE_MARKER = Symbol.for("@mp/queues.queue");

function roundTrip<T>(value: T): T {
  return msgpack.decode(msgpack.encode(value)) as T;
}

function assertRoundTrip(value: unknown): void {
  deepStrictEqual(roundTrip(value), value);
}

function assertEncodeThrows(value: unknown, message: string): void {
  throws(() => msgpack.encode(value), (e: unknown) => {
    ok(e instanceof TypeError, `expected a TypeError, got ${e}`);
    strictEqual(e.message, message);
    return true;
  });
}

/** The ext type of an encoded ext value. */
function extTypeOf(encoded: Uint8Array): number {
  const header = encoded[0];
  if (header >= 0xd4 && header <= 0xd8) return encoded[1];
  return encoded[{ 0xc7: 2, 0xc8: 3, 0xc9: 5 }[header as 0xc7] ?? 0];
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

// ---------------------------------------------------------------------------
// Primitives

Deno.test("msgpack round-trips null, undefined and booleans", () => {
  for (const value of [null, undefined, true, false]) {
    strictEqual(roundTrip(value), value);
  }
  assertRoundTrip([null, undefined, true, false]);
  assertRoundTrip({ a: undefined, b: null });
  ok(Object.hasOwn(roundTrip({ a: undefined }), "a"));
});

Deno.test("msgpack round-trips -0, NaN and ±Infinity", () => {
  ok(Object.is(roundTrip(-0), -0));
  ok(Object.is(roundTrip(0), 0));
  ok(Number.isNaN(roundTrip(NaN)));
  strictEqual(roundTrip(Infinity), Infinity);
  strictEqual(roundTrip(-Infinity), -Infinity);
  const [negativeZero] = roundTrip([-0]);
  ok(Object.is(negativeZero, -0));
  ok(Object.is(roundTrip({ z: -0 }).z, -0));
});

Deno.test("msgpack round-trips integers at every size boundary", () => {
  const values = [
    0,
    1,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 40 + 7,
    Number.MAX_SAFE_INTEGER,
    -1,
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    -(2 ** 31),
    -(2 ** 31) - 1,
    -(2 ** 32) - 5,
    -(2 ** 40) - 7,
    Number.MIN_SAFE_INTEGER,
  ];
  for (const value of values) {
    strictEqual(roundTrip(value), value, `round-trip of ${value}`);
  }
});

Deno.test("msgpack encodes integers in the smallest form", () => {
  deepStrictEqual(msgpack.encode(0), new Uint8Array([0x00]));
  deepStrictEqual(msgpack.encode(127), new Uint8Array([0x7f]));
  deepStrictEqual(msgpack.encode(-1), new Uint8Array([0xff]));
  deepStrictEqual(msgpack.encode(-32), new Uint8Array([0xe0]));
  deepStrictEqual(msgpack.encode(200), new Uint8Array([0xcc, 200]));
  deepStrictEqual(msgpack.encode(-100), new Uint8Array([0xd0, 0x9c]));
  deepStrictEqual(msgpack.encode(1000), new Uint8Array([0xcd, 0x03, 0xe8]));
  deepStrictEqual(msgpack.encode(-1000), new Uint8Array([0xd1, 0xfc, 0x18]));
  deepStrictEqual(
    msgpack.encode(2 ** 32),
    new Uint8Array([0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
  );
  deepStrictEqual(
    msgpack.encode(-(2 ** 32)),
    new Uint8Array([0xd3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
  );
});

Deno.test("msgpack round-trips floats exactly", () => {
  const values = [
    1.5,
    -1.5,
    0.1,
    Math.PI,
    1e300,
    -1e-300,
    Number.MIN_VALUE,
    Number.MAX_VALUE,
    Number.EPSILON,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 60),
    3.4028234663852886e38,
  ];
  for (const value of values) {
    strictEqual(roundTrip(value), value, `round-trip of ${value}`);
  }
  // -0 is not an integer on the wire.
  strictEqual(
    msgpack.encode(-0)[0] === 0xca || msgpack.encode(-0)[0] === 0xcb,
    true,
  );
});

Deno.test("msgpack round-trips strings", () => {
  const values = [
    "",
    "a",
    "hello",
    "x".repeat(31),
    "x".repeat(32),
    "x".repeat(255),
    "x".repeat(256),
    "x".repeat(70000),
    "héllo wörld",
    "ü".repeat(20),
    "ü".repeat(200),
    "日本語のテキスト",
    "emoji 😀🎉 and more",
    "😀".repeat(100),
    "\u{10ffff}",
    "\ufeffstarts with a BOM",
    "\0nul\0",
  ];
  for (const value of values) {
    strictEqual(roundTrip(value), value, `round-trip of ${value.slice(0, 20)}`);
  }
});

Deno.test("msgpack round-trips strings with lone surrogates exactly", () => {
  const values = [
    "\ud800",
    "\udc00",
    "a\ud800b",
    "\udbff\udbff",
    "end\ud83d",
    "\ude00start",
    "x".repeat(100) + "\ud800" + "y".repeat(100),
    "😀\ud800😀",
  ];
  for (const value of values) {
    const encoded = msgpack.encode(value);
    strictEqual(extTypeOf(encoded), ExtType.Utf16String);
    strictEqual(roundTrip(value), value);
  }
  deepStrictEqual(roundTrip({ "k\ud800": "v\udc00" }), {
    "k\ud800": "v\udc00",
  });
});

Deno.test("msgpack round-trips bigint of any size", () => {
  const values = [
    0n,
    1n,
    -1n,
    255n,
    256n,
    -256n,
    2n ** 53n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    2n ** 64n - 1n,
    2n ** 64n,
    -(2n ** 64n) - 1n,
    2n ** 1000n + 12345n,
    -(3n ** 5000n),
  ];
  for (const value of values) strictEqual(roundTrip(value), value);
  strictEqual(typeof roundTrip(1n), "bigint");
  assertRoundTrip({ a: [1n, -1n] });
});

// ---------------------------------------------------------------------------
// Binary data

Deno.test("msgpack round-trips Uint8Array as bin without aliasing", () => {
  for (const n of [0, 1, 255, 256, 65535, 65536, 100_000]) {
    const data = new Uint8Array(n).map((_, i) => i * 7);
    const encoded = msgpack.encode(data);
    const decoded = msgpack.decode(encoded) as Uint8Array;
    deepStrictEqual(decoded, data);
    if (n > 0) {
      encoded.fill(0);
      strictEqual(decoded[n - 1], data[n - 1], "decoded must not alias input");
    }
  }
  // A view encodes only the bytes it views.
  const buffer = new Uint8Array([9, 1, 2, 3, 9]);
  deepStrictEqual(roundTrip(buffer.subarray(1, 4)), new Uint8Array([1, 2, 3]));
  // Uint8Array is standard bin.
  deepStrictEqual(
    msgpack.encode(new Uint8Array([1, 2])),
    new Uint8Array([0xc4, 2, 1, 2]),
  );
});

Deno.test("msgpack round-trips every typed array kind", () => {
  const arrays: ArrayBufferView[] = [
    new Int8Array([-128, 0, 127]),
    new Uint8ClampedArray([0, 128, 255]),
    new Int16Array([-32768, 1, 32767]),
    new Uint16Array([0, 1, 65535]),
    new Int32Array([-(2 ** 31), 5, 2 ** 31 - 1]),
    new Uint32Array([0, 2 ** 32 - 1]),
    new Float32Array([1.5, -0, NaN, Infinity]),
    new Float64Array([Math.PI, -0, NaN, -Infinity]),
    new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n]),
    new BigUint64Array([0n, 2n ** 64n - 1n]),
    new Int16Array(0),
  ];
  const Float16 = (globalThis as Record<string, unknown>).Float16Array as
    | (new (values: number[]) => ArrayBufferView)
    | undefined;
  if (Float16) arrays.push(new Float16([1.5, -2, 65504]));
  for (const array of arrays) {
    const decoded = roundTrip(array);
    strictEqual(
      Object.getPrototypeOf(decoded),
      Object.getPrototypeOf(array),
    );
    deepStrictEqual(decoded, array);
  }
  // A view at an unaligned offset of a larger buffer.
  const big = new Uint8Array(17);
  const view = new Float64Array(big.buffer, 8, 1);
  view[0] = -0;
  const decoded = roundTrip(view);
  strictEqual(decoded.length, 1);
  strictEqual(decoded.byteOffset, 0);
  ok(Object.is(decoded[0], -0));
});

Deno.test("msgpack round-trips ArrayBuffer and DataView", () => {
  const buffer = new Uint8Array([1, 2, 3, 250]).buffer;
  const decoded = roundTrip(buffer);
  ok(decoded instanceof ArrayBuffer);
  deepStrictEqual(new Uint8Array(decoded), new Uint8Array([1, 2, 3, 250]));
  strictEqual(roundTrip(new ArrayBuffer(0)).byteLength, 0);
  const view = new DataView(new Uint8Array([0, 7, 8, 0]).buffer, 1, 2);
  const decodedView = roundTrip(view);
  ok(decodedView instanceof DataView);
  strictEqual(decodedView.byteLength, 2);
  strictEqual(decodedView.getUint16(0), 0x0708);
});

// ---------------------------------------------------------------------------
// Containers

Deno.test("msgpack round-trips arrays, with holes arriving as undefined", () => {
  assertRoundTrip([]);
  assertRoundTrip([1, "two", [3, [4, [5]]]]);
  assertRoundTrip(Array.from({ length: 100_000 }, (_, i) => i));
  // deno-lint-ignore no-sparse-arrays
  const holes = [1, , 3];
  const decoded = roundTrip(holes);
  deepStrictEqual(decoded, [1, undefined, 3]);
  ok(1 in decoded, "a hole arrives as an undefined element");
  const sparse: unknown[] = [];
  sparse[4] = "x";
  deepStrictEqual(roundTrip(sparse), [
    undefined,
    undefined,
    undefined,
    undefined,
    "x",
  ]);
});

Deno.test("msgpack round-trips plain objects and nesting", () => {
  assertRoundTrip({});
  assertRoundTrip({ i: 12345, s: "hello", f: 1.5 });
  const many: Record<string, number> = {};
  for (let i = 0; i < 70_000; i++) many["k" + i] = i;
  assertRoundTrip(many);
  assertRoundTrip({
    nested: { deeper: { deepest: [1, { x: new Map([[1, new Set([2n])]]) }] } },
    "key with spaces": 1,
    "": "empty key",
    "0": "index-like key",
  });
  // A null-prototype object arrives as a plain object.
  const bare = Object.assign(Object.create(null), { a: 1 });
  deepStrictEqual(roundTrip(bare), { a: 1 });
});

Deno.test("msgpack keeps a __proto__ key as an own property", () => {
  const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
  const decoded = roundTrip(value) as Record<string, unknown>;
  strictEqual(Object.getPrototypeOf(decoded), Object.prototype);
  ok(Object.hasOwn(decoded, "__proto__"));
  deepStrictEqual(
    Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value,
    {
      polluted: true,
    },
  );
  strictEqual(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("msgpack ignores symbol keys", () => {
  const value = { a: 1, [Symbol("hidden")]: 2, [QUEUE_MARKER.description!]: 3 };
  deepStrictEqual(roundTrip(value), { a: 1, "@mp/queues.queue": 3 });
});

Deno.test("msgpack round-trips Date, including an invalid one", () => {
  for (
    const date of [
      new Date(0),
      new Date(),
      new Date(-8.64e15),
      new Date(8.64e15),
    ]
  ) {
    const decoded = roundTrip(date);
    ok(decoded instanceof Date);
    strictEqual(decoded.getTime(), date.getTime());
  }
  const invalid = roundTrip(new Date(NaN));
  ok(invalid instanceof Date);
  ok(Number.isNaN(invalid.getTime()));
});

Deno.test("msgpack round-trips Map and Set with any keys", () => {
  assertRoundTrip(new Map());
  assertRoundTrip(new Set());
  assertRoundTrip(
    new Map<unknown, unknown>([
      ["a", 1],
      [2, "b"],
      [3n, null],
      [undefined, { x: [1] }],
      [{ obj: "key" }, new Set([1, "1", 1n])],
      [new Map([[1, 2]]), new Date(5)],
    ]),
  );
  assertRoundTrip(new Set([1, "x", { y: 2 }, [3], new Set([4])]));
  const decoded = roundTrip(new Map([["k", "v"]]));
  ok(decoded instanceof Map);
  strictEqual(decoded.get("k"), "v");
});

Deno.test("msgpack round-trips RegExp source and flags", () => {
  for (const re of [/a+b/gi, /^\d{3}$/u, new RegExp("", "s"), /x/dgimsuy]) {
    const decoded = roundTrip(re);
    ok(decoded instanceof RegExp);
    strictEqual(decoded.source, re.source);
    strictEqual(decoded.flags, re.flags);
  }
});

Deno.test("msgpack turns class instances into plain objects", () => {
  class Point {
    z = 3;
    constructor(public x: number, public y: number) {}
    get norm(): number {
      return Math.hypot(this.x, this.y);
    }
    scale(): void {}
  }
  const decoded = roundTrip(new Point(1, 2));
  strictEqual(Object.getPrototypeOf(decoded), Object.prototype);
  deepStrictEqual(decoded, { z: 3, x: 1, y: 2 });
  // Non-enumerable own properties are not copied.
  const hidden = Object.defineProperty({ a: 1 }, "b", {
    value: 2,
    enumerable: false,
  });
  deepStrictEqual(roundTrip(hidden), { a: 1 });
  // Subclasses of built-in containers arrive as the built-in.
  class MyMap extends Map<string, number> {}
  const map = roundTrip(new MyMap([["a", 1]]));
  strictEqual(Object.getPrototypeOf(map), Map.prototype);
  class MyArray extends Array<number> {}
  const array = roundTrip(MyArray.from([1, 2]));
  strictEqual(Object.getPrototypeOf(array), Array.prototype);
  deepStrictEqual(array, [1, 2]);
});

Deno.test("msgpack duplicates shared (non-circular) references", () => {
  const shared = { s: 1 };
  const decoded = roundTrip({ a: shared, b: shared, c: [shared, shared] });
  deepStrictEqual(decoded, {
    a: { s: 1 },
    b: { s: 1 },
    c: [{ s: 1 }, { s: 1 }],
  });
  notStrictEqual(decoded.a, decoded.b);
});

Deno.test("msgpack handles nesting up to the depth limit", () => {
  let value: unknown = "leaf";
  for (let i = 0; i < MAX_DEPTH; i++) value = i % 2 ? [value] : { v: value };
  let decoded = roundTrip(value);
  for (let i = MAX_DEPTH - 1; i >= 0; i--) {
    decoded = i % 2 ? (decoded as unknown[])[0] : (decoded as { v: unknown }).v;
  }
  strictEqual(decoded, "leaf");
  throws(() => msgpack.encode([value]), {
    name: "TypeError",
    message: new RegExp(
      `^Cannot serialize a value nested more than ${MAX_DEPTH} levels deep at \\$\\[0\\]\\[0\\]\\.v\\[0\\]`,
    ),
  });
});

// ---------------------------------------------------------------------------
// Errors

Deno.test("msgpack round-trips built-in error classes as themselves", () => {
  const classes = [
    Error,
    TypeError,
    RangeError,
    SyntaxError,
    ReferenceError,
    EvalError,
    URIError,
  ];
  for (const Class of classes) {
    const error = new Class("boom " + Class.name);
    const decoded = roundTrip(error);
    strictEqual(Object.getPrototypeOf(decoded), Class.prototype);
    strictEqual(decoded.name, Class.name);
    strictEqual(decoded.message, error.message);
    strictEqual(decoded.stack, error.stack);
    ok(!Object.hasOwn(decoded, "name"));
    deepStrictEqual(decoded, error);
  }
});

Deno.test("msgpack keeps an error's cause, stack and AggregateError errors", () => {
  const inner = new RangeError("inner");
  const error = new TypeError("outer", { cause: inner });
  const decoded = roundTrip(error);
  ok(decoded.cause instanceof RangeError);
  strictEqual((decoded.cause as Error).message, "inner");
  strictEqual((decoded.cause as Error).stack, inner.stack);
  strictEqual(
    Object.getOwnPropertyDescriptor(decoded, "cause")?.enumerable,
    false,
  );

  // Any serializable cause, including undefined (present but undefined).
  deepStrictEqual(roundTrip(new Error("x", { cause: { code: 7n } })).cause, {
    code: 7n,
  });
  const undefinedCause = roundTrip(new Error("x", { cause: undefined }));
  ok(Object.hasOwn(undefinedCause, "cause"));
  ok(!Object.hasOwn(roundTrip(new Error("x")), "cause"));

  const aggregate = new AggregateError(
    [new Error("a"), new URIError("b"), "not an error"],
    "many",
    { cause: 1 },
  );
  const decodedAggregate = roundTrip(aggregate);
  ok(decodedAggregate instanceof AggregateError);
  strictEqual(decodedAggregate.message, "many");
  strictEqual(decodedAggregate.cause, 1);
  strictEqual(decodedAggregate.errors.length, 3);
  ok(decodedAggregate.errors[1] instanceof URIError);
  strictEqual(decodedAggregate.errors[2], "not an error");
  strictEqual(decodedAggregate.stack, aggregate.stack);

  // A custom stack, and an error without one.
  const custom = new Error("s");
  custom.stack = "my stack";
  strictEqual(roundTrip(custom).stack, "my stack");
  const stackless = new Error("s");
  delete stackless.stack;
  strictEqual(roundTrip(stackless).stack, undefined);

  // An error without an own message.
  const noMessage = roundTrip(new Error());
  ok(!Object.hasOwn(noMessage, "message"));
  strictEqual(noMessage.message, "");
});

Deno.test("msgpack turns custom errors into Error with the same name", () => {
  class ValidationError extends Error {
    override name = "ValidationError";
    field = "email";
  }
  const error = new ValidationError("bad email", { cause: "x" });
  const decoded = roundTrip(error);
  strictEqual(Object.getPrototypeOf(decoded), Error.prototype);
  strictEqual(decoded.name, "ValidationError");
  strictEqual(decoded.message, "bad email");
  strictEqual(decoded.stack, error.stack);
  strictEqual(decoded.cause, "x");
  strictEqual(String(decoded), "ValidationError: bad email");

  class PrototypeNamed extends RangeError {}
  PrototypeNamed.prototype.name = "PrototypeNamed";
  const other = roundTrip(new PrototypeNamed("p"));
  strictEqual(Object.getPrototypeOf(other), Error.prototype);
  strictEqual(other.name, "PrototypeNamed");

  // A subclass that keeps a built-in name arrives as that built-in.
  class MyTypeError extends TypeError {}
  strictEqual(
    Object.getPrototypeOf(roundTrip(new MyTypeError("t"))),
    TypeError.prototype,
  );

  const domException = roundTrip(new DOMException("stop", "AbortError"));
  strictEqual(domException.name, "AbortError");
  strictEqual(domException.message, "stop");
});

Deno.test("msgpack round-trips errors nested in data", () => {
  const value = {
    results: [1, new RangeError("r")],
    map: new Map([["e", new Error("m")]]),
  };
  const decoded = roundTrip(value);
  ok(decoded.results[1] instanceof RangeError);
  strictEqual((decoded.results[1] as Error).message, "r");
  strictEqual(decoded.map.get("e")?.message, "m");
});

// ---------------------------------------------------------------------------
// Unserializable values

Deno.test("msgpack rejects functions with their path", () => {
  assertEncodeThrows(() => {}, "Cannot serialize a function at $");
  assertEncodeThrows({ fn() {} }, "Cannot serialize a function at $.fn");
  assertEncodeThrows(
    { a: [1, 2, { fn() {} }] },
    "Cannot serialize a function at $.a[2].fn",
  );
  assertEncodeThrows(
    [[[{ "key with spaces": { "x-y": [0, class {}] } }]]],
    'Cannot serialize a function at $[0][0][0]["key with spaces"]["x-y"][1]',
  );
  assertEncodeThrows(
    { m: new Map<unknown, unknown>([["k", 1], ["k2", () => 1]]) },
    'Cannot serialize a function at $.m.get("k2")',
  );
  assertEncodeThrows(
    { m: new Map<unknown, unknown>([[1, 1], [2n, [Math.max]]]) },
    "Cannot serialize a function at $.m.get(2n)[0]",
  );
  assertEncodeThrows(
    { m: new Map<unknown, unknown>([[{}, { f: Math.max }]]) },
    "Cannot serialize a function at $.m.values()[0].f",
  );
  assertEncodeThrows(
    { m: new Map<unknown, unknown>([["a", 1], [Math.max, 1]]) },
    "Cannot serialize a function at $.m.keys()[1]",
  );
  assertEncodeThrows(
    { s: new Set([1, 2, () => 3]) },
    "Cannot serialize a function at $.s.values()[2]",
  );
  assertEncodeThrows(
    new Error("x", { cause: { f: () => 1 } }),
    "Cannot serialize a function at $.cause.f",
  );
  assertEncodeThrows(
    new AggregateError([1, () => 1]),
    "Cannot serialize a function at $.errors[1]",
  );
});

Deno.test("msgpack rejects symbols as values with their path", () => {
  assertEncodeThrows(Symbol("s"), "Cannot serialize a symbol at $");
  assertEncodeThrows(
    { a: { b: Symbol.iterator } },
    "Cannot serialize a symbol at $.a.b",
  );
  assertEncodeThrows(
    [0, [1, Symbol()]],
    "Cannot serialize a symbol at $[1][1]",
  );
});

Deno.test("msgpack rejects circular references with their path", () => {
  const self: Record<string, unknown> = { a: 1 };
  self.self = self;
  assertEncodeThrows(self, "Cannot serialize a circular reference at $.self");

  const array: unknown[] = [1];
  array.push({ back: array });
  assertEncodeThrows(
    array,
    "Cannot serialize a circular reference at $[1].back",
  );

  const deep: Record<string, unknown> = {};
  let node = deep;
  for (let i = 0; i < 100; i++) {
    node = (node.next = {}) as Record<string, unknown>;
  }
  node.loop = deep;
  assertEncodeThrows(
    { root: deep },
    `Cannot serialize a circular reference at $.root${
      ".next".repeat(100)
    }.loop`,
  );

  const map = new Map<string, unknown>();
  map.set("me", map);
  assertEncodeThrows(
    { map },
    'Cannot serialize a circular reference at $.map.get("me")',
  );

  const error = new Error("e");
  error.cause = { error };
  assertEncodeThrows(
    error,
    "Cannot serialize a circular reference at $.cause.error",
  );
});

Deno.test("msgpack rejects queues with their path", () => {
  class FakeQueue {
    [QUEUE_MARKER] = true;
    items = [1];
  }
  const message = (path: string) =>
    `Cannot serialize a queue at ${path}: queues cross into workers only through spawn() args`;
  assertEncodeThrows(new FakeQueue(), message("$"));
  assertEncodeThrows({ q: new FakeQueue() }, message("$.q"));
  assertEncodeThrows([1, { jobs: [new FakeQueue()] }], message("$[1].jobs[0]"));
  assertEncodeThrows({ q: { [QUEUE_MARKER]: true } }, message("$.q"));
  assertEncodeThrows(new Map([["q", new FakeQueue()]]), message('$.get("q")'));
});

Deno.test("msgpack rejects built-in and platform objects it cannot copy", () => {
  assertEncodeThrows({ w: new WeakMap() }, "Cannot serialize a WeakMap at $.w");
  assertEncodeThrows([new WeakSet()], "Cannot serialize a WeakSet at $[0]");
  assertEncodeThrows(
    { r: new WeakRef({}) },
    "Cannot serialize a WeakRef at $.r",
  );
  assertEncodeThrows(
    { p: Promise.resolve(1) },
    "Cannot serialize a Promise at $.p",
  );
  assertEncodeThrows(
    new SharedArrayBuffer(4),
    "Cannot serialize a SharedArrayBuffer at $",
  );
  assertEncodeThrows(
    { n: new Number(1) },
    "Cannot serialize a Number object at $.n",
  );
  assertEncodeThrows(
    { s: new String("s") },
    "Cannot serialize a String object at $.s",
  );
  assertEncodeThrows(
    { u: new URL("https://example.com") },
    "Cannot serialize a URL at $.u",
  );
  assertEncodeThrows({ h: new Headers() }, "Cannot serialize a Headers at $.h");
  assertEncodeThrows(
    { i: [1].values() },
    "Cannot serialize an Iterator at $.i",
  );
  class Target extends EventTarget {}
  assertEncodeThrows(
    { t: new Target() },
    "Cannot serialize a Target (a subclass of EventTarget) at $.t",
  );
});

Deno.test("msgpack leaves the encoder usable after an error", () => {
  assertEncodeThrows({ f: () => 1 }, "Cannot serialize a function at $.f");
  assertRoundTrip({ ok: [1, 2, 3] });
  const self: unknown[] = [];
  self.push(self);
  assertEncodeThrows(self, "Cannot serialize a circular reference at $[0]");
  assertRoundTrip({ ok: [1, 2, 3] });
  // Exceptions from getters pass through unchanged.
  const boom = new Error("getter");
  throws(() =>
    msgpack.encode({
      get x() {
        throw boom;
      },
    }), (e) => e === boom);
  assertRoundTrip("still fine");
});

Deno.test("msgpack encode results are owned by the caller and encode is reentrant", () => {
  const a = msgpack.encode({ a: 1 });
  const copy = a.slice();
  const results = Array.from(
    { length: 10_000 },
    (_, i) => msgpack.encode({ i }),
  );
  deepStrictEqual(
    a,
    copy,
    "later encodes must not overwrite an earlier result",
  );
  results.forEach((bytes, i) => deepStrictEqual(msgpack.decode(bytes), { i }));
  // Transferring a result's buffer does not break later encodes.
  structuredClone(a, { transfer: [a.buffer] });
  strictEqual(a.byteLength, 0);
  assertRoundTrip({ after: "transfer" });
  // A big value gets a buffer of its own.
  const big = msgpack.encode("x".repeat(1_000_000));
  strictEqual(big.byteOffset, 0);
  strictEqual(big.buffer.byteLength, big.byteLength);
  const nested = {
    get inner() {
      return msgpack.encode({ deep: "x".repeat(5000) });
    },
    after: "y".repeat(3000),
  };
  const decoded = roundTrip(nested) as { inner: Uint8Array; after: string };
  deepStrictEqual(msgpack.decode(decoded.inner), { deep: "x".repeat(5000) });
  strictEqual(decoded.after, "y".repeat(3000));
});

// ---------------------------------------------------------------------------
// Wire compatibility

const plainValues: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  127,
  -33,
  255,
  -129,
  65536,
  -70000,
  2 ** 32 + 1,
  -(2 ** 40),
  Number.MAX_SAFE_INTEGER,
  1.5,
  0.1,
  -1e300,
  "",
  "hello",
  "héllo 😀",
  "x".repeat(300),
  new Uint8Array([1, 2, 3]),
  new Uint8Array(70_000),
  [],
  [1, "a", [true, null]],
  {},
  { i: 12345, s: "hello", f: 1.5, nested: { arr: [1, 2, { deep: "x" }] } },
  Array.from({ length: 20 }, (_, i) => ({ i, s: "v" + i })),
  Object.fromEntries(Array.from({ length: 20 }, (_, i) => ["k" + i, i])),
];

Deno.test("msgpack plain data is readable by @msgpack/msgpack", () => {
  for (const value of plainValues) {
    deepStrictEqual(referenceDecode(msgpack.encode(value)), value);
  }
});

Deno.test("msgpack decodes plain data written by @msgpack/msgpack", () => {
  for (const value of plainValues) {
    deepStrictEqual(msgpack.decode(referenceEncode(value)), value);
  }
  // The timestamp extension (type -1) arrives as a Date.
  const date = new Date(1_700_000_000_123);
  deepStrictEqual(msgpack.decode(referenceEncode(date)), date);
  deepStrictEqual(
    msgpack.decode(referenceEncode(new Date(-1000))),
    new Date(-1000),
  );
  // 64-bit integers outside the safe range arrive as bigint, not rounded.
  strictEqual(
    msgpack.decode(
      new Uint8Array([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ),
    2n ** 64n - 1n,
  );
  strictEqual(
    msgpack.decode(new Uint8Array([0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0])),
    -(2n ** 63n),
  );
});

Deno.test("msgpack keeps what @msgpack/msgpack loses (why the codec is custom)", () => {
  const options = { useBigInt64: true };
  const theirs = (value: unknown) =>
    referenceDecode(referenceEncode(value, options), options);
  // @msgpack/msgpack: undefined → null, -0 → 0, Map/Set/Error → {},
  // a large bigint is truncated, an invalid Date becomes the epoch,
  // Float64Array becomes bytes, a cycle is only caught by depth.
  deepStrictEqual(theirs({ a: undefined }), { a: null });
  ok(!Object.is(theirs(-0), -0));
  deepStrictEqual(theirs(new Map([[1, 2]])), {});
  deepStrictEqual(theirs(new Set([1])), {});
  deepStrictEqual(theirs(new Error("x")), {});
  notStrictEqual(theirs(2n ** 70n), 2n ** 70n);
  strictEqual((theirs(new Date(NaN)) as Date).getTime(), 0);
  ok(theirs(new Float64Array([1])) instanceof Uint8Array);
  const self: Record<string, unknown> = {};
  self.self = self;
  throws(() => theirs(self), /Too deep/);

  deepStrictEqual(roundTrip({ a: undefined }), { a: undefined });
  ok(Object.is(roundTrip(-0), -0));
  deepStrictEqual(roundTrip(new Map([[1, 2]])), new Map([[1, 2]]));
  strictEqual(roundTrip(2n ** 70n), 2n ** 70n);
  assertEncodeThrows(self, "Cannot serialize a circular reference at $.self");
});

// ---------------------------------------------------------------------------
// Malformed input

function assertDecodeThrows(
  input: number[] | Uint8Array,
  message?: string | RegExp,
): void {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  throws(() => msgpack.decode(bytes), (e: unknown) => {
    ok(
      e instanceof RangeError || e instanceof TypeError,
      `expected RangeError or TypeError for ${hex(bytes)}, got ${e}`,
    );
    ok(e.message.startsWith("Cannot decode msgpack: "), e.message);
    ok(!e.message.endsWith("."), e.message);
    if (typeof message === "string") strictEqual(e.message, message);
    else if (message) ok(message.test(e.message), e.message);
    return true;
  });
}

const complexValue = {
  n: [0, -1, 300, -70000, 2 ** 40, 1.5, 0.1, -0, NaN],
  s: ["", "short", "x".repeat(40), "ü😀", "\ud800"],
  big: [0n, -(2n ** 70n)],
  bin: new Uint8Array([1, 2, 3]),
  typed: [new Float64Array([1, 2]), new Int16Array([3])],
  buffer: new ArrayBuffer(2),
  view: new DataView(new ArrayBuffer(3)),
  when: [new Date(0), new Date(NaN)],
  map: new Map<unknown, unknown>([["a", 1], [{ k: 1 }, [2]]]),
  set: new Set([1, "two"]),
  error: new AggregateError([new TypeError("t")], "agg", { cause: undefined }),
  re: /x+/g,
  nothing: undefined,
};

Deno.test("msgpack decode throws on every truncation of a complex value", () => {
  const encoded = msgpack.encode(complexValue);
  deepStrictEqual(
    Object.keys(msgpack.decode(encoded) as object),
    Object.keys(complexValue),
  );
  for (let k = 0; k < encoded.length; k++) {
    assertDecodeThrows(encoded.subarray(0, k));
  }
});

Deno.test("msgpack decode rejects trailing bytes", () => {
  assertDecodeThrows(
    [0x01, 0x02],
    "Cannot decode msgpack: unexpected trailing bytes at byte 1",
  );
  const encoded = msgpack.encode({ a: 1 });
  assertDecodeThrows([...encoded, 0xc0], /trailing bytes at byte 4$/);
});

Deno.test("msgpack decode gives clear errors for malformed input", () => {
  assertDecodeThrows(
    [],
    "Cannot decode msgpack: unexpected end of input at byte 0",
  );
  assertDecodeThrows(
    [0xc1],
    "Cannot decode msgpack: invalid type byte 0xc1 at byte 0",
  );
  assertDecodeThrows(
    [0x92, 0x01],
    "Cannot decode msgpack: unexpected end of input at byte 1",
  );
  assertDecodeThrows(
    [0xa3, 0x61],
    "Cannot decode msgpack: unexpected end of input at byte 1",
  );
  assertDecodeThrows(
    [0xa2, 0xc3, 0x28],
    "Cannot decode msgpack: invalid UTF-8 in the string at byte 1",
  );
  assertDecodeThrows(
    [0xd4, 0x7f, 0x00],
    "Cannot decode msgpack: unknown ext type 127 at byte 1",
  );
  assertDecodeThrows(
    [0xd4, 0xf0, 0x00],
    "Cannot decode msgpack: unknown ext type -16 at byte 1",
  );
  // A map key that is neither a string nor a number.
  assertDecodeThrows(
    [0x81, 0xc0, 0x01],
    "Cannot decode msgpack: a map key at byte 1 is not a string or a number",
  );
  // Malformed ext payloads.
  assertDecodeThrows(
    [0xd4, ExtType.Undefined, 0x00],
    /malformed undefined at byte 1$/,
  );
  assertDecodeThrows([0xc7, 0, ExtType.BigInt], /malformed bigint at byte 2$/);
  assertDecodeThrows([0xd4, ExtType.BigInt, 0x02], /malformed bigint/);
  assertDecodeThrows([0xd6, ExtType.Date, 0, 0, 0, 0], /malformed Date/);
  assertDecodeThrows(
    [0xd7, ExtType.Date, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
    /malformed Date/,
  ); // 1.5 ms
  assertDecodeThrows([0xd5, ExtType.Int32Array, 0, 0], /malformed Int32Array/);
  assertDecodeThrows(
    [0xd4, ExtType.Utf16String, 0x41],
    /malformed UTF-16 string/,
  );
  // A Map payload whose last value runs past the payload.
  assertDecodeThrows(
    [0xd5, ExtType.Map, 0x01, 0x92, 0x01, 0x02],
    "Cannot decode msgpack: unexpected end of ext payload at byte 4",
  );
  // A Set payload followed by bytes that a value inside claims.
  assertDecodeThrows([0xd4, ExtType.Set, 0xa1, 0x61], /end of ext payload/);
  // An error whose payload is not a map, or whose name is not a string.
  assertDecodeThrows([0xd4, ExtType.Error, 0x01], /malformed error/);
  assertDecodeThrows(
    [0xd5, ExtType.Error, 0x80, 0xc0],
    /malformed error|trailing/,
  );
  assertDecodeThrows(
    [
      0xc7,
      7,
      ExtType.Error,
      0x81,
      0xa4,
      ...new TextEncoder().encode("name"),
      0x01,
    ],
    "Cannot decode msgpack: malformed error at byte 2",
  );
  // An invalid pattern: source "(" with no flags.
  assertDecodeThrows(
    [0xc7, 3, ExtType.RegExp, 0xa1, 0x28, 0xa0],
    "Cannot decode msgpack: malformed RegExp at byte 2",
  );
  assertDecodeThrows([0xc7, 2, ExtType.RegExp, 0xa0, 0x01], /malformed RegExp/);
  throws(() => msgpack.decode("not bytes" as unknown as Uint8Array), TypeError);
});

Deno.test("msgpack decode refuses huge declared lengths before allocating", () => {
  const huge = [0xff, 0xff, 0xff, 0xff];
  for (const type of [0xc6, 0xc9, 0xdb, 0xdd, 0xdf]) {
    // The data of an ext starts after its type byte.
    assertDecodeThrows(
      [type, ...huge, 0, 0, 0],
      `Cannot decode msgpack: unexpected end of input at byte ${
        type === 0xc9 ? 6 : 5
      }`,
    );
  }
  assertDecodeThrows([0xdc, 0xff, 0xff, 0x01], /unexpected end of input/);
  assertDecodeThrows([0xde, 0xff, 0xff, 0x01, 0x01], /unexpected end of input/);
  assertDecodeThrows([0xc5, 0xff, 0xff], /unexpected end of input/);
  // An array of 2^32-1 nils declared with only a few bytes present.
  assertDecodeThrows(
    [0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0],
    /unexpected end of input/,
  );
});

Deno.test("msgpack decode limits nesting depth", () => {
  const deep = new Uint8Array(MAX_DEPTH + 2).fill(0x91);
  assertDecodeThrows(
    deep,
    `Cannot decode msgpack: nesting deeper than ${MAX_DEPTH} levels at byte ${MAX_DEPTH}`,
  );
  const deepMaps = new Uint8Array(2 * 50_000);
  for (let i = 0; i < deepMaps.length; i += 2) deepMaps.set([0x81, 0x00], i);
  assertDecodeThrows(deepMaps, /nesting deeper than/);
  const deepSets = new Uint8Array(3 * 50_000);
  for (let i = 0; i < 50_000; i++) {
    deepSets.set([0xc7, 0xff, ExtType.Set], 3 * i);
  }
  assertDecodeThrows(deepSets, /nesting deeper than|end of/);
  // Exactly at the limit is fine.
  const ok = new Uint8Array(MAX_DEPTH + 1).fill(0x91);
  ok[MAX_DEPTH] = 0xc0;
  let value = msgpack.decode(ok);
  for (let i = 0; i < MAX_DEPTH; i++) value = (value as unknown[])[0];
  strictEqual(value, null);
});

function random(seed: number): () => number {
  // mulberry32
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function decodeOrOwnError(bytes: Uint8Array): void {
  try {
    msgpack.decode(bytes);
  } catch (e) {
    ok(
      (e instanceof RangeError || e instanceof TypeError) &&
        e.message.startsWith("Cannot decode msgpack: "),
      `unexpected error for ${hex(bytes)}: ${e}`,
    );
  }
}

Deno.test("msgpack decode of random bytes returns or throws its own errors", () => {
  const next = random(42);
  for (let i = 0; i < 20_000; i++) {
    const bytes = new Uint8Array(1 + Math.floor(next() * 40));
    for (let j = 0; j < bytes.length; j++) bytes[j] = next() * 256;
    decodeOrOwnError(bytes);
  }
});

Deno.test("msgpack decode of mutated valid input returns or throws its own errors", () => {
  const next = random(7);
  const encoded = msgpack.encode(complexValue);
  for (let i = 0; i < 20_000; i++) {
    const bytes = encoded.slice();
    const flips = 1 + Math.floor(next() * 3);
    for (let j = 0; j < flips; j++) {
      bytes[Math.floor(next() * bytes.length)] = next() * 256;
    }
    decodeOrOwnError(bytes);
  }
});

// ---------------------------------------------------------------------------
// The bytes serializer and the registry

Deno.test("bytes serializer passes Uint8Array through without copying", () => {
  strictEqual(bytes.name, "bytes");
  const data = new Uint8Array([1, 2, 3]);
  strictEqual(bytes.encode(data), data);
  strictEqual(bytes.decode(data), data);
  const view = data.subarray(1);
  strictEqual(bytes.encode(view), view);
});

Deno.test("bytes serializer rejects anything but Uint8Array with TypeError", () => {
  const cases: [unknown, string][] = [
    ["text", "string"],
    [1, "number"],
    [null, "null"],
    [undefined, "undefined"],
    [[1, 2], "Array"],
    [new ArrayBuffer(1), "ArrayBuffer"],
    [new Uint16Array(1), "Uint16Array"],
    [{}, "Object"],
    [Object.create(null), "object"],
  ];
  for (const [value, type] of cases) {
    throws(() => bytes.encode(value), {
      name: "TypeError",
      message: `The bytes serializer encodes only Uint8Array, got ${type} at $`,
    });
  }
});

Deno.test("registerSerializer registers custom serializers by name", () => {
  strictEqual(msgpack.name, "msgpack");
  strictEqual(serializerByName("msgpack"), msgpack);
  strictEqual(serializerByName("bytes"), bytes);
  strictEqual(serializerByName("test-unknown"), undefined);

  const first: Serializer = {
    name: "test-json",
    encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
    decode: (data) => JSON.parse(new TextDecoder().decode(data)),
  };
  registerSerializer(first);
  strictEqual(serializerByName("test-json"), first);
  registerSerializer(first);
  strictEqual(serializerByName("test-json"), first);

  // Another object under the same name replaces it.
  const second: Serializer = { ...first };
  registerSerializer(second);
  strictEqual(serializerByName("test-json"), second);

  // Built-ins may be registered again as themselves.
  registerSerializer(msgpack);
  registerSerializer(bytes);
  strictEqual(serializerByName("msgpack"), msgpack);
});

Deno.test("registerSerializer rejects nameless serializers and built-in names", () => {
  const base = { encode: bytes.encode, decode: bytes.decode };
  throws(() => registerSerializer(base), {
    name: "TypeError",
    message:
      "Cannot register a serializer without a name: give it a name property",
  });
  throws(() => registerSerializer({ ...base, name: "" }), TypeError);
  throws(() => registerSerializer({ ...base, name: "msgpack" }), {
    name: "TypeError",
    message:
      'Cannot register a serializer named "msgpack": the name belongs to a built-in serializer',
  });
  throws(() => registerSerializer({ ...base, name: "bytes" }), TypeError);
  throws(
    () => registerSerializer({ name: "x", encode: 1 } as unknown as Serializer),
    TypeError,
  );
  throws(() => registerSerializer(null as unknown as Serializer), TypeError);
  strictEqual(serializerByName("msgpack"), msgpack);
  strictEqual(serializerByName("bytes"), bytes);
});

Deno.test("msgpack encoder reuses a big payload's buffer only after recycle(), and never a slab or foreign buffer", () => {
  const a = rawEncode(new Uint8Array(100_000).fill(1));
  const b = rawEncode(new Uint8Array(100_000).fill(2));
  ok(a.buffer !== b.buffer, "a buffer was reused before it was given back");
  recycle(a);
  const c = rawEncode(new Uint8Array(100_000).fill(3));
  strictEqual(c.buffer, a.buffer, "a given-back buffer was not reused");
  ok(c.subarray(5).every((x) => x === 3));
  ok(b.subarray(5).every((x) => x === 2), "another payload was overwritten");
  // Small values live in the shared slab; foreign buffers are not ours.
  const small = rawEncode(42);
  recycle(small);
  const foreign = new Uint8Array(200_000);
  recycle(foreign);
  const d = rawEncode(new Uint8Array(150_000).fill(4));
  ok(d.buffer !== foreign.buffer && d.buffer !== small.buffer);
  deepStrictEqual(msgpack.decode(small), 42);
});

/**
 * Encodes 2,000-byte values (each filled with its index): `next()` encodes
 * one; `fresh()` the first one in a slab begun after the call (the current
 * slab holds earlier tests' values).
 */
function slabProbe(): { next: () => Uint8Array; fresh: () => Uint8Array } {
  let i = 0;
  const next = () => rawEncode(new Uint8Array(2000).fill(i++ & 0xff));
  const fresh = () => {
    const before = next().buffer;
    let first = next();
    while (first.buffer === before) first = next();
    return first;
  };
  return { next, fresh };
}

Deno.test("msgpack encoder reuses a slab only once every view of it was given back by recycle()", () => {
  const { next, fresh } = slabProbe();
  const first = fresh();
  // Views of that slab (A), up to the first value in the next one.
  const a: Uint8Array[] = [first];
  const slabA = a[0].buffer;
  for (;;) {
    const v = next();
    if (v.buffer !== slabA) break;
    a.push(v);
  }
  ok(a.length > 4, `${a.length} values in a slab`);
  // All but one come back: A is not reused, the one kept is intact.
  const kept = a.pop()!;
  const keptValue = msgpack.decode(kept.slice());
  for (const v of a) recycle(v);
  for (let k = 0; k < 200; k++) {
    ok(
      next().buffer !== slabA,
      "a slab with a view out was reused",
    );
  }
  deepStrictEqual(msgpack.decode(kept), keptValue);
  // The last one comes back: A is reused by a later slab.
  recycle(kept);
  let reused = false;
  for (let k = 0; k < 200 && !reused; k++) {
    reused = next().buffer === slabA;
  }
  ok(reused, "a slab whose every view came back was not reused");
});

Deno.test("msgpack encoder never reuses the slab an encode() is writing into, even when a getter inside it gives a payload back", () => {
  const { next, fresh } = slabProbe();
  // A fresh slab S holding one payload p.
  const first = fresh();
  const slabS = first.buffer;
  const p = next();
  strictEqual(p.buffer, slabS);
  recycle(first);
  // An item whose getter gives p (S's last payload out) back while the
  // item itself is being encoded into S (as a put inside a getter would).
  const outer = {
    get a() {
      recycle(p);
      return 1;
    },
    b: "x".repeat(100),
  };
  const o = rawEncode(outer);
  strictEqual(o.buffer, slabS);
  // S holds o: once the encoder moved on, S must not come back.
  let movedOn = false;
  for (let k = 0; k < 200; k++) {
    const v = next();
    movedOn ||= v.buffer !== slabS;
    ok(!movedOn || v.buffer !== slabS, "a slab with a payload out was reused");
  }
  ok(movedOn);
  deepStrictEqual(msgpack.decode(o), { a: 1, b: "x".repeat(100) });
});

Deno.test("decodeOwned() returns a big bin as a view of its input, a small one as a copy", () => {
  const big = rawEncode(new Uint8Array(10_000).fill(7));
  const v = decodeOwned(big) as Uint8Array;
  strictEqual(v.buffer, big.buffer);
  strictEqual(v.length, 10_000);
  const small = rawEncode(new Uint8Array(100).fill(7));
  const w = decodeOwned(small) as Uint8Array;
  ok(w.buffer !== small.buffer);
  // The public decode always copies.
  ok((msgpack.decode(big) as Uint8Array).buffer !== big.buffer);
});

Deno.test("a sparse array of length 2^32-1 is a RangeError at once, with its path, not a run towards 12 GiB (issue 12, item 8)", async () => {
  const huge: unknown[] = [];
  huge.length = 2 ** 32 - 1;
  huge[7] = "x";
  const t0 = performance.now();
  throws(() => msgpack.encode({ a: [huge] }), {
    name: "RangeError",
    message:
      "Cannot serialize an array of length 4294967295 at $.a[0]: longer than 134217728 elements (a sparse array; send its entries instead)",
  });
  await using q = new Queue<unknown>();
  await rejects(q.put(huge), RangeError);
  strictEqual(q.qsize(), 0);
  ok(performance.now() - t0 < 1000, `${performance.now() - t0} ms`);
  // An array as long as the limit would still be encoded (not built here).
  strictEqual(MAX_ARRAY, 2 ** 27);
});
