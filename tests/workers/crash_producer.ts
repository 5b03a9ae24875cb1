// Worker: puts 1 MiB items (bytes serializer) whose every byte is the item's
// index mod 251, forever, until it is killed.
import {
  bytes,
  registerSerializer,
  type SimpleQueue,
  workerArgs,
} from "../../mod.ts";

registerSerializer(bytes);
const [queue] = workerArgs<[SimpleQueue<Uint8Array>]>();
for (let i = 0;; i++) await queue.put(new Uint8Array(1 << 20).fill(i % 251));
