// The shared memory of a native queue, one memfd mapped by every process
// that holds the queue: a page of state words, the ring of frame marks, and
// the shared read buffer. Every field has a name, a byte offset and a size
// here, and nowhere else; the module checks at load that no two overlap.

/** A field of the shared memory: where it starts and how many bytes it has. */
export interface Field {
  readonly at: number;
  readonly bytes: number;
}

/** Bytes of the page of state words (the ring starts after it). */
export const PAGE_BYTES = 2048;
/** Frame marks in the ring: one per frame a full 1 MiB pipe of 4-byte frames holds. */
export const RING = 1 << 18;
/** Bytes of the shared read buffer. */
export const CARRY = 64 * 1024;
/** How many counters a queue can have (slots, unfinished tasks, …). */
export const COUNTER_COUNT = 4;
/** Entries of the producer table. */
export const PRODUCER_ENTRIES = 48;
/** Entries of the consumer table. */
export const CONSUMER_ENTRIES = 64;
/** Records of the loss log. */
export const LOSS_RECORDS = 16;

const i32 = (at: number): Field => ({ at, bytes: 4 });
const f64 = (at: number): Field => ({ at, bytes: 8 });

/**
 * Every field, by name. Int32 words are atomics and futex words; Float64
 * words are byte counts and stream offsets (written by one lock holder,
 * read by its successor).
 */
export const FIELDS = {
  // Locks: the holder's pid (0: free), and how many processes sleep on it.
  // The read lock's word is the low half of a 64-bit word whose high half is
  // 1 while its holder is ending its hold (see `Reader`): releasing the lock
  // clears both in one store.
  rlock: { at: 64, bytes: 8 },
  wlock: i32(4),
  rlockSleepers: i32(20),
  wlockSleepers: i32(24),
  // Crash-recovery counts (all processes): frames cut short by a dying
  // writer, frames whose reader died.
  torn: i32(8),
  lost: i32(12),
  /** 1 while the read-lock holder is inside a frame. */
  reading: i32(16),
  /** The pid of a dead reader whose mess is not cleaned up yet. */
  resync: i32(28),
  /** Odd while a write call is in flight (a seqlock for `written`). */
  writeSeq: i32(32),
  /** 1 while a read into the read buffer is in flight. */
  carryReading: i32(36),
  /** The pid of the one reader spinning for data (0: none). */
  spinner: i32(40),
  /**
   * The free slots (low Int32, a futex word) and, in the same 64-bit word,
   * the stream offset (mod 2^32) up to which taken frames gave their slots
   * back: a reader does both in one compare-and-swap.
   */
  slots: { at: 48, bytes: 8 },
  /** How many processes sleep on the free slots. */
  slotsSleepers: i32(56),
  /** Where the frame being written will end (a stream offset). */
  nextEnd: f64(88),
  /** Bytes written to the pipe, by every process. */
  written: f64(96),
  /** Bytes read from the pipe, by every process. */
  consumed: f64(104),
  /** How many marks were ever put in the ring. */
  markSeq: f64(120),
  // The read buffer holds stream bytes [carryStart, carryEnd) at byte
  // carryStart - carryBase of `carry`; carryEnd is -1 while invalid.
  carryStart: f64(128),
  carryBase: f64(136),
  carryEnd: f64(144),
  /** Frames ending at or before it went to a caller. */
  delivered: f64(152),
  /** Where the read-lock holder's hold began, stored as it ends it. */
  holdFrom: f64(80),
  // A big frame a reader stopped receiving (its caller's timeout, signal or
  // close): the payload's length (0: none) and how many of its bytes were
  // received, kept at `PARKED_AT` in the memfd until the next reader takes
  // them over and receives the rest.
  parkedLength: f64(160 + COUNTER_COUNT * 8),
  parkedHave: f64(168 + COUNTER_COUNT * 8),
  /** The stream offset up to which the parked frame's bytes were read. */
  parkedEnd: f64(176 + COUNTER_COUNT * 8),
  /** (value, sleepers) Int32 pairs, one per counter. */
  counters: { at: 160, bytes: COUNTER_COUNT * 8 },
  /**
   * (pid, items ever reserved, items ever written, unused) Int32 records:
   * reserved minus written are the items a process buffered and has not
   * written yet.
   */
  producers: { at: 256, bytes: PRODUCER_ENTRIES * 16 },
  // The write journal, kept by the write-lock holder as it begins a buffer:
  // its producer record (Int32 index, -1: none), that record's written count
  // then, and the marks the buffer's frames take in the ring (written at
  // once; `markSeq` passes them as they complete), so that a dead writer's
  // accounting is finished exactly by whoever takes over.
  journalProducer: i32(44),
  journalWritten: i32(60),
  journalSeqStart: f64(72),
  journalSeqEnd: f64(112),
  /** (pid, items got and not yet marked done) Int32 pairs (a JoinableQueue). */
  consumers: { at: 1024, bytes: CONSUMER_ENTRIES * 8 },
  /** How many losses were ever logged (a JoinableQueue). */
  lossSeq: i32(1536),
  /**
   * (seq + 1, pid, items lost, unused) Int32 records: the last losses, by seq
   * mod their number (the first word is written last).
   */
  losses: { at: 1552, bytes: LOSS_RECORDS * 16 },
  /** The end offset (mod 2^32) of every frame written, a Uint32 ring. */
  ring: { at: PAGE_BYTES, bytes: RING * 4 },
  /** The shared read buffer. */
  carry: { at: PAGE_BYTES + RING * 4, bytes: CARRY },
} as const satisfies Record<string, Field>;

/** Bytes of shared memory a native queue needs. */
export const SHARED_BYTES: number = FIELDS.carry.at + FIELDS.carry.bytes;
/**
 * Where in the memfd a parked frame's bytes go (past the shared memory, on a
 * page boundary): the memfd grows to hold them while they are parked.
 */
export const PARKED_AT: number = Math.ceil(SHARED_BYTES / 4096) * 4096;

/**
 * Throws if two fields overlap, a field is misaligned for its size, a page
 * field spills out of the page, or a field lies beyond `size`.
 */
export function checkLayout(
  fields: Record<string, Field>,
  size: number,
): void {
  const sorted = Object.entries(fields).sort((a, b) => a[1].at - b[1].at);
  for (let i = 0; i < sorted.length; i++) {
    const [name, f] = sorted[i];
    const align = f.bytes === 8 ? 8 : 4;
    if (f.at % align !== 0) {
      throw new RangeError(`Field ${name} at ${f.at} is not ${align}-aligned`);
    }
    if (f.at + f.bytes > size) {
      throw new RangeError(`Field ${name} ends past the ${size}-byte memory`);
    }
    if (f.at < PAGE_BYTES && f.at + f.bytes > PAGE_BYTES) {
      throw new RangeError(`Field ${name} spills out of the page`);
    }
    const next = sorted[i + 1];
    if (next !== undefined && f.at + f.bytes > next[1].at) {
      throw new RangeError(`Fields ${name} and ${next[0]} overlap`);
    }
  }
}

checkLayout(FIELDS, SHARED_BYTES);

/** The Int32 index of an Int32 field. */
const w = (f: Field): number => f.at / 4;
/** The Float64 index of a Float64 field. */
const d = (f: Field): number => f.at / 8;

// Indexes into `SharedPage.i32` and `SharedPage.f64`, for the hot paths.
export const RLOCK: number = w(FIELDS.rlock);
export const WLOCK: number = w(FIELDS.wlock);
export const RLOCK_SLEEPERS: number = w(FIELDS.rlockSleepers);
export const WLOCK_SLEEPERS: number = w(FIELDS.wlockSleepers);
export const TORN: number = w(FIELDS.torn);
export const LOST: number = w(FIELDS.lost);
export const READING: number = w(FIELDS.reading);
export const RESYNC: number = w(FIELDS.resync);
export const WRITE_SEQ: number = w(FIELDS.writeSeq);
export const CARRY_READING: number = w(FIELDS.carryReading);
export const SPINNER: number = w(FIELDS.spinner);
export const SLOTS: number = w(FIELDS.slots);
export const SLOTS_SLEEPERS: number = w(FIELDS.slotsSleepers);
export const COUNTERS: number = w(FIELDS.counters);
export const PRODUCERS: number = w(FIELDS.producers);
export const JOURNAL_PRODUCER: number = w(FIELDS.journalProducer);
export const JOURNAL_WRITTEN: number = w(FIELDS.journalWritten);
export const JOURNAL_SEQ_START: number = d(FIELDS.journalSeqStart);
export const JOURNAL_SEQ_END: number = d(FIELDS.journalSeqEnd);
export const CONSUMERS: number = w(FIELDS.consumers);
export const LOSS_SEQ: number = w(FIELDS.lossSeq);
export const LOSSES: number = w(FIELDS.losses);
export const NEXT_END: number = d(FIELDS.nextEnd);
export const WRITTEN: number = d(FIELDS.written);
export const CONSUMED: number = d(FIELDS.consumed);
export const MARK_SEQ: number = d(FIELDS.markSeq);
export const CARRY_START: number = d(FIELDS.carryStart);
export const CARRY_BASE: number = d(FIELDS.carryBase);
export const CARRY_END: number = d(FIELDS.carryEnd);
export const DELIVERED: number = d(FIELDS.delivered);
export const HOLD_FROM: number = d(FIELDS.holdFrom);
export const PARKED_LENGTH: number = d(FIELDS.parkedLength);
export const PARKED_HAVE: number = d(FIELDS.parkedHave);
export const PARKED_END: number = d(FIELDS.parkedEnd);

/** Views of one process's mapping of a queue's shared memory. */
export class SharedPage {
  /** The page as Int32 words. */
  readonly i32: Int32Array;
  /** The page as Float64 words. */
  readonly f64: Float64Array;
  /** The page as BigInt64 words (for the one 64-bit compare-and-swap). */
  readonly i64: BigInt64Array;
  /** The ring of frame marks. */
  readonly ring: Uint32Array;
  /** The shared read buffer. */
  readonly carry: Uint8Array;
  readonly #address: (offset: number) => Deno.PointerValue;

  /**
   * @param buffer the mapping (at least {@linkcode SHARED_BYTES})
   * @param address the address of a byte offset of the mapping
   */
  constructor(
    buffer: ArrayBuffer,
    address: (offset: number) => Deno.PointerValue,
  ) {
    this.i32 = new Int32Array(buffer, 0, PAGE_BYTES / 4);
    this.f64 = new Float64Array(buffer, 0, PAGE_BYTES / 8);
    this.i64 = new BigInt64Array(buffer, 0, PAGE_BYTES / 8);
    this.ring = new Uint32Array(buffer, FIELDS.ring.at, RING);
    this.carry = new Uint8Array(buffer, FIELDS.carry.at, CARRY);
    this.#address = address;
  }

  /** The address of the Int32 word at index `slot` (for futexes). */
  address(slot: number): Deno.PointerValue {
    return this.#address(slot * 4);
  }
}
