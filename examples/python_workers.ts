// Deno parent, CPython workers: two unmodified Python processes take jobs
// from a JoinableQueue and put results on a Queue; the parent's join()
// returns once the Python side has called task_done() for every job.
//
//   deno task example:python
//   (deno run --allow-ffi --allow-run examples/python_workers.ts)
import { JoinableQueue, Queue, spawnPython } from "../mod.ts";

interface Result {
  n: number;
  square: number;
  pid: number;
}

await using jobs = new JoinableQueue<number | null>({ cpython: true });
await using results = new Queue<Result>({ cpython: true });
const script = new URL("./python_worker.py", import.meta.url);
await using a = spawnPython(script, { args: [jobs, results] });
await using b = spawnPython(script, { args: [jobs, results] });

for (let n = 1; n <= 8; n++) await jobs.put(n);
await jobs.put(null); // one stop value per worker
await jobs.put(null);
// Python's task_done() calls count here; a worker that crashes ends the
// wait (with a WorkerExitError) instead of hanging it.
await jobs.join({ signal: AbortSignal.any([a.signal, b.signal]) });

const got: Result[] = [];
for (let i = 0; i < 8; i++) got.push(await results.get());
got.sort((x, y) => x.n - y.n);
for (const r of got) console.log(`${r.n}² = ${r.square} (python pid ${r.pid})`);
const pids = new Set(got.map((r) => r.pid));
console.log(`${pids.size} python worker(s) answered`);
console.log(`exit codes: ${(await a.status).code} ${(await b.status).code}`);
