// The task module of examples/process_pool.ts: every exported function is a
// task a Pool worker can run.

/** The Collatz stopping time of n. */
export function collatz(n: number): number {
  let steps = 0;
  for (; n !== 1; steps++) n = n % 2 === 0 ? n / 2 : 3 * n + 1;
  return steps;
}

/** A task that takes its worker down with it. */
export function crash(): never {
  Deno.exit(3);
}

/** A task that throws. */
export function refuse(n: number): never {
  throw new RangeError(`refusing ${n}`);
}
