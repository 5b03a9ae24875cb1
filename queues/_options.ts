// Validation of constructor and call options.

import { msgpack, type Serializer } from "./serializer.ts";
import { SEM_VALUE_MAX } from "../ffi/semaphore.ts";

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
 * @returns the semaphore's initial value (`SEM_VALUE_MAX` when unbounded)
 */
export function checkMaxsize(maxsize: unknown): number {
  if (maxsize === undefined) return 0;
  if (typeof maxsize !== "number" || Number.isNaN(maxsize)) {
    throw new RangeError(`Maxsize must be a number, got ${String(maxsize)}`);
  }
  if (maxsize <= 0) return 0;
  if (!Number.isInteger(maxsize) || maxsize > SEM_VALUE_MAX) {
    throw new RangeError(
      `Maxsize must be an integer of at most ${SEM_VALUE_MAX}, got ${maxsize}`,
    );
  }
  return maxsize;
}
