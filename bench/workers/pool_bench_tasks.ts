// Task module of bench/pool.ts.

/** n² (a tiny task). */
export function square(n: number): number {
  return n * n;
}

/** Keeps the CPU busy for `ms` milliseconds (a CPU-bound task). */
export function busy(ms: number): number {
  const end = performance.now() + ms;
  let spins = 0;
  while (performance.now() < end) spins++;
  return spins;
}
