// Frame headers, as Python's multiprocessing.connection.Connection.send_bytes
// writes them: a 4-byte big-endian signed length, or -1 and an 8-byte
// big-endian length for payloads over 2^31-1 bytes.

/** Largest payload that takes the short header. */
export const SHORT_MAX = 0x7fffffff;

/** Header size for a payload of `length` bytes. */
export function headerSize(length: number): number {
  return length > SHORT_MAX ? 12 : 4;
}

/** Writes the header for `length` into `buf` at `pos`; returns its size. */
export function writeHeader(
  buf: Uint8Array,
  pos: number,
  length: number,
): number {
  if (length <= SHORT_MAX) {
    buf[pos] = length >>> 24;
    buf[pos + 1] = (length >>> 16) & 0xff;
    buf[pos + 2] = (length >>> 8) & 0xff;
    buf[pos + 3] = length & 0xff;
    return 4;
  }
  buf[pos] =
    buf[pos + 1] =
    buf[pos + 2] =
    buf[pos + 3] =
      0xff;
  const hi = Math.floor(length / 0x100000000);
  const lo = length >>> 0;
  buf[pos + 4] = hi >>> 24;
  buf[pos + 5] = (hi >>> 16) & 0xff;
  buf[pos + 6] = (hi >>> 8) & 0xff;
  buf[pos + 7] = hi & 0xff;
  buf[pos + 8] = lo >>> 24;
  buf[pos + 9] = (lo >>> 16) & 0xff;
  buf[pos + 10] = (lo >>> 8) & 0xff;
  buf[pos + 11] = lo & 0xff;
  return 12;
}

/** The signed 4-byte length at `pos` (-1 announces the 8-byte form). */
export function readShort(buf: Uint8Array, pos: number): number {
  return (buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) |
    buf[pos + 3];
}

/** The 8-byte length at `pos`, or -1 if it exceeds 2^53-1. */
export function readLong(buf: Uint8Array, pos: number): number {
  const hi = readShort(buf, pos) >>> 0;
  const lo = readShort(buf, pos + 4) >>> 0;
  if (hi > 0x1fffff) return -1;
  return hi * 0x100000000 + lo;
}

/** The default cap on what one frame may claim: 4 GiB − 1. */
export const DEFAULT_MAX_FRAME = 0xffffffff;

/**
 * Checks a decoded frame length against the cap.
 *
 * @throws {RangeError} when the header is malformed or claims too much
 */
export function checkLength(length: number, max: number): number {
  if (length < 0) {
    throw new RangeError(
      `Cannot read frame: malformed header declares length ${length}`,
    );
  }
  if (length > max) {
    throw new RangeError(
      `Cannot read frame: header declares ${length} bytes, more than the ${max}-byte limit`,
    );
  }
  return length;
}
