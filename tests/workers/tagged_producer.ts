// Worker: puts `count` small items [255, id, i] (bytes serializer).
import { type SimpleQueue, workerArgs } from "../../mod.ts";

const [queue, id, count] = workerArgs<
  [SimpleQueue<Uint8Array>, number, number]
>();
for (let i = 0; i < count; i++) await queue.put(new Uint8Array([255, id, i]));
queue.close();
