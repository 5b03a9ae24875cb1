// Validation of constructor and call options.

/**
 * The largest `maxsize` and `maxItems`: the ceiling of a queue's counters
 * (`native/_counter.ts` takes it from here; this module loads no FFI, so
 * the Redis entry point shares it).
 */
export const MAXSIZE_MAX = 2 ** 31 - 1;

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
  if (!Number.isInteger(maxsize) || maxsize > MAXSIZE_MAX) {
    throw new RangeError(
      `Maxsize must be an integer of at most ${MAXSIZE_MAX}, got ${maxsize}`,
    );
  }
  return maxsize;
}

/**
 * Checks the `cpython` option: a boolean, and no serializer but `pickle`
 * beside it (CPython's queues unpickle every item).
 *
 * @returns whether the queue is CPython-compatible
 */
export function checkCPython(
  options: { cpython?: unknown; serializer?: { name?: string } } | undefined,
): boolean {
  const cpython = options?.cpython;
  if (cpython === undefined || cpython === false) return false;
  if (cpython !== true) {
    throw new TypeError(
      `Cannot create the queue: option cpython must be a boolean, received ${
        String(cpython)
      }`,
    );
  }
  const serializer = options?.serializer;
  if (serializer !== undefined && serializer.name !== "pickle") {
    throw new TypeError(
      `Cannot create a CPython-compatible queue with the ${
        serializer.name ?? "unnamed"
      } serializer: CPython's queues carry pickle, received serializer ${
        JSON.stringify(serializer.name ?? null)
      }`,
    );
  }
  return true;
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
