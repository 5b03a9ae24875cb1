// Worker of bench/waits.ts: gets numbers from queue A and puts each back on
// queue B, until it gets -1; then closes both and flushes B.
import { type Queue, workerArgs } from "../../mod.ts";

const [a, b] = workerArgs<[Queue<number>, Queue<number>]>();
for (let n; (n = await a.get()) !== -1;) await b.put(n);
a.close();
b.close();
await b.joinThread();
