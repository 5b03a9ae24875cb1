// Per-process records in a queue's shared memory (the producer and consumer
// tables): a record's first Int32 is its owner's pid (0: free, -1: being
// freed). Claiming one and taking a dead owner's are single compare-and-swaps.

import { isAlive, pid } from "../../ffi/process.ts";

/** A table of `count` records of `stride` Int32s, from Int32 index `base`. */
export interface Table {
  readonly page: Int32Array;
  readonly base: number;
  readonly count: number;
  readonly stride: number;
}

/**
 * Claims a free record for this process, zeroing its other words.
 *
 * @returns its Int32 index, or -1 if the table is full
 */
export function claimRecord(table: Table): number {
  const { page, base, count, stride } = table;
  for (let i = 0; i < count; i++) {
    const at = base + stride * i;
    if (Atomics.compareExchange(page, at, 0, pid) === 0) {
      for (let k = 1; k < stride; k++) Atomics.store(page, at + k, 0);
      return at;
    }
  }
  return -1;
}

/**
 * For each record whose owner is dead (and not `skip`ped): takes it (exactly
 * one process wins), hands it to `take`, and frees it.
 */
export function sweepDeadRecords(
  table: Table,
  take: (at: number, owner: number) => void,
  skip: (at: number, owner: number) => boolean = () => false,
): void {
  const { page, base, count, stride } = table;
  for (let i = 0; i < count; i++) {
    const at = base + stride * i;
    const owner = Atomics.load(page, at);
    if (owner <= 0 || owner === pid || isAlive(owner) || skip(at, owner)) {
      continue;
    }
    if (Atomics.compareExchange(page, at, owner, -1) !== owner) continue;
    take(at, owner);
    Atomics.store(page, at, 0);
  }
}
