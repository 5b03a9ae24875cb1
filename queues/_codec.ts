// How a queue turns items into frames and back, chosen once per queue from
// its serializer: the built-in msgpack decodes straight from the shared read
// buffer, lends big binary values from a frame's own buffer, and reuses its
// buffers once the feeder has written them; any other serializer's output is
// checked and copied at put (a snapshot), and it decodes a copy.

import { decode as msgpackDecode, decodeOwned, recycle } from "./_msgpack.ts";
import type { FrameDecoder } from "./_transport.ts";
import { describe, msgpack, type Serializer } from "./serializer.ts";

/** A serializer as a queue uses it. */
export interface Codec {
  /** The name the serializer crosses into a worker with ("" if none). */
  readonly name: string;
  /** The serializer given to the queue. */
  readonly serializer: Serializer;
  /** Turns an item into a payload (throws for what cannot be encoded). */
  encode(item: unknown): Uint8Array;
  /** Turns a payload back into an item, under the read lock. */
  readonly decode: FrameDecoder;
  /** Hands a written payload back (the built-in msgpack reuses it). */
  release(payload: Uint8Array): void;
}

const keep = (): void => {};

/**
 * A copy of what a serializer's `encode` returned: what arrives is what the
 * item was at `put`, even if the caller (or the serializer) reuses the
 * buffer afterwards.
 *
 * @throws {TypeError} if it is not a `Uint8Array`
 */
function snapshot(payload: unknown): Uint8Array {
  if (!(payload instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot put: the serializer's encode() returned ${
        describe(payload)
      }, not a Uint8Array`,
    );
  }
  return payload.slice();
}

/**
 * The codec of `serializer`.
 *
 * @throws {TypeError} if it lacks `encode()` or `decode()`
 */
export function codecFor(serializer: Serializer): Codec {
  if (
    serializer === null || typeof serializer !== "object" ||
    typeof serializer.encode !== "function" ||
    typeof serializer.decode !== "function"
  ) {
    throw new TypeError("Serializer must have encode() and decode() methods");
  }
  if (serializer === msgpack) {
    return {
      name: "msgpack",
      serializer,
      encode: (item) => serializer.encode(item),
      decode: (payload, owned) =>
        owned ? decodeOwned(payload) : msgpackDecode(payload),
      release: recycle,
    };
  }
  return {
    name: serializer.name ?? "",
    serializer,
    encode: (item) => snapshot(serializer.encode(item)),
    decode: (payload, owned) =>
      serializer.decode(owned ? payload : payload.slice()),
    release: keep,
  };
}
