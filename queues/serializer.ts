/**
 * Serializers turn queue items into bytes and back. The default, `msgpack`,
 * round-trips JavaScript values exactly (including `undefined`, `-0`,
 * `bigint`, typed arrays, `Date`, `Map`, `Set` and errors) and writes plain
 * data as standard MessagePack; `bytes` passes `Uint8Array`s through
 * untouched. Custom serializers are registered by name so that a queue can
 * cross into a worker process with its serializer.
 *
 * @module
 */

import {
  decode as msgpackDecode,
  encode as msgpackEncode,
} from "./_msgpack.ts";
import { pickle } from "./cpython/_pickle.ts";

/**
 * Turns queue items into bytes and back. `encode` runs synchronously in
 * `put`; whatever it throws is passed to the caller unchanged. A serializer
 * with a `name` can cross into a worker process (see
 * {@linkcode registerSerializer}).
 *
 * @example Usage
 * ```ts
 * import { registerSerializer, type Serializer } from "@mp/queues";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const json: Serializer = {
 *   name: "json",
 *   encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
 *   decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
 * };
 * registerSerializer(json);
 * deepStrictEqual(json.decode(json.encode({ a: [1, 2] })), { a: [1, 2] });
 * ```
 */
export interface Serializer {
  /**
   * The name the serializer is registered under; needed for a queue that
   * crosses into a worker. `"msgpack"` and `"bytes"` are the built-ins.
   */
  readonly name?: string;
  /**
   * Turns a value into bytes.
   *
   * @param value The item to serialize.
   * @returns The bytes to send.
   */
  encode(value: unknown): Uint8Array;
  /**
   * Turns bytes made by `encode` back into a value.
   *
   * @param bytes The bytes received.
   * @returns The item.
   */
  decode(bytes: Uint8Array): unknown;
}

/**
 * The default serializer, named `"msgpack"`: MessagePack with extension types.
 *
 * It round-trips exactly `null`, `undefined`, booleans, numbers (including
 * `NaN`, `±Infinity` and `-0`), strings (including ones with lone
 * surrogates), `bigint` of any size, `Uint8Array` and the other typed arrays,
 * `ArrayBuffer`, `DataView`, arrays (holes arrive as `undefined`), plain
 * objects, `Date` (also an invalid one), `RegExp`, `Map`, `Set`, errors and
 * any nesting of these. Errors keep `name`, `message`, `stack`, `cause` and
 * the `errors` of an `AggregateError`; the built-in error classes arrive as
 * that class, others as `Error` with the same `name`. Class instances arrive
 * as plain objects of their own enumerable string-keyed properties; symbol
 * keys are ignored. Shared references arrive as separate copies.
 *
 * Plain data (`null`, booleans, numbers, strings, `Uint8Array`, arrays and
 * plain objects) is standard MessagePack that any MessagePack decoder reads.
 *
 * `encode` throws `TypeError` for functions, symbols as values, circular
 * references, queues, and built-in or platform objects it cannot copy
 * (`WeakMap`, `Promise`, `URL`, `SharedArrayBuffer`, boxed primitives, …);
 * the message gives the path from `$` to the offending value, e.g.
 * `Cannot serialize a function at $.a[2].fn`. `decode` throws `RangeError` or
 * `TypeError` on malformed input.
 *
 * @example Usage
 * ```ts
 * import { msgpack } from "@mp/queues";
 * import { deepStrictEqual, throws } from "node:assert/strict";
 *
 * const value = { n: -0, big: 2n ** 80n, when: new Date(0), tags: new Set(["a"]) };
 * deepStrictEqual(msgpack.decode(msgpack.encode(value)), value);
 *
 * throws(() => msgpack.encode({ a: [1, 2, { fn() {} }] }), {
 *   name: "TypeError",
 *   message: "Cannot serialize a function at $.a[2].fn",
 * });
 * ```
 */
export const msgpack: Serializer = Object.freeze({
  name: "msgpack",
  encode: msgpackEncode,
  decode: msgpackDecode,
});

/** What `value` is, for error messages: `null`, its `typeof`, or its class name. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const name = (value as { constructor?: { name?: unknown } }).constructor
    ?.name;
  return typeof name === "string" && name !== "" ? name : "object";
}

/**
 * The serializer for raw bytes, named `"bytes"`: `encode` returns the very
 * `Uint8Array` it is given and `decode` returns its input as is. A queue
 * copies the bytes at `put`, so a buffer reused afterwards changes nothing
 * that arrives.
 *
 * @example Usage
 * ```ts
 * import { bytes } from "@mp/queues";
 * import { strictEqual, throws } from "node:assert/strict";
 *
 * const data = new Uint8Array([1, 2, 3]);
 * strictEqual(bytes.encode(data), data);
 * throws(() => bytes.encode("text"), {
 *   name: "TypeError",
 *   message: "The bytes serializer encodes only Uint8Array, got string at $",
 * });
 * ```
 */
export const bytes: Serializer = Object.freeze({
  name: "bytes",
  encode(value: unknown): Uint8Array {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(
        `The bytes serializer encodes only Uint8Array, got ${
          describe(value)
        } at $`,
      );
    }
    return value;
  },
  decode(bytes: Uint8Array): unknown {
    return bytes;
  },
});

const BUILT_INS: ReadonlyMap<string, Serializer> = new Map([
  ["msgpack", msgpack],
  ["bytes", bytes],
  ["pickle", pickle],
]);

const registry = new Map<string, Serializer>(BUILT_INS);

/**
 * Registers a custom serializer under its `name`, so that a queue using it
 * can cross into a worker: in the worker, call this before `workerArgs()`.
 * Registering another object under a name already taken replaces the earlier
 * one (registering the same object again does nothing); the built-in names
 * `"msgpack"` and `"bytes"` cannot be taken.
 *
 * @param serializer The serializer; it must have a non-empty `name`.
 * @throws {TypeError} If `serializer` has no `encode`/`decode` functions or
 * no name, or its name is `"msgpack"` or `"bytes"` but it is not that
 * built-in serializer.
 *
 * @example Usage
 * ```ts
 * import { registerSerializer, type Serializer } from "@mp/queues";
 * import { throws } from "node:assert/strict";
 *
 * const upper: Serializer = {
 *   name: "upper-text",
 *   encode: (value) => new TextEncoder().encode(String(value).toUpperCase()),
 *   decode: (bytes) => new TextDecoder().decode(bytes),
 * };
 * registerSerializer(upper);
 *
 * throws(() => registerSerializer({ ...upper, name: "msgpack" }), TypeError);
 * ```
 */
export function registerSerializer(serializer: Serializer): void {
  if (
    typeof serializer !== "object" || serializer === null ||
    typeof serializer.encode !== "function" ||
    typeof serializer.decode !== "function"
  ) {
    throw new TypeError(
      "Cannot register the serializer: it needs encode() and decode() methods",
    );
  }
  const name = serializer.name;
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      "Cannot register a serializer without a name: give it a name property",
    );
  }
  const builtIn = BUILT_INS.get(name);
  if (builtIn !== undefined && builtIn !== serializer) {
    throw new TypeError(
      `Cannot register a serializer named "${name}": the name belongs to a built-in serializer`,
    );
  }
  registry.set(name, serializer);
}

/**
 * Looks up a serializer by name: the built-ins `"msgpack"`, `"bytes"` and
 * `"pickle"`, or
 * one registered with {@linkcode registerSerializer}. Used by `workerArgs()`
 * to give a queue in a worker its serializer back.
 *
 * @internal
 * @param name The serializer's name.
 * @returns The serializer, or `undefined` if none has that name.
 *
 * @example Usage
 * ```ts
 * import { msgpack, serializerByName } from "./serializer.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(serializerByName("msgpack"), msgpack);
 * strictEqual(serializerByName("no-such-serializer"), undefined);
 * ```
 */
export function serializerByName(name: string): Serializer | undefined {
  return registry.get(name);
}
