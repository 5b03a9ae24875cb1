// Validation of constructor and call options, and what a serializer option
// turns into.

import { msgpack, type Serializer } from "./serializer.ts";
import { COUNTER_MAX } from "./_counter.ts";
import type { FrameDecoder } from "./_channel.ts";
import { decode as msgpackDecode, decodeOwned } from "./_msgpack.ts";

/**
 * How a queue decodes frames under the read lock: straight from the shared
 * read buffer (the built-in msgpack copies what it keeps; any other
 * serializer gets a copy) or from a frame's own buffer (the built-in msgpack
 * lends big binary values from it).
 */
export function frameDecoder(serializer: Serializer): FrameDecoder {
  return serializer === msgpack
    ? (payload, owned) => owned ? decodeOwned(payload) : msgpackDecode(payload)
    : (payload, owned) => serializer.decode(owned ? payload : payload.slice());
}

/** The name a serializer crosses into a worker with ("" if it has none). */
export function resolveSerializer(serializer: Serializer): string {
  if (
    serializer === null || typeof serializer !== "object" ||
    typeof serializer.encode !== "function" ||
    typeof serializer.decode !== "function"
  ) {
    throw new TypeError("Serializer must have encode() and decode() methods");
  }
  return serializer === msgpack ? "msgpack" : serializer.name ?? "";
}

/**
 * Checks `maxsize`.
 *
 * @returns the bound (0 when unbounded)
 */
export function checkMaxsize(maxsize: unknown): number {
  if (maxsize === undefined) return 0;
  if (typeof maxsize !== "number" || Number.isNaN(maxsize)) {
    throw new RangeError(`Maxsize must be a number, got ${String(maxsize)}`);
  }
  if (maxsize <= 0) return 0;
  if (!Number.isInteger(maxsize) || maxsize > COUNTER_MAX) {
    throw new RangeError(
      `Maxsize must be an integer of at most ${COUNTER_MAX}, got ${maxsize}`,
    );
  }
  return maxsize;
}
