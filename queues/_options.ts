// Validation of constructor and call options.

import { msgpack, type Serializer } from "./serializer.ts";
import { COUNTER_MAX } from "./_counter.ts";

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
