// Validation of the options of `connect`, and their comparison with the
// options the queue was created with.

import { type Codec, codecFor } from "../queues/_codec.ts";
import { checkMaxsize, MAXSIZE_MAX } from "../queues/_options.ts";
import {
  msgpack,
  type Serializer,
  serializerByName,
} from "../queues/serializer.ts";
import type { Kind, Stored } from "./_remote.ts";

/** The default lease of a got item, in ms. */
export const DEFAULT_LEASE_MS = 30_000;
/** The default number of deliveries before an item is dead-lettered. */
export const DEFAULT_MAX_DELIVERIES = 5;

/** The options `connect` understands (all kinds). */
export interface AnyOptions {
  maxsize?: number;
  serializer?: Serializer;
  leaseMs?: number;
  maxDeliveries?: number;
}

/** A queue name and URL, checked. */
export function checkName(name: unknown): string {
  if (typeof name !== "string" || name === "" || name.length > 512) {
    throw new TypeError(
      `Cannot connect: the queue name must be a string of 1 to 512 characters, received ${
        typeof name === "string" ? `a string of ${name.length}` : typeof name
      }`,
    );
  }
  // The keys are "{mpq:<name>}:…": a brace in a name could make one
  // queue's keys look like another's.
  if (/[{}]/.test(name)) {
    throw new TypeError(
      `Cannot connect: the queue name must not contain { or }, received ${
        JSON.stringify(name)
      }`,
    );
  }
  return name;
}

/** Checks a positive integer option (or none). */
function positiveInteger(
  what: string,
  value: unknown,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 1 ||
    value > max
  ) {
    throw new RangeError(
      `Cannot connect: ${what} must be an integer from 1 to ${max}, received ${
        String(value)
      }`,
    );
  }
  return value;
}

/** The options given to `connect`, checked; `undefined` where not given. */
export interface Given {
  kind: Kind;
  maxsize?: number;
  serializer?: Serializer;
  leaseMs?: number;
  maxDeliveries?: number;
}

/**
 * Checks the options of `connect`.
 *
 * @throws {RangeError} for a bad number, {TypeError} for a serializer
 *   without a name or without encode/decode
 */
export function checkOptions(
  kind: Kind,
  options: AnyOptions | undefined,
): Given {
  const serializer = options?.serializer;
  if (serializer !== undefined) {
    codecFor(serializer);
    if (typeof serializer.name !== "string" || serializer.name === "") {
      throw new TypeError(
        "Cannot connect with a serializer without a name: every process of a Redis queue must find the same serializer by its name",
      );
    }
  }
  return {
    kind,
    maxsize: options?.maxsize === undefined
      ? undefined
      : checkMaxsize(options.maxsize),
    serializer,
    leaseMs: positiveInteger("leaseMs", options?.leaseMs, MAXSIZE_MAX),
    maxDeliveries: positiveInteger(
      "maxDeliveries",
      options?.maxDeliveries,
      1_000_000,
    ),
  };
}

/** The options a new queue is created with: the given ones, else defaults. */
export function creation(given: Given): Stored {
  return {
    kind: given.kind,
    maxsize: given.maxsize ?? 0,
    serializer: given.serializer?.name ?? "msgpack",
    leaseMs: given.leaseMs ?? DEFAULT_LEASE_MS,
    maxDeliveries: given.maxDeliveries ?? DEFAULT_MAX_DELIVERIES,
  };
}

/**
 * Compares the given options with those the queue was created with, and
 * finds its serializer.
 *
 * @throws {TypeError} on a difference, or when the stored serializer is
 *   neither given nor registered
 */
export function agree(name: string, given: Given, stored: Stored): Codec {
  const queue = `Cannot connect to queue ${JSON.stringify(name)}`;
  if (given.kind !== stored.kind) {
    throw new TypeError(
      stored.kind === "joinable"
        ? `${queue}: it is a joinable queue (connect with RedisJoinableQueue), received a ${given.kind} connect`
        : `${queue}: it is a plain queue (connect with RedisQueue or RedisSimpleQueue), received a joinable connect`,
    );
  }
  const differs = (option: string, was: unknown, now: unknown) => {
    throw new TypeError(
      `${queue}: it was created with ${option} ${
        JSON.stringify(was)
      }, received ${JSON.stringify(now)}`,
    );
  };
  if (given.maxsize !== undefined && given.maxsize !== stored.maxsize) {
    differs("maxsize", stored.maxsize, given.maxsize);
  }
  if (given.kind === "joinable") {
    if (given.leaseMs !== undefined && given.leaseMs !== stored.leaseMs) {
      differs("leaseMs", stored.leaseMs, given.leaseMs);
    }
    if (
      given.maxDeliveries !== undefined &&
      given.maxDeliveries !== stored.maxDeliveries
    ) {
      differs("maxDeliveries", stored.maxDeliveries, given.maxDeliveries);
    }
  }
  if (given.serializer !== undefined) {
    if (given.serializer.name !== stored.serializer) {
      differs("serializer", stored.serializer, given.serializer.name);
    }
    return codecFor(given.serializer);
  }
  const found = stored.serializer === "msgpack"
    ? msgpack
    : serializerByName(stored.serializer);
  if (found === undefined) {
    throw new TypeError(
      `${queue}: it was created with serializer ${
        JSON.stringify(stored.serializer)
      }, which this process has not registered: pass it as the serializer option (or registerSerializer() it)`,
    );
  }
  return codecFor(found);
}
