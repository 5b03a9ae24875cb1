// Worker process of bench/ipc.ts for our queues, started with spawn(). The first
// arg names the role; the rest are queues and numbers. Every role closes and
// flushes its queues before it exits.
import { type Queue, type SimpleQueue, workerArgs } from "../../mod.ts";
import { memKiB, payloadOf, small } from "../_common.ts";

type AnyQ = Queue<unknown> | SimpleQueue<unknown>;

async function finish(...qs: AnyQ[]): Promise<void> {
  for (const q of qs) {
    q.close();
    if ("joinThread" in q) await q.joinThread();
  }
}

const args = workerArgs<unknown[]>();
const role = args[0] as string;

switch (role) {
  // Throughput consumer: "ready", get n items (one by one or with getMany), "done".
  case "consume": {
    const [, q, back, n, batch] = args as [string, AnyQ, AnyQ, number, boolean];
    await back.put("ready");
    if (batch) {
      const qq = q as Queue<unknown>;
      let got = 0;
      while (got < n) got += (await qq.getMany({ maxItems: 1024 })).length;
      if (got !== n) throw new Error(`got ${got} items, expected ${n}`);
    } else {
      for (let i = 0; i < n; i++) await q.get();
    }
    await back.put("done");
    await finish(q, back);
    break;
  }
  // Ping-pong: get from q1, put on q2, `total` times.
  case "echo": {
    const [, q1, q2, total] = args as [string, AnyQ, AnyQ, number];
    for (let i = 0; i < total; i++) await q2.put(await q1.get());
    await finish(q1, q2);
    break;
  }
  // Memory scenario producer: report idle RSS, put `count` items of `size` bytes
  // into a bounded queue, flush, report peak RSS.
  case "memprod": {
    const [, q, back, count, size] = args as [
      string,
      Queue<unknown>,
      Queue<unknown>,
      number,
      number,
    ];
    const idle = memKiB();
    await back.put({ ready: true, idle_rss_kib: idle.rss });
    const payload = payloadOf(size);
    for (let i = 0; i < count; i++) await q.put(payload);
    await q.joinThread();
    const end = memKiB();
    await back.put({ idle_rss_kib: idle.rss, peak_kib: end.hwm });
    await finish(q, back);
    break;
  }
  // Contention producer: "ready", wait for "go", put small(base .. base+count-1).
  case "cprod": {
    const [, q, back, go, base, count] = args as [
      string,
      AnyQ,
      AnyQ,
      AnyQ,
      number,
      number,
    ];
    await back.put("ready");
    await go.get();
    for (let j = 0; j < count; j++) await q.put(small(base + j));
    if ("joinThread" in q) await q.joinThread();
    await back.put("pdone");
    await finish(q, back, go);
    break;
  }
  // Contention consumer: "ready", get until null, report a per-id count array.
  case "ccons": {
    const [, q, back, total] = args as [string, AnyQ, AnyQ, number];
    await back.put("ready");
    const seen = new Uint8Array(total);
    let count = 0, bad = 0;
    for (;;) {
      const item = await q.get() as { i: number } | null;
      if (item === null) break;
      if (item.i >= 0 && item.i < total && seen[item.i] < 255) seen[item.i]++;
      else bad++;
      count++;
    }
    await back.put({ count, bad, seen });
    await finish(q, back);
    break;
  }
  default:
    throw new Error(`unknown role ${role}`);
}
