// Shared constants and helpers of the cross-process benchmark (bench/ipc.ts).

/** Throughput scenarios: [item count, payload bytes or null for the small object]. */
export const SCENARIOS: Record<string, [number, number | null]> = {
  T1: [200_000, null],
  T2: [100_000, 1024],
  T3: [10_000, 65536],
  T4: [1_000, 1048576],
  // The same items put by a synchronous loop of putNowait() (Python: put_nowait).
  N1: [200_000, null],
  N4: [1_000, 1048576],
};
/** Scenarios whose throughput is counted in MB/s (the others in messages/s). */
export const BYTE_SCENARIOS = new Set(["T3", "T4", "N4"]);
export const L1_N = 20_000;
export const L1_WARM = 1_000;
/** Size of `small(i)` as msgpack for a typical i (reported for reference only). */
export const SMALL_PAYLOAD = 23;

/** Scale factor of --quick mode: item counts are divided by it. */
export const QUICK_DIV = 20;

export interface Sizes {
  n: number;
  size: number | null;
}

export function scenario(sc: string, quick: boolean): Sizes {
  const [n, size] = SCENARIOS[sc];
  return { n: quick ? Math.max(1, Math.floor(n / QUICK_DIV)) : n, size };
}

export function l1Counts(quick: boolean): { n: number; warm: number } {
  return quick
    ? { n: L1_N / QUICK_DIV, warm: L1_WARM / QUICK_DIV }
    : { n: L1_N, warm: L1_WARM };
}

export interface Small {
  i: number;
  s: string;
  f: number;
}

export function small(i: number): Small {
  return { i, s: "hello", f: 1.5 };
}

export function payloadOf(size: number): Uint8Array {
  return new Uint8Array(size).fill(120);
}

export function latencyStats(
  rttMs: number[],
): { med_us: number; p99_us: number; mean_us: number } {
  const a = Float64Array.from(rttMs).sort();
  let s = 0;
  for (const x of a) s += x;
  return {
    med_us: a[a.length >> 1] * 1e3,
    p99_us: a[Math.floor(a.length * 0.99)] * 1e3,
    mean_us: (s / a.length) * 1e3,
  };
}

/** One result record, one JSON line on stdout of a cell process. */
export function emit(obj: Record<string, unknown>): void {
  console.log(JSON.stringify(obj));
}

/** VmHWM / VmRSS of a process in KiB, from /proc/<pid>/status. */
export function memKiB(pid: number | "self" = "self"): {
  hwm: number;
  rss: number;
} {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const get = (key: string) => {
    const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    return m ? Number(m[1]) : NaN;
  };
  return { hwm: get("VmHWM"), rss: get("VmRSS") };
}

/** 4-byte big-endian length header + body (the library's wire format), one new buffer. */
export function frame(body: Uint8Array): Uint8Array {
  const f = new Uint8Array(4 + body.length);
  new DataView(f.buffer).setInt32(0, body.length);
  f.set(body, 4);
  return f;
}

/** Parses 4-byte big-endian length-prefixed frames from a byte stream reader. */
export class FrameReader {
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #r: ReadableStreamDefaultReader<Uint8Array>;
  constructor(r: ReadableStreamDefaultReader<Uint8Array>) {
    this.#r = r;
  }
  async #fill(need: number): Promise<void> {
    let have = this.#buf.length - this.#pos;
    const parts: Uint8Array[] = [this.#buf.subarray(this.#pos)];
    while (have < need) {
      const { value, done } = await this.#r.read();
      if (done) throw new Error("unexpected EOF");
      parts.push(value);
      have += value.length;
    }
    if (parts.length === 2 && parts[0].length === 0) {
      this.#buf = parts[1];
    } else {
      const nb = new Uint8Array(have);
      let o = 0;
      for (const p of parts) {
        nb.set(p, o);
        o += p.length;
      }
      this.#buf = nb;
    }
    this.#pos = 0;
  }
  async next(): Promise<Uint8Array> {
    if (this.#buf.length - this.#pos < 4) await this.#fill(4);
    const b = this.#buf, p = this.#pos;
    const len =
      ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>>
      0;
    if (this.#buf.length - this.#pos < 4 + len) await this.#fill(4 + len);
    const start = this.#pos + 4;
    this.#pos = start + len;
    return this.#buf.subarray(start, start + len);
  }
}

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

/** The short hash of the checked-out commit, for a result's record. */
export async function gitCommit(): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["rev-parse", "--short", "HEAD"],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * Writes a result record to `bench/results/<name>-<date>.json` and prints
 * where.
 */
export async function writeResult(
  name: string,
  record: unknown,
): Promise<void> {
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const file = new URL(
    `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
    dir,
  );
  await Deno.writeTextFile(file, JSON.stringify(record, null, 2) + "\n");
  console.log(`wrote ${file.pathname}`);
}
