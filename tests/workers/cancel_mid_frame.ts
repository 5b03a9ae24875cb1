// Worker: puts one 64 MiB item (bytes) on `q`, which nobody reads yet, so
// its feeder stops mid-frame on a full pipe; then calls cancelJoinThread(),
// reports "cancelled", and lives 5 s more.
import {
  bytes,
  type Queue,
  registerSerializer,
  workerArgs,
} from "../../mod.ts";

registerSerializer(bytes);
const [q, report] = workerArgs<[Queue<Uint8Array>, Queue<string>]>();
await q.put(new Uint8Array(64 << 20).fill(7));
await new Promise((r) => setTimeout(r, 300)); // the feeder is mid-frame
q.cancelJoinThread();
await report.put("cancelled");
await new Promise((r) => setTimeout(r, 5_000));
