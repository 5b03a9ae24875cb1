// Worker: puts `count` items of `size` bytes (a bytes-serializer Queue) with
// putNowait, waits until they are all in the pipe, and exits.
import { type Queue, workerArgs } from "../../mod.ts";

const [q, count, size] = workerArgs<[Queue<Uint8Array>, number, number]>();
for (let i = 0; i < count; i++) q.putNowait(new Uint8Array(size).fill(i));
q.close();
await q.joinThread();
