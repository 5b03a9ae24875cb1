// Worker: puts [id, i] on `q` for i in 0..count-1, in order, then returns.
import { type Queue, workerArgs } from "../../mod.ts";

const [q, id, count] = workerArgs<[Queue<[number, number]>, number, number]>();
for (let i = 0; i < count; i++) await q.put([id, i]);
q.close();
