// Validation of constructor and call options.

import { COUNTER_MAX } from "./native/_counter.ts";

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

/**
 * Checks the `maxItems` and `maxBytes` of `getMany`.
 *
 * @returns the limits, with their defaults
 */
export function checkBatch(
  options: { maxItems?: number; maxBytes?: number } | undefined,
): { maxItems: number; maxBytes: number } {
  const maxItems = options?.maxItems ?? 1024;
  if (!Number.isInteger(maxItems) || maxItems < 1) {
    throw new RangeError(
      `MaxItems must be a positive integer, got ${maxItems}`,
    );
  }
  const maxBytes = options?.maxBytes ?? Infinity;
  if (
    typeof maxBytes !== "number" || Number.isNaN(maxBytes) || maxBytes < 0
  ) {
    throw new RangeError(
      `MaxBytes must be a number of at least 0, got ${maxBytes}`,
    );
  }
  return { maxItems, maxBytes };
}
