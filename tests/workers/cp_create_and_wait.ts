// A creator of a CPython-compatible JoinableQueue that says "ready" and
// waits to be killed (its semaphore names stay in /dev/shm).
import { JoinableQueue } from "../../mod.ts";

const q = new JoinableQueue<number>({ cpython: true });
await Deno.stdout.write(new TextEncoder().encode("ready\n"));
setInterval(() => q.qsize(), 1000);
