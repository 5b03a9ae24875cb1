// Worker: gets items from `input` and puts them on `output` until it gets null.
import { type Queue, workerArgs } from "../../mod.ts";

const [input, output] = workerArgs<[Queue<unknown>, Queue<unknown>]>();
for (;;) {
  const item = await input.get();
  if (item === null) break;
  await output.put(item);
}
input.close();
output.close();
