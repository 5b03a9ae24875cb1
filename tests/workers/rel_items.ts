// Helpers of the reliability tests (crash and soak): self-checking items.
//
// An item of `size` >= 4 bytes starts with a 4-byte big-endian tag,
// producer id (4 bits) << 28 | seq (28 bits); the rest is a slice of a fixed
// pseudo-random template chosen by (id, seq). An item of 0 bytes has no tag.

const TEMPLATE_SIZE = (1 << 20) + 4096;

function makeTemplate(): Uint8Array {
  const t = new Uint8Array(TEMPLATE_SIZE);
  let a = 0x9e3779b9;
  for (let i = 0; i < t.length; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    t[i] = a >>> 24;
  }
  return t;
}

const template = makeTemplate();

/** Where the body of item (id, seq) starts in the template. */
function offset(id: number, seq: number): number {
  return (Math.imul(seq, 2654435761) + id * 977) >>> 20; // 0 .. 4095
}

/** The largest item size. */
export const MAX_ITEM = 1 << 20;

/** Builds item `seq` of producer `id` with `size` bytes (0, or 4 to MAX_ITEM). */
export function makeItem(id: number, seq: number, size: number): Uint8Array {
  const item = new Uint8Array(size);
  if (size === 0) return item;
  if (size < 4 || size > MAX_ITEM || id > 15 || seq >= 2 ** 28) {
    throw new RangeError(`Cannot make item ${id}/${seq} of ${size} bytes`);
  }
  new DataView(item.buffer).setUint32(0, ((id << 28) | seq) >>> 0);
  const at = offset(id, seq);
  item.set(template.subarray(at, at + size - 4), 4);
  return item;
}

/**
 * Checks an item made by {@linkcode makeItem}.
 *
 * @returns `[id, seq]`, or a string saying what is wrong
 */
export function checkItem(
  item: unknown,
  sizeOf?: (id: number, seq: number) => number,
): [number, number] | string {
  if (!(item instanceof Uint8Array)) return `not a Uint8Array: ${typeof item}`;
  if (item.length < 4) return `an item of ${item.length} bytes`;
  const tag = new DataView(item.buffer, item.byteOffset, 4).getUint32(0);
  const id = tag >>> 28;
  const seq = tag & 0xfffffff;
  if (sizeOf !== undefined && sizeOf(id, seq) !== item.length) {
    return `item ${id}/${seq} has ${item.length} bytes, not ${sizeOf(id, seq)}`;
  }
  const at = offset(id, seq) - 4;
  for (let i = 4; i < item.length; i++) {
    if (item[i] !== template[at + i]) {
      return `item ${id}/${seq} (${item.length} bytes) is corrupt at byte ${i}`;
    }
  }
  return [id, seq];
}

/** The largest soak item. */
export const SOAK_MAX = 256 * 1024;

/**
 * The size of soak item (id, seq): 0 for about 1 in 50, else log-uniform
 * between 4 B and 256 KiB (most are small, a few are large).
 */
export function soakSize(id: number, seq: number): number {
  let h = Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1) ^
    Math.imul(id + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = (h ^ (h >>> 13)) >>> 0;
  if (h % 50 === 0) return 0;
  const u = (h >>> 8) / 2 ** 24; // [0, 1)
  return Math.min(SOAK_MAX, Math.floor(4 * (SOAK_MAX / 4) ** u));
}

/** The sentinel that tells a soak consumer to stop (3 bytes: no item has 3). */
export const SOAK_STOP = Uint8Array.of(0xff, 0xff, 0xff);
