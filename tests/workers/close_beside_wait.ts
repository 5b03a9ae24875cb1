// A queue closed while another queue's wait keeps the helper-thread call
// (which had the closed queue's word armed) in flight; prints "no crash"
// unless unmapping the closed queue's memory crashed the process.
// Args: "native" or "cpython".
import { Queue } from "../../mod.ts";

const cpython = Deno.args[0] === "cpython";
for (let i = 0; i < 10; i++) {
  const a = new Queue<number>({ cpython, maxsize: 1 });
  const b = new Queue<number>({ cpython, maxsize: 1 });
  await a.put(1);
  await b.put(1);
  const ac = new AbortController();
  const pb = b.put(2, { timeout: 100 + i }).catch((e) => e.name);
  await new Promise((r) => setTimeout(r, 10));
  const pa = a.put(2, { signal: ac.signal }).catch((e) => e.name);
  await pb;
  b.close(); // its slots word is still armed in the call a.put sleeps in
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  await pa;
  a.close();
}
console.log("no crash");
