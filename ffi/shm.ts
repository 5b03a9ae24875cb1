/**
 * Anonymous shared memory: a `memfd` mapped `MAP_SHARED`, shared with worker
 * processes through the inherited fd (no name, so nothing to leak).
 *
 * @module
 */

import { errno, libc, osError, unwrap } from "./libc.ts";

const MFD_CLOEXEC = 1;
const PROT_READ_WRITE = 3;
const MAP_SHARED = 1;
const MAP_FAILED = -1n;

/** One shared page (or a few), mapped into this process. */
export class SharedMemory {
  /** The memfd (inherited by workers, close-on-exec otherwise). */
  readonly fd: number;
  /** The mapped bytes. */
  readonly buffer: ArrayBuffer;
  readonly #size: number;
  #ptr: Deno.PointerObject | null;

  private constructor(fd: number, size: number) {
    const ptr = libc.mmap(
      null,
      BigInt(size),
      PROT_READ_WRITE,
      MAP_SHARED,
      fd,
      0n,
    );
    if (ptr === null || Deno.UnsafePointer.value(ptr) === MAP_FAILED) {
      throw osError(errno(), `mmap(${fd})`);
    }
    this.fd = fd;
    this.#size = size;
    this.#ptr = ptr;
    this.buffer = Deno.UnsafePointerView.getArrayBuffer(ptr, size);
  }

  /** Creates `size` zeroed bytes of shared memory. */
  static create(size: number): SharedMemory {
    const fd = unwrap(
      libc.memfd_create(new TextEncoder().encode("mpq\0"), MFD_CLOEXEC),
      "memfd_create",
    );
    try {
      unwrap(libc.ftruncate(fd, BigInt(size)), `ftruncate(${fd})`);
      return new SharedMemory(fd, size);
    } catch (e) {
      libc.close(fd);
      throw e;
    }
  }

  /** Maps an inherited memfd. */
  static attach(fd: number, size: number): SharedMemory {
    return new SharedMemory(fd, size);
  }

  /** The address of byte `offset` of the mapping (for futexes). */
  address(offset: number): Deno.PointerValue {
    if (this.#ptr === null) {
      throw new Deno.errors.BadResource("Shared memory is closed");
    }
    return Deno.UnsafePointer.offset(this.#ptr, offset);
  }

  /** Sets the memfd's size to `bytes` (beyond the part mapped at creation). */
  resize(bytes: number): void {
    unwrap(libc.ftruncate(this.fd, BigInt(bytes)), `ftruncate(${this.fd})`);
  }

  /**
   * Maps `length` bytes of the memfd from `offset` (a multiple of the page
   * size) for as long as `use` runs, then unmaps them.
   */
  withRange<T>(
    offset: number,
    length: number,
    use: (bytes: Uint8Array) => T,
  ): T {
    const ptr = libc.mmap(
      null,
      BigInt(length),
      PROT_READ_WRITE,
      MAP_SHARED,
      this.fd,
      BigInt(offset),
    );
    if (ptr === null || Deno.UnsafePointer.value(ptr) === MAP_FAILED) {
      throw osError(errno(), `mmap(${this.fd}, ${offset})`);
    }
    try {
      return use(
        new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, length)),
      );
    } finally {
      libc.munmap(ptr, BigInt(length));
    }
  }

  /** Unmaps and closes (idempotent). Views of `buffer` must not be used after. */
  close(): void {
    if (this.#ptr === null) return;
    libc.munmap(this.#ptr, BigInt(this.#size));
    this.#ptr = null;
    libc.close(this.fd);
  }
}
