// A pool whose only worker dies while 2 MB chunks wait in its inbox (more
// than its pipe holds); after close() and join() this process must exit.
import { Pool, WorkerExitError } from "../../mod.ts";
import type * as Tasks from "./pool_tasks.ts";

const pool = new Pool<typeof Tasks>(
  new URL("./pool_tasks.ts", import.meta.url),
  { processes: 1 },
);
await pool.apply("square", [1]);
const big = "y".repeat(2_000_000);
const settled = await Promise.allSettled([
  pool.apply("exitAt", [1, 1, 5]),
  pool.apply("len", [big]),
  pool.apply("len", [big]),
]);
console.log(
  JSON.stringify(
    settled.map((s) =>
      s.status === "fulfilled"
        ? s.value
        : s.reason instanceof WorkerExitError
        ? "WorkerExitError"
        : String(s.reason)
    ),
  ),
);
pool.close();
await pool.join();
console.log("joined");
