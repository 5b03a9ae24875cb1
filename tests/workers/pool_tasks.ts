// Task module of tests/pool_test.ts.

/** n². */
export function square(n: number): number {
  return n * n;
}

/** a + b. */
export function add(a: number, b: number): number {
  return a + b;
}

/** This worker's pid. */
export function pid(): number {
  return Deno.pid;
}

let naps = 0;

/** Resolves with this worker's pid after `ms`. */
export async function nap(ms: number): Promise<number> {
  naps++;
  await new Promise((r) => setTimeout(r, ms));
  return Deno.pid;
}

/** How many `nap`s this worker has started. */
export function napsStarted(): number {
  return naps;
}

/** A custom error class (arrives as an Error named "CustomError"). */
export class CustomError extends Error {
  override name = "CustomError";
}

/** Throws a RangeError for 13, a CustomError for 14; else returns n. */
export function picky(n: number): number {
  if (n === 13) throw new RangeError(`unlucky ${n}`);
  if (n === 14) throw new CustomError(`custom ${n}`);
  return n;
}

/** Exits the worker with `code` when n is `at`; else returns n. */
export function exitAt(n: number, at: number, code: number): number {
  if (n === at) Deno.exit(code);
  return n;
}

let state: unknown = "unset";

/** The initializer: keeps `value` for `getState`. */
export function init(value: unknown): void {
  state = value;
}

/** An initializer that throws. */
export function badInit(): void {
  throw new TypeError("the initializer failed");
}

/** What `init` kept in this worker. */
export function getState(): unknown {
  return state;
}

/** The length of `s`. */
export function len(s: string): number {
  return s.length;
}

/** Throws `undefined`. */
export function throwUndefined(): never {
  throw undefined;
}
