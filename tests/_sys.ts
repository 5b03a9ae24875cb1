// Test helpers that look at the operating system: fds, /dev/shm, /proc.

/**
 * The open file descriptors of this process, ascending, by probing
 * `/proc/self/fd` (the fd used for the listing itself is left out).
 */
export function openFds(): number[] {
  const fds: number[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    const fd = Number(entry.name);
    if (!Number.isInteger(fd)) continue;
    try {
      Deno.readLinkSync(`/proc/self/fd/${fd}`);
      fds.push(fd);
    } catch {
      // the directory listing's own fd, closed by now
    }
  }
  return fds.sort((a, b) => a - b);
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
