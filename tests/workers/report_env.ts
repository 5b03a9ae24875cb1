// Worker: puts the value of the environment variable named by its second
// argument (null when unset) on the queue given first.
import { type Queue, workerArgs } from "../../mod.ts";

const [out, name] = workerArgs<[Queue<string | null>, string]>();
await out.put(Deno.env.get(name) ?? null);
out.close();
await out.joinThread();
