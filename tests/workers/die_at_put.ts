// Worker: puts 0..4 with putMany() (the feeder writes them in one buffer);
// started with MPQ_DIE_AT=<step>, it dies (SIGKILL) at that step of the
// write path.
import { type Queue, workerArgs } from "../../mod.ts";

const [q] = workerArgs<[Queue<number>]>();
await q.putMany([0, 1, 2, 3, 4]);
await q.joinThread();
q.close();
