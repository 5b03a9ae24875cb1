// Worker: puts one 64 MiB item (every byte 7) on `q`, reports "writing"
// (the feeder is writing it: the parent may stop this process now), and
// exits once the item is written.
import {
  bytes,
  type Queue,
  registerSerializer,
  workerArgs,
} from "../../mod.ts";

registerSerializer(bytes);
const [q, report] = workerArgs<[Queue<Uint8Array>, Queue<string>]>();
await q.put(new Uint8Array(64 << 20).fill(7));
await new Promise((r) => setTimeout(r, 100)); // the pipe is full
await report.put("writing");
await report.joinThread();
q.close();
