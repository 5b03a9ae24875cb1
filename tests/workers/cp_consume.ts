// Worker: gets items from `jobs` until null, puts [tag, item] on `seen`,
// then [tag, null].
import { type Queue, workerArgs } from "../../mod.ts";

const [jobs, seen, tag] = workerArgs<
  [Queue<unknown>, Queue<unknown>, string]
>();
for (;;) {
  const item = await jobs.get();
  if (item === null) break;
  await seen.put([tag, item]);
}
await seen.put([tag, null]);
jobs.close();
await seen[Symbol.asyncDispose]();
