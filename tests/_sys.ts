// Test helpers that look at the operating system: fds, /dev/shm, /proc.

/** The fd numbers this process has open. */
export function openFds(): number[] {
  return [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

/** What each open fd of process `pid` points to (e.g. `pipe:[1234]`). */
export function fdTargets(pid: number | "self"): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Everything in /dev/shm (a queue puts nothing there). */
export function shmNames(): string[] {
  return [...Deno.readDirSync("/dev/shm")].map((e) => e.name).sort();
}

/** How many of this process's mappings are a queue's shared memory. */
export function queueMappings(): number {
  return Deno.readTextFileSync("/proc/self/maps").split("\n")
    .filter((line) => line.includes("/memfd:mpq")).length;
}

/** Rejects with a clear error if `promise` takes longer than `ms`. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} did not finish within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The URL of a worker module under tests/workers/. */
export function worker(name: string): URL {
  return new URL(`./workers/${name}`, import.meta.url);
}
