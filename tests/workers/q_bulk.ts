// Worker: puts `count` Uint8Arrays of `size` bytes (item i filled with i & 0xff)
// on `q`; with `opts.cancel` then calls cancelJoinThread(); puts "buffered" on
// `opts.done`; returns without closing `q`.
import { type Queue, workerArgs } from "../../mod.ts";

interface Opts {
  cancel?: boolean;
  done?: Queue<string>;
}

const [q, count, size, opts] = workerArgs<
  [Queue<Uint8Array>, number, number, Opts]
>();
for (let i = 0; i < count; i++) {
  await q.put(new Uint8Array(size).fill(i & 0xff));
}
if (opts.cancel) q.cancelJoinThread();
if (opts.done) await opts.done.put("buffered");
