// Worker: takes two items with getMany(); started with MPQ_DIE_AT=<step>,
// it dies (SIGKILL) at that step of the read path.
import { type Queue, workerArgs } from "../../mod.ts";

const [q] = workerArgs<[Queue<number>]>();
await q.getMany({ maxItems: 2 });
q.close();
