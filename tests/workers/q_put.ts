// Worker: optionally waits for a signal on `opts.start`, puts `items` on `q`
// one by one, optionally waits for the flush (`opts.flush`), then optionally
// puts "done" on `opts.done`. Returns WITHOUT closing `q` unless `opts.close`.
import { type Queue, workerArgs } from "../../mod.ts";

interface Opts {
  start?: Queue<unknown>;
  done?: Queue<string>;
  flush?: boolean;
  close?: boolean;
}

const [q, items, opts] = workerArgs<[Queue<unknown>, unknown[], Opts]>();
if (opts.start) await opts.start.get();
for (const item of items) await q.put(item);
if (opts.flush) await q.joinThread();
if (opts.done) await opts.done.put("done");
if (opts.close) q.close();
