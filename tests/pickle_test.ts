// The pickle codec (queues/cpython/_pickle.ts): round trips in Deno, against
// every CPython 3.8+ under ~/.pyenv/versions in both directions, its errors,
// and a fuzz of the decoder.
//
// MPQ_FUZZ_N (default 20,000) random and mutated inputs for the fuzz test;
// MPQ_FUZZ_SEED makes a run repeatable (the seed is printed).

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  decodePickle,
  encodePickle,
  MAX_DEPTH,
  pickle,
} from "../queues/cpython/_pickle.ts";
import { type Rng, rng } from "./_util.ts";

const FUZZ_N = Number(Deno.env.get("MPQ_FUZZ_N") ?? 20_000);
const SEED = Number(
  Deno.env.get("MPQ_FUZZ_SEED") ?? (Date.now() % 0x7fffffff),
);

// ----------------------------------------------------------------- helpers

/** One CPython interpreter. */
interface Python {
  version: string;
  path: string;
}

/** Every CPython 3.8+ under ~/.pyenv/versions, oldest first. */
function findPythons(): Python[] {
  const root = `${Deno.env.get("HOME") ?? "/root"}/.pyenv/versions`;
  const found: (Python & { minor: number })[] = [];
  try {
    for (const entry of Deno.readDirSync(root)) {
      const m = /^3\.(\d+)\.\d+$/.exec(entry.name);
      if (m === null || Number(m[1]) < 8) continue;
      const path = `${root}/${entry.name}/bin/python3`;
      try {
        Deno.statSync(path);
      } catch {
        continue;
      }
      found.push({ version: entry.name, path, minor: Number(m[1]) });
    }
  } catch {
    // no pyenv: the discovery test fails
  }
  found.sort((a, b) => a.minor - b.minor);
  return found.map(({ version, path }) => ({ version, path }));
}

const PYTHONS = findPythons();
const VERSIONS = PYTHONS.map((p) => p.version).join(", ");

/** Runs `python -c script args…` (stdin from `input`); returns its stdout. */
async function runPython(
  python: Python,
  script: string,
  args: string[],
  input?: Uint8Array,
): Promise<Uint8Array> {
  const child = new Deno.Command(python.path, {
    args: ["-c", script, ...args],
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(input);
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `CPython ${python.version} failed:\n${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return out.stdout;
}

/** Splits records framed as a 4-byte little-endian length and the bytes. */
function records(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  for (let p = 0; p < bytes.length;) {
    const n = view.getUint32(p, true);
    out.push(bytes.subarray(p + 4, p + 4 + n));
    p += 4 + n;
  }
  return out;
}

/** Frames `parts` as `records` reads them. */
function framed(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let p = 0;
  for (const part of parts) {
    view.setUint32(p, part.length, true);
    out.set(part, p + 4);
    p += 4 + part.length;
  }
  return out;
}

/** The Python helper that writes records to stdout. */
const PY_EMIT = `
import struct, sys
def emit(b):
    sys.stdout.buffer.write(struct.pack("<I", len(b)))
    sys.stdout.buffer.write(bytes(b))
`;

/** Bytes 0, 1, …, 255 repeated to `n` bytes. */
function ramp(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i & 0xff;
  return b;
}

/** A plain object with an own "__proto__" property. */
function protoKey(value: unknown): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  Object.defineProperty(o, "__proto__", {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
  return o;
}

/** Asserts that `fn` throws `Class` with a message that starts "Cannot unpickle". */
function throwsUnpickle(
  fn: () => unknown,
  Class: typeof RangeError | typeof TypeError,
  includes: string,
): void {
  throws(fn, (e: unknown) => {
    ok(e instanceof Class, `expected ${Class.name}, got ${e}`);
    ok(e.message.startsWith("Cannot unpickle"), e.message);
    ok(e.message.includes(includes), `"${e.message}" lacks "${includes}"`);
    return true;
  });
}

// ------------------------------------------------------- Deno → Deno

Deno.test("pickle round-trips the type table in Deno (bigints in the safe range and integral numbers past it change type, as documented)", () => {
  const cases: [unknown, unknown][] = [
    [null, null],
    [undefined, null],
    [true, true],
    [false, false],
    [0, 0],
    [-0, -0],
    [1, 1],
    [-1, -1],
    [255, 255],
    [256, 256],
    [65535, 65535],
    [65536, 65536],
    [2 ** 31 - 1, 2 ** 31 - 1],
    [-(2 ** 31), -(2 ** 31)],
    [2 ** 31, 2 ** 31],
    [-(2 ** 31) - 1, -(2 ** 31) - 1],
    [2 ** 53 - 1, 2 ** 53 - 1],
    [-(2 ** 53 - 1), -(2 ** 53 - 1)],
    [2 ** 53, 2n ** 53n],
    [1e20, 100000000000000000000n],
    [-1e300, BigInt(-1e300)],
    [0.5, 0.5],
    [-2.5e-300, -2.5e-300],
    [NaN, NaN],
    [Infinity, Infinity],
    [-Infinity, -Infinity],
    [Number.MIN_VALUE, Number.MIN_VALUE],
    [0n, 0],
    [5n, 5],
    [-(2n ** 53n) + 1n, -(2 ** 53) + 1],
    [2n ** 53n, 2n ** 53n],
    [2n ** 64n, 2n ** 64n],
    [-(2n ** 100n), -(2n ** 100n)],
    [2n ** 4000n, 2n ** 4000n],
    [-(2n ** 4000n) - 1n, -(2n ** 4000n) - 1n],
    ["", ""],
    ["ascii", "ascii"],
    ["é€😀", "é€😀"],
    ["\ud800", "\ud800"],
    ["a\udfffb\ud800", "a\udfffb\ud800"],
    ["\udc00\ud800", "\udc00\ud800"],
    ["x".repeat(300), "x".repeat(300)],
    ["é".repeat(300), "é".repeat(300)],
    ["x".repeat(300) + "\ud83d", "x".repeat(300) + "\ud83d"],
    ["\ufeffbom", "\ufeffbom"],
    ["y".repeat(70_000), "y".repeat(70_000)],
    [new Uint8Array(0), new Uint8Array(0)],
    [ramp(255), ramp(255)],
    [ramp(256), ramp(256)],
    [ramp(70 * 1024), ramp(70 * 1024)],
    [[], []],
    [[1, [2, [3, [[]]]], "x"], [1, [2, [3, [[]]]], "x"]],
    // deno-lint-ignore no-sparse-arrays
    [[1, , 3], [1, null, 3]],
    [{}, {}],
    [{ a: 1, b: { c: [true, null] }, "d-e": "f" }, {
      a: 1,
      b: { c: [true, null] },
      "d-e": "f",
    }],
    [{ u: undefined }, { u: null }],
    [Object.assign(Object.create(null), { x: 1 }), { x: 1 }],
    [protoKey(1), protoKey(1)],
    [{ [Symbol("s")]: 1, k: 2 }, { k: 2 }],
    [
      new Map<unknown, unknown>([
        [1, "number"],
        [[1, [2, "x"]], "array"],
        [new Uint8Array([1, 2]), "bytes"],
        [null, "none"],
        [2.5, "float"],
        [2n ** 70n, "big"],
        ["s", "str"],
      ]),
      new Map<unknown, unknown>([
        [1, "number"],
        [[1, [2, "x"]], "array"],
        [new Uint8Array([1, 2]), "bytes"],
        [null, "none"],
        [2.5, "float"],
        [2n ** 70n, "big"],
        ["s", "str"],
      ]),
    ],
    [new Map([["only", "strings"]]), { only: "strings" }],
    [new Map(), {}],
    [
      new Set([1, "a", [2, [3]], new Uint8Array([9])]),
      new Set([1, "a", [2, [3]], new Uint8Array([9])]),
    ],
    [new Set(), new Set()],
    [
      Array.from({ length: 2500 }, (_, i) => i),
      Array.from({ length: 2500 }, (_, i) => i),
    ],
    [
      Object.fromEntries(Array.from({ length: 2500 }, (_, i) => ["k" + i, i])),
      Object.fromEntries(Array.from({ length: 2500 }, (_, i) => ["k" + i, i])),
    ],
    [
      new Map(Array.from({ length: 2500 }, (_, i) => [i, i])),
      new Map(Array.from({ length: 2500 }, (_, i) => [i, i])),
    ],
    [
      new Set(Array.from({ length: 2500 }, (_, i) => i)),
      new Set(Array.from({ length: 2500 }, (_, i) => i)),
    ],
  ];
  for (const [value, expected] of cases) {
    const bytes = encodePickle(value);
    strictEqual(bytes[0], 0x80, "PROTO");
    strictEqual(bytes[1], 4, "protocol 4");
    strictEqual(bytes[bytes.length - 1], 0x2e, "STOP");
    deepStrictEqual(decodePickle(bytes), expected, Deno.inspect(value));
    deepStrictEqual(pickle.decode(pickle.encode(value)), expected);
  }
  // A Uint8Array subclass is bytes; shared references arrive as copies.
  class Bytes extends Uint8Array {}
  deepStrictEqual(
    decodePickle(encodePickle(new Bytes([1, 2]))),
    new Uint8Array([1, 2]),
  );
  const x = [1];
  const shared = decodePickle(encodePickle([x, x])) as unknown[];
  deepStrictEqual(shared, [[1], [1]]);
  ok(shared[0] !== shared[1]);
});

Deno.test("pickle writes ints, bigints and floats in the forms CPython writes", () => {
  const hex = (v: unknown) =>
    Array.from(
      encodePickle(v).subarray(2, -1),
      (b) => b.toString(16).padStart(2, "0"),
    ).join(" ");
  strictEqual(hex(0), "4b 00");
  strictEqual(hex(255), "4b ff");
  strictEqual(hex(256), "4d 00 01");
  strictEqual(hex(65536), "4a 00 00 01 00");
  strictEqual(hex(-1), "4a ff ff ff ff");
  strictEqual(hex(2 ** 31), "8a 05 00 00 00 80 00");
  strictEqual(hex(-(2 ** 31) - 1), "8a 05 ff ff ff 7f ff");
  strictEqual(hex(0n), "8a 00");
  strictEqual(hex(1n), "8a 01 01");
  strictEqual(hex(-1n), "8a 01 ff");
  strictEqual(hex(127n), "8a 01 7f");
  strictEqual(hex(128n), "8a 02 80 00");
  strictEqual(hex(255n), "8a 02 ff 00");
  strictEqual(hex(-128n), "8a 01 80");
  strictEqual(hex(-129n), "8a 02 7f ff");
  strictEqual(hex(-256n), "8a 02 00 ff");
  strictEqual(hex(-0), "47 80 00 00 00 00 00 00 00");
  strictEqual(hex(1.5), "47 3f f8 00 00 00 00 00 00");
  ok(hex(2n ** 2040n).startsWith("8b 00 01 00 00 00"), "LONG4 past 255 bytes");
  strictEqual(hex(2n ** 2031n).slice(0, 5), "8a ff");
  strictEqual(hex("\ud800"), "8c 03 ed a0 80");
  strictEqual(hex("\ud83d\ude00"), "8c 04 f0 9f 98 80");
  // Batches of 1000: one APPENDS per batch, a lone last item by APPEND.
  const list = encodePickle(Array.from({ length: 2001 }, () => 0));
  strictEqual(list.filter((b) => b === 0x65).length, 2);
  strictEqual(list.filter((b) => b === 0x61).length, 1);
});

Deno.test("pickle keeps persistent ids: persistentId replaces a value by an id, persistentLoad turns it back", () => {
  const when = new Date(1234);
  const ids: unknown[] = [];
  const bytes = encodePickle({ a: when, b: [when], c: 1 }, {
    persistentId: (v) => v instanceof Date ? ["date", v.getTime()] : undefined,
  });
  const value = decodePickle(bytes, {
    persistentLoad: (id) => {
      ids.push(id);
      return new Date((id as [string, number])[1]);
    },
  });
  deepStrictEqual(value, { a: when, b: [when], c: 1 });
  deepStrictEqual(ids, [["date", 1234], ["date", 1234]]);
  throwsUnpickle(() => decodePickle(bytes), TypeError, "persistentLoad");
  // Errors of the hooks pass through unchanged.
  const boom = new Error("boom");
  throws(() =>
    decodePickle(bytes, {
      persistentLoad: () => {
        throw boom;
      },
    }), (e) => e === boom);
  throws(() =>
    encodePickle([{}], {
      persistentId: () => {
        throw boom;
      },
    }), (e) => e === boom);
  // The id itself is not offered to persistentId again.
  const nested = encodePickle([1], {
    persistentId: (v) => Array.isArray(v) ? ["id"] : undefined,
  });
  deepStrictEqual(
    decodePickle(nested, { persistentLoad: (id) => ({ loaded: id }) }),
    { loaded: ["id"] },
  );
});

Deno.test("encodePickle results stay intact after later encodes, big and small, and encode/decode may run inside persistentId/persistentLoad", () => {
  const values: unknown[] = [];
  const results: Uint8Array[] = [];
  for (let i = 0; i < 5000; i++) {
    const value = i % 500 === 0
      ? ramp(40_000 + i)
      : { i, s: "x".repeat(i % 70) };
    values.push(value);
    results.push(encodePickle(value));
  }
  results.forEach((bytes, i) =>
    deepStrictEqual(decodePickle(bytes), values[i])
  );
  // The id is itself a pickle, made and read while the outer one is.
  const bytes = encodePickle({ when: new Date(7), list: [new Date(8)] }, {
    persistentId: (v) =>
      v instanceof Date ? encodePickle({ t: v.getTime() }) : undefined,
  });
  const value = decodePickle(bytes, {
    persistentLoad: (id) =>
      new Date((decodePickle(id as Uint8Array) as { t: number }).t),
  });
  deepStrictEqual(value, { when: new Date(7), list: [new Date(8)] });
});

Deno.test('the pickle serializer is frozen, named "pickle", and encodes like encodePickle', () => {
  strictEqual(pickle.name, "pickle");
  ok(Object.isFrozen(pickle));
  deepStrictEqual(pickle.encode({ a: [1] }), encodePickle({ a: [1] }));
  deepStrictEqual(pickle.decode(encodePickle({ a: [1] })), { a: [1] });
});

// ------------------------------------------------------- Python → Deno

/** Python expressions, and what each arrives as; `check` for identity. */
const FROM_PYTHON: {
  name: string;
  expr: string;
  expected: unknown;
  check?: (value: unknown) => void;
}[] = [
  { name: "None", expr: "None", expected: null },
  { name: "True", expr: "True", expected: true },
  { name: "False", expr: "False", expected: false },
  {
    name: "small ints",
    expr: "[0, 1, -1, 255, 256, 65535, 65536, -65536]",
    expected: [0, 1, -1, 255, 256, 65535, 65536, -65536],
  },
  {
    name: "32-bit edges",
    expr: "[2**31 - 1, -2**31, 2**31, -2**31 - 1]",
    expected: [2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1],
  },
  {
    name: "safe edges",
    expr: "[2**53 - 1, -(2**53 - 1), 2**53, -(2**53)]",
    expected: [2 ** 53 - 1, -(2 ** 53 - 1), 2n ** 53n, -(2n ** 53n)],
  },
  {
    name: "big ints",
    expr: "[2**64, -(2**100), 10**40, 2**2100]",
    expected: [2n ** 64n, -(2n ** 100n), 10n ** 40n, 2n ** 2100n],
  },
  {
    name: "floats",
    expr: "[0.5, -0.0, 1e300, 5e-324, 2.0, -1.5e-10]",
    expected: [0.5, -0, 1e300, 5e-324, 2, -1.5e-10],
  },
  {
    name: "nan and infinities",
    expr: "[float('nan'), float('inf'), float('-inf')]",
    expected: [NaN, Infinity, -Infinity],
  },
  { name: "empty str", expr: "''", expected: "" },
  {
    name: "non-ASCII str",
    expr: "'\\xe9\\u20ac\\U0001f600'",
    expected: "é€😀",
  },
  {
    name: "lone surrogates",
    expr: "'\\ud800a\\udfff'",
    expected: "\ud800a\udfff",
  },
  {
    name: "long str with a lone surrogate",
    expr: "'x' * 100 + '\\udc00'",
    expected: "x".repeat(100) + "\udc00",
  },
  {
    name: "protocol 0 escapes",
    expr: "'\\\\ \\n \\r \\x00 \\x1a \\\\u0041 \\xff'",
    expected: "\\ \n \r \0 \x1a \\u0041 \xff",
  },
  { name: "BOM", expr: "'\\ufeffx'", expected: "\ufeffx" },
  { name: "300 chars", expr: "'\\xe9' * 300", expected: "é".repeat(300) },
  { name: "empty bytes", expr: "b''", expected: new Uint8Array(0) },
  { name: "bytes", expr: "bytes(range(256))", expected: ramp(256) },
  {
    name: "70 KiB bytes",
    expr: "bytes(range(256)) * 280",
    expected: ramp(256 * 280),
  },
  { name: "empty bytearray", expr: "bytearray()", expected: new Uint8Array(0) },
  {
    name: "bytearray",
    expr: "bytearray(b'a\\x00\\xff')",
    expected: new Uint8Array([0x61, 0, 0xff]),
  },
  {
    name: "bytes and bytearray in a list",
    expr: "[b'x', bytearray(b'y'), b'x']",
    expected: [
      new Uint8Array([0x78]),
      new Uint8Array([0x79]),
      new Uint8Array([0x78]),
    ],
  },
  {
    name: "lists",
    expr: "[1, [2, [3, []]], 'x']",
    expected: [1, [2, [3, []]], "x"],
  },
  {
    name: "tuples",
    expr: "((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4))",
    expected: [[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]],
  },
  {
    name: "dict",
    expr: "{'a': 1, 'b': [None, True], 'c': {'d': 'e'}}",
    expected: { a: 1, b: [null, true], c: { d: "e" } },
  },
  {
    name: "__proto__ key",
    expr: "{'__proto__': {'x': 1}}",
    expected: protoKey({ x: 1 }),
  },
  {
    name: "integer-like str keys",
    expr: "{'b': 1, '1': 2}",
    expected: { b: 1, "1": 2 },
  },
  {
    name: "tuple and other keys",
    expr:
      "{1: 'a', (1, (2, 'x')): 'b', b'k': 'c', None: 'd', 2.5: 'e', frozenset([1]): 'f', 's': 'g', False: 'h'}",
    expected: new Map<unknown, unknown>([
      [1, "a"],
      [[1, [2, "x"]], "b"],
      [new Uint8Array([0x6b]), "c"],
      [null, "d"],
      [2.5, "e"],
      [new Set([1]), "f"],
      ["s", "g"],
      [false, "h"],
    ]),
  },
  {
    name: "set",
    expr: "{1, 'a', (2, 3)}",
    expected: new Set([1, "a", [2, 3]]),
  },
  { name: "empty set", expr: "set()", expected: new Set() },
  { name: "frozenset", expr: "frozenset({1, 2})", expected: new Set([1, 2]) },
  { name: "empty frozenset", expr: "frozenset()", expected: new Set() },
  {
    name: "2500-item list",
    expr: "list(range(2500))",
    expected: Array.from({ length: 2500 }, (_, i) => i),
  },
  {
    name: "2500-key dict",
    expr: "{str(i): i for i in range(2500)}",
    expected: Object.fromEntries(
      Array.from({ length: 2500 }, (_, i) => [String(i), i]),
    ),
  },
  {
    name: "2500-item set",
    expr: "set(range(2500))",
    expected: new Set(Array.from({ length: 2500 }, (_, i) => i)),
  },
  {
    name: "shared list",
    expr: "shared_list()",
    expected: [[1], [1]],
    check: (v) => {
      const a = v as unknown[];
      strictEqual(a[0], a[1]);
    },
  },
  {
    name: "shared dict",
    expr: "shared_dict()",
    expected: [{ k: 1 }, { k: 1 }, { in: { k: 1 } }],
    check: (v) => {
      const a = v as [unknown, unknown, { in: unknown }];
      strictEqual(a[0], a[1]);
      strictEqual(a[2].in, a[0]);
    },
  },
  {
    name: "shared set and bytes",
    expr: "shared_set()",
    expected: [
      new Set([1]),
      new Set([1]),
      new Uint8Array([1]),
      new Uint8Array([1]),
    ],
    check: (v) => {
      const a = v as unknown[];
      strictEqual(a[0], a[1]);
      strictEqual(a[2], a[3]);
    },
  },
  {
    name: "self-referencing list",
    expr: "self_list()",
    expected: undefined,
    check: (v) => {
      const a = v as unknown[];
      strictEqual(a.length, 2);
      strictEqual(a[0], a);
      strictEqual(a[1], 7);
    },
  },
  {
    name: "self-referencing dict",
    expr: "self_dict()",
    expected: undefined,
    check: (v) => {
      const d = v as { self: unknown; t: unknown[]; n: number };
      strictEqual(d.self, d);
      strictEqual(d.t[0], d);
      strictEqual(d.n, 1);
      strictEqual(Object.getPrototypeOf(d), Object.prototype);
    },
  },
  {
    name: "self-referencing dict with an int key",
    expr: "self_int_dict()",
    expected: undefined,
    check: (v) => {
      ok(v instanceof Map);
      strictEqual((v.get(1) as unknown[])[0], v);
      strictEqual(v.get("s"), v);
    },
  },
  {
    name: "recursive tuple",
    expr: "self_tuple()",
    expected: undefined,
    check: (v) => {
      const t = v as unknown[][];
      strictEqual(t[0][0], t);
    },
  },
];

const PY_FROM = `${PY_EMIT}
import json, pickle, platform
from multiprocessing.reduction import ForkingPickler
def shared_list():
    x = [1]
    return [x, x]
def shared_dict():
    d = {'k': 1}
    return [d, d, {'in': d}]
def shared_set():
    s = {1}
    b = b'\\x01'
    return [s, s, b, b]
def self_list():
    x = []
    x.append(x)
    x.append(7)
    return x
def self_dict():
    d = {}
    d['self'] = d
    d['t'] = (d,)
    d['n'] = 1
    return d
def self_int_dict():
    d = {}
    d[1] = [d]
    d['s'] = d
    return d
def self_tuple():
    t = ([],)
    t[0].append(t)
    return t
protocols = list(range(pickle.HIGHEST_PROTOCOL + 1))
emit(json.dumps({"version": platform.python_version(), "protocols": protocols}).encode())
for expr in json.loads(sys.argv[1]):
    value = eval(expr)
    for protocol in protocols:
        emit(pickle.dumps(value, protocol))
    emit(ForkingPickler.dumps(value))
`;

Deno.test(`CPython interpreters are found: 3.8+ under ~/.pyenv/versions, 3.11 among them (found ${VERSIONS || "none"})`, () => {
  ok(PYTHONS.length >= 1, "no CPython 3.8+ under ~/.pyenv/versions");
  ok(
    PYTHONS.some((p) => p.version.startsWith("3.11.")),
    `no CPython 3.11 among ${VERSIONS}`,
  );
});

Deno.test(`Python → Deno: plain data pickled by CPython ${VERSIONS} with protocols 0 to the highest and ForkingPickler decodes to the expected values`, async (t) => {
  for (const python of PYTHONS) {
    await t.step(`CPython ${python.version}`, async () => {
      const out = records(
        await runPython(python, PY_FROM, [
          JSON.stringify(FROM_PYTHON.map((c) => c.expr)),
        ]),
      );
      const header = JSON.parse(new TextDecoder().decode(out[0])) as {
        version: string;
        protocols: number[];
      };
      strictEqual(header.version, python.version);
      const kinds = [
        ...header.protocols.map((p) => `protocol ${p}`),
        "ForkingPickler",
      ];
      strictEqual(out.length, 1 + FROM_PYTHON.length * kinds.length);
      let i = 1;
      for (const c of FROM_PYTHON) {
        for (const kind of kinds) {
          const what = `${c.name}, ${kind}, CPython ${python.version}`;
          let value: unknown;
          try {
            value = decodePickle(out[i++]);
          } catch (e) {
            throw new Error(`${what}: ${e}`);
          }
          if (c.expected !== undefined) {
            deepStrictEqual(value, c.expected, what);
          }
          c.check?.(value);
        }
      }
      console.log(
        `CPython ${python.version}: ${FROM_PYTHON.length} values × ${
          kinds.join(", ")
        }`,
      );
    });
  }
});

// ------------------------------------------------------- Deno → Python

/** JavaScript values, and the Python value each must load as. */
const TO_PYTHON: {
  name: string;
  value: unknown;
  expr: string;
  persistent?: boolean;
}[] = [
  { name: "null", value: null, expr: "None" },
  { name: "undefined", value: undefined, expr: "None" },
  { name: "booleans", value: [true, false], expr: "[True, False]" },
  {
    name: "small ints",
    value: [0, 1, -1, 255, 256, 65535, 65536, -65536],
    expr: "[0, 1, -1, 255, 256, 65535, 65536, -65536]",
  },
  {
    name: "32-bit edges",
    value: [2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1],
    expr: "[2**31 - 1, -2**31, 2**31, -2**31 - 1]",
  },
  {
    name: "integral numbers past 2^53",
    value: [2 ** 53, 1e20, -1e300, 2 ** 64],
    expr: "[2**53, 10**20, int(-1e300), 2**64]",
  },
  {
    name: "floats",
    value: [-0, 0.5, -1.5e-10, 5e-324, 123.456],
    expr: "[-0.0, 0.5, -1.5e-10, 5e-324, 123.456]",
  },
  {
    name: "the largest double is integral: an int",
    value: Number.MAX_VALUE,
    expr: "int(1.7976931348623157e308)",
  },
  {
    name: "nan and infinities",
    value: [NaN, Infinity, -Infinity],
    expr: "[float('nan'), float('inf'), float('-inf')]",
  },
  {
    name: "bigints",
    value: [
      0n,
      1n,
      -1n,
      127n,
      128n,
      255n,
      256n,
      -128n,
      -129n,
      -256n,
      2n ** 64n,
      -(2n ** 100n),
    ],
    expr: "[0, 1, -1, 127, 128, 255, 256, -128, -129, -256, 2**64, -(2**100)]",
  },
  {
    name: "bigints past 255 bytes (LONG4)",
    value: [2n ** 2100n, -(2n ** 2100n), 2n ** 2039n, -(2n ** 2039n)],
    expr: "[2**2100, -(2**2100), 2**2039, -(2**2039)]",
  },
  {
    name: "strings",
    value: ["", "ascii", "é€😀", "\ufeffbom"],
    expr: "['', 'ascii', '\\xe9\\u20ac\\U0001f600', '\\ufeffbom']",
  },
  {
    name: "lone surrogates",
    value: ["\ud800a\udfff", "\udc00\ud800"],
    expr: "['\\ud800a\\udfff', '\\udc00\\ud800']",
  },
  {
    name: "long string with lone surrogates",
    value: "x".repeat(100) + "\udc00😀\ud83d",
    expr: "'x' * 100 + '\\udc00\\U0001f600\\ud83d'",
  },
  {
    name: "300 and 70,000 chars",
    value: ["é".repeat(300), "y".repeat(70_000)],
    expr: "['\\xe9' * 300, 'y' * 70000]",
  },
  {
    name: "bytes",
    value: [new Uint8Array(0), ramp(256)],
    expr: "[b'', bytes(range(256))]",
  },
  {
    name: "70 KiB bytes",
    value: ramp(70 * 1024),
    expr: "(bytes(range(256)) * 280)[:70 * 1024]",
  },
  // deno-lint-ignore no-sparse-arrays
  { name: "array with a hole", value: [1, , 3], expr: "[1, None, 3]" },
  {
    name: "nested arrays",
    value: [1, [2, [3, []]]],
    expr: "[1, [2, [3, []]]]",
  },
  {
    name: "2500 items",
    value: Array.from({ length: 2500 }, (_, i) => i),
    expr: "list(range(2500))",
  },
  {
    name: "objects",
    value: { a: 1, b: [null, true], c: { d: "e" }, "x-y": 2 },
    expr: "{'a': 1, 'b': [None, True], 'c': {'d': 'e'}, 'x-y': 2}",
  },
  {
    name: "null-prototype object",
    value: Object.assign(Object.create(null), { x: 1 }),
    expr: "{'x': 1}",
  },
  { name: "__proto__ key", value: protoKey(1), expr: "{'__proto__': 1}" },
  {
    name: "symbol keys ignored",
    value: { a: 1, [Symbol("s")]: 2 },
    expr: "{'a': 1}",
  },
  {
    name: "2500 keys",
    value: Object.fromEntries(
      Array.from({ length: 2500 }, (_, i) => [String(i), i]),
    ),
    expr: "{str(i): i for i in range(2500)}",
  },
  {
    name: "Map with tuple and other keys",
    value: new Map<unknown, unknown>([
      [1, "a"],
      [[1, [2]], "b"],
      [new Uint8Array([1]), "c"],
      [null, "d"],
      ["s", "e"],
      [2.5, "f"],
      [2n ** 70n, "g"],
      [[], "h"],
    ]),
    expr:
      "{1: 'a', (1, (2,)): 'b', b'\\x01': 'c', None: 'd', 's': 'e', 2.5: 'f', 2**70: 'g', (): 'h'}",
  },
  {
    name: "Map of 2500",
    value: new Map(Array.from({ length: 2500 }, (_, i) => [i, String(i)])),
    expr: "{i: str(i) for i in range(2500)}",
  },
  {
    name: "Set",
    value: new Set<unknown>([1, "a", [2, [3]], new Uint8Array([9]), [
      1,
      2,
      3,
      4,
      5,
    ]]),
    expr: "{1, 'a', (2, (3,)), b'\\x09', (1, 2, 3, 4, 5)}",
  },
  { name: "empty Set", value: new Set(), expr: "set()" },
  {
    name: "Sets where Python needs a hashable value (frozensets)",
    value: new Map<unknown, unknown>([
      [new Set([1, "a"]), new Set([new Set([2]), new Set()])],
    ]),
    expr: "{frozenset({1, 'a'}): {frozenset({2}), frozenset()}}",
  },
  {
    name: "Set of 2500",
    value: new Set(Array.from({ length: 2500 }, (_, i) => i)),
    expr: "set(range(2500))",
  },
  {
    name: "shared reference",
    value: (() => {
      const x = [1];
      return [x, x, { x }];
    })(),
    expr: "[[1], [1], {'x': [1]}]",
  },
  {
    name: "persistent ids",
    value: { a: new Date(5), b: [new Date(6)] },
    expr: "{'a': ('pid', ['date', 5]), 'b': [('pid', ['date', 6])]}",
    persistent: true,
  },
];

const PY_TO = `
import io, json, math, pickle, pickletools, struct, sys
def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {(type(k), k) for k in a} == {(type(k), k) for k in b} and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (set, frozenset)):
        return {(type(k), k) for k in a} == {(type(k), k) for k in b}
    return a == b
class Persistent(pickle.Unpickler):
    def persistent_load(self, pid):
        return ('pid', pid)
cases = json.loads(sys.argv[1])
data = sys.stdin.buffer.read()
pickles = []
p = 0
while p < len(data):
    n, = struct.unpack_from('<I', data, p)
    pickles.append(data[p + 4:p + 4 + n])
    p += 4 + n
results = []
for (expr, persistent), b in zip(cases, pickles):
    try:
        ops = list(pickletools.genops(b))
        form = ops[0][0].name == 'PROTO' and ops[0][1] == 4 and ops[-1][0].name == 'STOP' and max(op.proto for op, _, _ in ops) <= 4
        value = Persistent(io.BytesIO(b)).load() if persistent else pickle.loads(b)
        expected = eval(expr)
        if not form:
            results.append('not a protocol 4 pickle')
        elif not same(value, expected):
            results.append('got %s' % ascii(value)[:300])
        else:
            results.append('ok')
    except Exception as e:
        results.append('%s: %s' % (type(e).__name__, e))
print(json.dumps([len(pickles)] + results))
`;

Deno.test(`Deno → Python: values pickled by Deno load in CPython ${VERSIONS} as the expected Python values`, async (t) => {
  const persistentId = (v: object) =>
    v instanceof Date ? ["date", v.getTime()] : undefined;
  const input = framed(
    TO_PYTHON.map((c) =>
      encodePickle(c.value, c.persistent ? { persistentId } : undefined)
    ),
  );
  const cases = JSON.stringify(
    TO_PYTHON.map((c) => [c.expr, c.persistent ?? false]),
  );
  for (const python of PYTHONS) {
    await t.step(`CPython ${python.version}`, async () => {
      const out = await runPython(python, PY_TO, [cases], input);
      const [count, ...results] = JSON.parse(new TextDecoder().decode(out)) as [
        number,
        ...string[],
      ];
      strictEqual(count, TO_PYTHON.length);
      const failed = TO_PYTHON.map((c, i) => `${c.name}: ${results[i]}`).filter(
        (r) => !r.endsWith(": ok"),
      );
      deepStrictEqual(failed, [], `CPython ${python.version}`);
    });
  }
});

// ------------------------------------------------ errors, Python side

/** Python values with no plain-data form, and the name the error gives. */
const UNSUPPORTED: [string, string][] = [
  ["datetime.datetime.now()", "datetime.datetime"],
  ["decimal.Decimal('1')", "decimal.Decimal"],
  ["Foo()", "__main__.Foo"],
  ["complex(1, 2)", "builtins.complex"],
  ["[1, {'d': datetime.date(2020, 1, 1)}]", "datetime.date"],
  ["len", "builtins.len"],
  ["collections.OrderedDict(a=1)", "collections.OrderedDict"],
];

const PY_UNSUPPORTED = `${PY_EMIT}
import collections, datetime, decimal, io, json, pickle
from multiprocessing.reduction import ForkingPickler
class Foo:
    pass
class Ref:
    pass
class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return 'ref-1' if isinstance(obj, Ref) else None
protocols = list(range(pickle.HIGHEST_PROTOCOL + 1))
emit(json.dumps(protocols).encode())
for expr in json.loads(sys.argv[1]):
    value = eval(expr)
    for protocol in protocols:
        emit(pickle.dumps(value, protocol))
    emit(ForkingPickler.dumps(value))
for protocol in protocols:
    f = io.BytesIO()
    Pickler(f, protocol).dump([1, Ref()])
    emit(f.getvalue())
if pickle.HIGHEST_PROTOCOL >= 5:
    emit(pickle.dumps(pickle.PickleBuffer(bytearray(b'abc')), protocol=5, buffer_callback=lambda b: None))
    emit(pickle.dumps([pickle.PickleBuffer(b'abc')], protocol=5, buffer_callback=lambda b: None))
`;

Deno.test(`Python → Deno: datetime, Decimal, class instances, complex and other non-plain objects from CPython ${VERSIONS} throw a TypeError naming the Python type; persistent ids need persistentLoad`, async (t) => {
  for (const python of PYTHONS) {
    await t.step(`CPython ${python.version}`, async () => {
      const out = records(
        await runPython(python, PY_UNSUPPORTED, [
          JSON.stringify(UNSUPPORTED.map(([expr]) => expr)),
        ]),
      );
      const protocols = JSON.parse(
        new TextDecoder().decode(out[0]),
      ) as number[];
      let i = 1;
      for (const [expr, name] of UNSUPPORTED) {
        for (const kind of [...protocols.map(String), "ForkingPickler"]) {
          throws(() => decodePickle(out[i++]), (e: unknown) => {
            ok(e instanceof TypeError, `${expr} (${kind}): ${e}`);
            strictEqual(
              e.message,
              `Cannot unpickle a ${name}: only plain data (None, bool, int, float, str, bytes, bytearray, list, tuple, dict, set, frozenset) crosses into JavaScript`,
              `${expr} (${kind})`,
            );
            return true;
          });
        }
      }
      for (const protocol of protocols) {
        const bytes = out[i++];
        deepStrictEqual(
          decodePickle(bytes, { persistentLoad: (id) => ({ loaded: id }) }),
          [1, { loaded: "ref-1" }],
          `protocol ${protocol}`,
        );
        throwsUnpickle(
          () => decodePickle(bytes),
          TypeError,
          protocol === 0 ? "PERSID" : "BINPERSID",
        );
      }
      if (protocols.includes(5)) {
        throwsUnpickle(
          () => decodePickle(out[i++]),
          TypeError,
          "out-of-band buffer",
        );
        throwsUnpickle(
          () => decodePickle(out[i++]),
          TypeError,
          "out-of-band buffer",
        );
      }
      strictEqual(i, out.length);
    });
  }
});

// ---------------------------------------------------- errors, Deno side

class Foo {}

Deno.test("pickle.encode throws a TypeError with the path for values with no pickle form", () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const cycleInMap = new Map<string, unknown>();
  cycleInMap.set("m", [cycleInMap]);
  let deep: unknown[] = [];
  for (let i = 1; i < MAX_DEPTH; i++) deep = [deep];
  decodePickle(encodePickle(deep)); // MAX_DEPTH levels are fine
  const cases: [unknown, string][] = [
    [{ a: [1, 2, { fn() {} }] }, "Cannot pickle a function at $.a[2].fn"],
    [{ when: new Date(0) }, "Cannot pickle a Date at $.when"],
    [[new Foo()], "Cannot pickle a Foo at $[0]"],
    [{ a: circular }, "Cannot pickle a circular reference at $.a.self"],
    [
      { m: cycleInMap },
      'Cannot pickle a circular reference at $.m.get("m")[0]',
    ],
    [{ s: Symbol("x") }, "Cannot pickle a symbol at $.s"],
    [new Int16Array(2), "Cannot pickle an Int16Array at $"],
    [{ "a-b": new ArrayBuffer(1) }, 'Cannot pickle an ArrayBuffer at $["a-b"]'],
    [[1, /x/], "Cannot pickle a RegExp at $[1]"],
    [["x", new TypeError("e")], "Cannot pickle a TypeError at $[1]"],
    [[Promise.resolve()], "Cannot pickle a Promise at $[0]"],
    [new Map([["k", () => 1]]), 'Cannot pickle a function at $.get("k")'],
    [new Map([[2n, new WeakMap()]]), "Cannot pickle a WeakMap at $.get(2n)"],
    [
      new Map([[[1, () => 1], 2]]),
      "Cannot pickle a function at $.keys()[0][1]",
    ],
    [new Map([[[1], Symbol()]]), "Cannot pickle a symbol at $.values()[0]"],
    [
      new Map([[{}, 1]]),
      "Cannot pickle a plain object as a dict key or set element at $.keys()[0]: a Python dict is unhashable",
    ],
    [
      new Map([[[new Map()], 1]]),
      "Cannot pickle a Map as a dict key or set element at $.keys()[0][0]: a Python dict is unhashable",
    ],
    [
      { s: new Set([1, new Set([{}])]) },
      "Cannot pickle a plain object as a dict key or set element at $.s.values()[1].values()[0]: a Python dict is unhashable",
    ],
    [
      [[deep]],
      `Cannot pickle a value nested more than ${MAX_DEPTH} levels deep at $[0][0]`,
    ],
  ];
  for (const [value, message] of cases) {
    throws(() => encodePickle(value), (e: unknown) => {
      ok(e instanceof TypeError, String(e));
      strictEqual(
        e.message.replace(/^(.{0,200}levels deep at \$\[0\]\[0\]).*/s, "$1"),
        message,
      );
      return true;
    });
  }
  throws(
    () =>
      encodePickle({ a: new Date(0) }, {
        persistentId: (v) => v instanceof Date ? [() => 1] : undefined,
      }),
    {
      name: "TypeError",
      message: "Cannot pickle a function at $.a{persistent id}[0]",
    },
  );
});

/** A pickle from bytes and ASCII text: `p(0x80, 4, "K", 1, ".")`. */
function p(...parts: (number | string)[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else for (const c of part) out.push(c.charCodeAt(0));
  }
  return new Uint8Array(out);
}

Deno.test('pickle.decode throws a RangeError or TypeError starting with "Cannot unpickle" for malformed input', () => {
  const good = encodePickle({ a: [1, "two", new Uint8Array(3)] });
  for (let n = 0; n < good.length; n++) {
    throwsUnpickle(() => decodePickle(good.subarray(0, n)), RangeError, "");
  }
  throwsUnpickle(() => decodePickle(p(0x80, 4, "N")), RangeError, "no STOP");
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "N.", 0)),
    RangeError,
    "trailing bytes after STOP at byte 4",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, 0xff)),
    TypeError,
    "unknown opcode 0xff at byte 2",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 6, "N.")),
    TypeError,
    "unsupported pickle protocol 6",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "a.")),
    RangeError,
    "stack underflow",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "(K", 1, "a.")),
    RangeError,
    "stack underflow",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, ".")),
    RangeError,
    "stack underflow",
  );
  throwsUnpickle(() => decodePickle(p(0x80, 4, "]e.")), RangeError, "no MARK");
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "h", 5, ".")),
    RangeError,
    "memo entry 5 is not set",
  );
  throwsUnpickle(
    () => decodePickle(p("g12\n.")),
    RangeError,
    "memo entry 12 is not set",
  );
  throwsUnpickle(
    () => decodePickle(p("gx\n.")),
    TypeError,
    "invalid GET index",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "X", 0xff, 0xff, 0xff, 0xff, "ab.")),
    RangeError,
    "BINUNICODE of 4294967295 bytes at byte 2 runs past the end",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x10, ".")),
    RangeError,
    "runs past the end",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, 0x8b, 0xff, 0xff, 0xff, 0x7f, ".")),
    RangeError,
    "LONG4 of 2147483647 bytes",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, 0x8b, 0xff, 0xff, 0xff, 0xff, ".")),
    TypeError,
    "negative length",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, 0x8c, 2, 0xc3, 0x28, ".")),
    TypeError,
    "invalid UTF-8",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, 0x8c, 3, 0xed, 0xa0, ".")),
    TypeError,
    "invalid UTF-8",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, 0x8c, 2, 0xc0, 0x80, ".")),
    TypeError,
    "invalid UTF-8",
  );
  const longBad = new Uint8Array([
    0x80,
    4,
    0x58,
    100,
    0,
    0,
    0,
    ...new Uint8Array(99).fill(0x61),
    0xff,
    0x2e,
  ]);
  throwsUnpickle(
    () => decodePickle(longBad),
    TypeError,
    "invalid UTF-8 in a str at byte 106",
  );
  throwsUnpickle(
    () => decodePickle(p("I12a\n.")),
    TypeError,
    'invalid INT text "12a"',
  );
  throwsUnpickle(() => decodePickle(p("I\n.")), TypeError, "invalid INT text");
  throwsUnpickle(
    () => decodePickle(p("L1.5L\n.")),
    TypeError,
    "invalid LONG text",
  );
  throwsUnpickle(
    () => decodePickle(p("Fabc\n.")),
    TypeError,
    "invalid FLOAT text",
  );
  throwsUnpickle(() => decodePickle(p("I12")), RangeError, "no newline");
  throwsUnpickle(() => decodePickle(p("Sabc\n.")), TypeError, "not quoted");
  throwsUnpickle(
    () => decodePickle(p("V\\u12\n.")),
    TypeError,
    "truncated \\u escape",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "}K", 1, "s.")),
    RangeError,
    "stack underflow",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "](K", 1, "u.")),
    TypeError,
    "SETITEMS adds to a list or tuple",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "}(K", 1, "u.")),
    TypeError,
    "odd number of items for SETITEMS",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "}K", 1, "a.")),
    TypeError,
    "APPEND to a dict",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "](K", 1, 0x90, ".")),
    TypeError,
    "ADDITEMS to a list or tuple",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "K", 1, ")R.")),
    TypeError,
    "REDUCE calls a number",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "K", 1, ")b.")),
    TypeError,
    "a number with state (BUILD)",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, 0x82, 7, ".")),
    TypeError,
    "extension registry (code 7)",
  );
  throwsUnpickle(
    () => decodePickle(p(0x80, 4, "K", 1, "K", 2, 0x93, ".")),
    TypeError,
    "STACK_GLOBAL needs two str",
  );
  throwsUnpickle(
    () => decodePickle(p("c_codecs\nencode\n(Vx\nVutf-8\ntR.")),
    TypeError,
    "only latin-1",
  );
  throwsUnpickle(
    () => decodePickle(p("cos\nsystem\n(Vecho hi\ntR.")),
    TypeError,
    "Cannot unpickle an os.system",
  );
  throwsUnpickle(
    () => decodePickle(p("(ios\nsystem\n.")),
    TypeError,
    "Cannot unpickle an os.system",
  );
  // A dict handed out (here as its own persistent id) before it got a
  // non-string key (only a crafted pickle does this) cannot become a Map.
  throwsUnpickle(
    () =>
      decodePickle(p(0x80, 4, "}", 0x94, "h", 0, "Q0K", 1, "K", 2, "s."), {
        persistentLoad: (id) => id,
      }),
    TypeError,
    "a dict got a non-string key after it was used",
  );
  throwsUnpickle(
    () => decodePickle(null as unknown as Uint8Array),
    TypeError,
    "expected a Uint8Array",
  );
});

Deno.test("pickle.decode reads hand-written protocol 0–2 opcodes (text ints and floats, Python 2 str, DICT, LIST, POP, DUP)", () => {
  deepStrictEqual(decodePickle(p("I01\n.")), true);
  deepStrictEqual(decodePickle(p("I00\n.")), false);
  deepStrictEqual(decodePickle(p("I-42\n.")), -42);
  deepStrictEqual(
    decodePickle(p("L123456789012345678901L\n.")),
    123456789012345678901n,
  );
  deepStrictEqual(decodePickle(p("L-5\n.")), -5);
  deepStrictEqual(
    decodePickle(p("(F1.5\nFinf\nF-inf\nFnan\nF-0.0\nF1e+20\nl.")),
    [1.5, Infinity, -Infinity, NaN, -0, 1e20],
  );
  deepStrictEqual(
    decodePickle(p("S'a\\'b\\n\\x41\\101\\\\\\q'\n.")),
    "a'b\nAA\\\\q",
  );
  deepStrictEqual(decodePickle(p('S"x"\n.')), "x");
  deepStrictEqual(decodePickle(p("U", 2, 0xe9, 0xff, ".")), "\xe9\xff");
  deepStrictEqual(decodePickle(p("T", 1, 0, 0, 0, 0x80, ".")), "\x80");
  deepStrictEqual(
    decodePickle(p("V\\u20ac\\U0001f600\\x\xe9\\\n.")),
    "€😀\\x\xe9\\",
  );
  deepStrictEqual(decodePickle(p("(Va\nI1\nVb\n(I2\nI3\ntd.")), {
    a: 1,
    b: [2, 3],
  });
  deepStrictEqual(decodePickle(p("(I1\nI2\n0l.")), [1]);
  deepStrictEqual(decodePickle(p("(I1\n(I2\n1l.")), [1]);
  deepStrictEqual(decodePickle(p("((0I1\nl.")), [1]); // POP of an empty frame pops its mark
  const dup = decodePickle(p(0x80, 2, "]2", 0x86, ".")) as unknown[];
  strictEqual(dup[0], dup[1]);
  const dupDict = decodePickle(p(0x80, 2, "}2", 0x86, ".")) as unknown[];
  strictEqual(dupDict[0], dupDict[1]);
  deepStrictEqual(dupDict, [{}, {}]);
  deepStrictEqual(
    decodePickle(p(0x80, 4, 0x95, 3, 0, 0, 0, 0, 0, 0, 0, "K", 7, ".")),
    7,
  );
  deepStrictEqual(
    decodePickle(p(0x80, 4, "(K", 1, "K", 2, 0x91, ".")),
    new Set([1, 2]),
  );
  // MEMOIZE numbers entries as CPython does (count of set entries).
  deepStrictEqual(
    decodePickle(
      p(
        0x80,
        4,
        "K",
        1,
        "r",
        9,
        0,
        0,
        0,
        "0K",
        2,
        0x94,
        "0j",
        9,
        0,
        0,
        0,
        "h",
        1,
        0x86,
        ".",
      ),
    ),
    [1, 2],
  );
});

Deno.test("pickle.decode handles 100,000 levels of nesting without recursion (lists, dicts, a dict shared from the bottom)", () => {
  const N = 100_000;
  const lists = new Uint8Array(2 + N + (N - 1) + 1);
  lists.set([0x80, 4]);
  lists.fill(0x5d, 2, 2 + N);
  lists.fill(0x61, 2 + N, 2 + N + N - 1);
  lists[lists.length - 1] = 0x2e;
  let v = decodePickle(lists);
  let depth = 0;
  while (Array.isArray(v)) {
    depth++;
    v = v[0];
  }
  strictEqual(depth, N);
  // {"k": {"k": … {}}}: EMPTY_DICT and a key per level, then SETITEMs.
  const dicts: number[] = [0x80, 4];
  for (let i = 0; i < N; i++) dicts.push(0x7d, 0x8c, 1, 0x6b);
  dicts.push(0x7d);
  for (let i = 0; i < N; i++) dicts.push(0x73);
  dicts.push(0x2e);
  v = decodePickle(new Uint8Array(dicts));
  depth = 0;
  while (typeof v === "object" && v !== null && "k" in v) {
    depth++;
    v = (v as { k: unknown }).k;
  }
  strictEqual(depth, N);
  // d = {}; d["k"] = [[[…[d]…]]]: the shared dict is fixed up at any depth.
  const shared: number[] = [0x80, 4, 0x7d, 0x94, 0x8c, 1, 0x6b];
  for (let i = 0; i < N; i++) shared.push(0x5d);
  shared.push(0x68, 0);
  for (let i = 0; i < N; i++) shared.push(0x61);
  shared.push(0x73, 0x2e);
  const root = decodePickle(new Uint8Array(shared)) as { k: unknown };
  let w: unknown = root.k;
  for (let i = 0; i < N; i++) w = (w as unknown[])[0];
  strictEqual(w, root);
  throws(() => encodePickle(root), { name: "TypeError" });
});

// ------------------------------------------------------------------- fuzz

/** Every opcode byte, to splice in. */
const OPCODES = [
  ..."(.012FIJKLMNPQRSTUVXabcd}eghijl]oprst)uGBC",
].map((c) => c.charCodeAt(0)).concat(
  Array.from({ length: 0x19 }, (_, i) => 0x80 + i),
);

/** A mutation of `base`: bit flips, new bytes, cuts, splices. */
function mutate(r: Rng, base: Uint8Array, corpus: Uint8Array[]): Uint8Array {
  let b = base.slice();
  for (let k = 1 + r.int(3); k > 0; k--) {
    const at = r.int(b.length + 1);
    switch (r.int(7)) {
      case 0: // bit flip
        if (b.length > 0) b[at % b.length] ^= 1 << r.int(8);
        break;
      case 1: // a random byte or opcode
        if (b.length > 0) {
          b[at % b.length] = r.chance(0.5) ? r.pick(OPCODES) : r.int(256);
        }
        break;
      case 2: // truncate
        b = b.subarray(0, at);
        break;
      case 3: { // delete a run
        const n = 1 + r.int(8);
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + n)]);
        break;
      }
      case 4: { // insert opcodes or bytes
        const ins = r.chance(0.5)
          ? Uint8Array.from({ length: 1 + r.int(4) }, () => r.pick(OPCODES))
          : r.bytes(1 + r.int(4));
        b = new Uint8Array([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        break;
      }
      case 5: { // splice a piece of another pickle
        const other = r.pick(corpus);
        const from = r.int(other.length + 1);
        const piece = other.subarray(from, from + 1 + r.int(24));
        b = new Uint8Array([
          ...b.subarray(0, at),
          ...piece,
          ...b.subarray(at + r.int(8)),
        ]);
        break;
      }
      default: { // duplicate a run (repeats memo puts, marks, items)
        const piece = b.subarray(at, at + 1 + r.int(12));
        b = new Uint8Array([...b.subarray(0, at), ...piece, ...b.subarray(at)]);
      }
    }
  }
  return b;
}

/** How many nodes `value` has as a tree, or Infinity past `budget` (or a cycle). */
function treeSize(value: unknown, budget: number): number {
  const todo: unknown[] = [value];
  let n = 0;
  while (todo.length > 0) {
    if (++n > budget) return Infinity;
    const v = todo.pop();
    if (Array.isArray(v) || v instanceof Set) todo.push(...v);
    else if (v instanceof Map) { for (const [k, x] of v) todo.push(k, x); }
    else if (
      typeof v === "object" && v !== null && !(v instanceof Uint8Array)
    ) {
      todo.push(...Object.values(v));
    }
  }
  return n;
}

/** `value` as it arrives after a round trip: integral numbers past 2^53 become bigints. */
function roundTripped(value: unknown): unknown {
  if (typeof value === "number") {
    return Number.isInteger(value) && !Number.isSafeInteger(value)
      ? BigInt(value)
      : value;
  }
  if (Array.isArray(value)) return value.map(roundTripped);
  if (value instanceof Set) return new Set([...value].map(roundTripped));
  if (value instanceof Map) {
    return new Map(
      [...value].map(([k, v]) => [roundTripped(k), roundTripped(v)]),
    );
  }
  if (
    typeof value === "object" && value !== null &&
    !(value instanceof Uint8Array)
  ) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: roundTripped(v),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

Deno.test(`pickle.decode: ${FUZZ_N} random and mutated pickles end in a value that re-encodes, or a "Cannot unpickle" error (seed ${SEED})`, async () => {
  const r = rng(SEED);
  const corpus: Uint8Array[] = [
    encodePickle([
      null,
      true,
      false,
      0,
      255,
      65535,
      -1,
      2 ** 40,
      1.5,
      NaN,
      -0,
      5n,
      -(2n ** 70n),
    ]),
    encodePickle({
      a: "x",
      b: ["é", "\ud800", new Uint8Array([1, 2])],
      "__proto__": 1,
    }),
    encodePickle(
      new Map<unknown, unknown>([[1, "a"], [[1, [2]], new Set([3, [4]])], [
        "k",
        {},
      ]]),
    ),
    encodePickle([[[[]]], {}, new Set(), "s".repeat(300)]),
  ];
  // Pickles from CPython too (every protocol, memo, frames, REDUCE forms).
  const newest = PYTHONS[PYTHONS.length - 1];
  if (newest !== undefined) {
    const exprs = FROM_PYTHON.filter((c) => !/2500|70 KiB/.test(c.name)).map((
      c,
    ) => c.expr);
    corpus.push(
      ...records(await runPython(newest, PY_FROM, [JSON.stringify(exprs)]))
        .slice(1),
    );
  }
  const counts = {
    values: 0,
    reencoded: 0,
    unencodable: 0,
    tooBig: 0,
    RangeError: 0,
    TypeError: 0,
  };
  const started = performance.now();
  for (let i = 0; i < FUZZ_N; i++) {
    let input: Uint8Array;
    const kind = r.int(10);
    if (kind === 0) {
      input = r.bytes(r.int(48));
    } else if (kind === 1) {
      input = new Uint8Array([
        0x80,
        r.int(6),
        ...Array.from(
          { length: r.int(40) },
          () => r.chance(0.6) ? r.pick(OPCODES) : r.int(256),
        ),
        0x2e,
      ]);
    } else {
      input = mutate(r, r.pick(corpus), corpus);
    }
    const where = () =>
      `input ${i} (seed ${SEED}): ${
        Array.from(
          input.subarray(0, 200),
          (b) => b.toString(16).padStart(2, "0"),
        ).join("")
      }`;
    let value: unknown;
    try {
      value = decodePickle(input);
    } catch (e) {
      if (
        !(e instanceof RangeError || e instanceof TypeError) ||
        !e.message.startsWith("Cannot unpickle")
      ) {
        throw new Error(`${where()}: unexpected ${e}`, { cause: e });
      }
      counts[e instanceof RangeError ? "RangeError" : "TypeError"]++;
      continue;
    }
    counts.values++;
    if (treeSize(value, 20_000) === Infinity) {
      counts.tooBig++; // a cycle, or shared references that expand too far
      continue;
    }
    let again: Uint8Array;
    try {
      again = encodePickle(value);
    } catch (e) {
      // Documented: in a crafted pickle, a dict decoded as a set element or
      // dict key arrives as a Map or object, which encodePickle refuses
      // there (a Set there is written as a frozenset); nesting past MAX_DEPTH
      // does not encode either.
      if (
        e instanceof TypeError && /unhashable|nested more than/.test(e.message)
      ) {
        counts.unencodable++;
        continue;
      }
      throw new Error(`${where()}: re-encoding failed: ${e}`, { cause: e });
    }
    deepStrictEqual(decodePickle(again), roundTripped(value), where());
    counts.reencoded++;
  }
  const ms = Math.round(performance.now() - started);
  console.log(
    `pickle fuzz (seed ${SEED}): ${FUZZ_N} inputs in ${ms} ms: ${
      JSON.stringify(counts)
    }`,
  );
  ok(
    counts.values > FUZZ_N / 100,
    "too few inputs decoded: the mutations are too blunt",
  );
});
