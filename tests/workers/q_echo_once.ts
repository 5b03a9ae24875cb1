// Worker: gets one item from `input`, puts it on `output`, closes both, returns.
import { bytes, type Queue, workerArgs } from "../../mod.ts";

void bytes; // the "bytes" serializer resolves by name
const [input, output] = workerArgs<[Queue<unknown>, Queue<unknown>]>();
const item = await input.get();
await output.put(item);
input.close();
output.close();
