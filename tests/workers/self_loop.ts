// Worker: puts three items on `queue`, gets them back itself, and reports them
// on `results`.
import { type Queue, workerArgs } from "../../mod.ts";

const [queue, results] = workerArgs<[Queue<number>, Queue<number[]>]>();
await queue.putMany([1, 2, 3]);
const got = [await queue.get(), await queue.get(), await queue.get()];
await results.put(got);
