// Worker: puts `count` Uint8Arrays (msgpack) of sizes cycling through 40 KiB,
// 300 KiB, 5 KiB and 1 MiB + 3, item i filled with (i * 7) & 0xff, from one
// reused source buffer (so the encoder's own buffers are what differs), then
// closes the queue.
import { type Queue, workerArgs } from "../../mod.ts";

const SIZES = [300 * 1024, 300 * 1024, 40 * 1024, (1 << 20) + 3];
const [q, count] = workerArgs<[Queue<Uint8Array>, number]>();
const source = new Uint8Array(SIZES[3]);
for (let i = 0; i < count; i++) {
  const item = source.subarray(0, SIZES[i % SIZES.length]);
  item.fill((i * 7) & 0xff);
  await q.put(item);
}
q.close();
await q.joinThread();
