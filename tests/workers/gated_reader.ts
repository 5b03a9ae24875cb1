// Worker: waits for "go" on `gate`, takes one item (bytes) from `q`, and
// reports its length and whether every byte is 7.
import {
  bytes,
  type Queue,
  registerSerializer,
  workerArgs,
} from "../../mod.ts";

registerSerializer(bytes);
const [q, gate, results] = workerArgs<
  [Queue<Uint8Array>, Queue<string>, Queue<[number, boolean]>]
>();
await gate.get();
const item = await q.get();
await results.put([item.length, item.every((b) => b === 7)]);
await results.joinThread();
q.close();
