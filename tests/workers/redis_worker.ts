// A worker of tests/redis_test.ts: attaches to a Redis queue with only the
// URL and the name, and plays one role.
//
//   produce <url> <name> <from> <to>       puts from..to-1 one by one
//   consume <url> <name> <out>             gets until null, puts each to out
//   work <url> <name> <out> [die-at-batch] joinable: gets batches of 10, puts
//                                          each item to out, marks it done;
//                                          in batch number die-at-batch it
//                                          SIGKILLs itself after half of it
//   wait <url> <name>                      waits in get() (to be killed there)
//   step <url> <name> <kind> <op>          with MPQ_DIE_AT set: kind queue or
//                                          joinable, op get (getMany of 10)
//                                          or put (putMany of 1, 2, 3)
import { RedisJoinableQueue, RedisQueue } from "../../redis/mod.ts";

const [role, url, name, ...rest] = Deno.args;

if (role === "produce") {
  await using q = await RedisQueue.connect<number | null>(url, name);
  for (let i = Number(rest[0]); i < Number(rest[1]); i++) await q.put(i);
} else if (role === "consume") {
  await using q = await RedisQueue.connect<number | null>(url, name);
  await using out = await RedisQueue.connect<number>(url, rest[0]);
  for (;;) {
    const items = await q.getMany({ maxItems: 7, timeout: 30_000 });
    const stop = items.indexOf(null);
    const real = (stop < 0 ? items : items.slice(0, stop)) as number[];
    if (real.length > 0) await out.putMany(real);
    if (stop >= 0) {
      // Another consumer's stop values go back.
      const others = items.slice(stop + 1);
      if (others.length > 0) await q.putMany(others);
      break;
    }
  }
} else if (role === "work") {
  await using q = await RedisJoinableQueue.connect<number>(url, name);
  await using out = await RedisQueue.connect<number>(url, rest[0]);
  const dieAt = Number(rest[1] ?? 0);
  for (let batch = 1;; batch++) {
    let items: number[];
    try {
      items = await q.getMany({ maxItems: 10, timeout: 2_000 });
    } catch {
      break; // nothing more for 2 s
    }
    for (const [i, item] of items.entries()) {
      if (batch === dieAt && i === items.length >> 1) {
        Deno.kill(Deno.pid, "SIGKILL");
      }
      await out.put(item);
      await q.taskDone();
    }
  }
} else if (role === "wait") {
  await using q = await RedisQueue.connect<number>(url, name);
  await q.get();
} else if (role === "step") {
  const [kind, op] = rest;
  await using q = kind === "joinable"
    ? await RedisJoinableQueue.connect<number>(url, name)
    : await RedisQueue.connect<number>(url, name);
  if (op === "get") await q.getMany({ maxItems: 10, timeout: 5000 });
  else await q.putMany([1, 2, 3]);
  throw new Error(`MPQ_DIE_AT=${Deno.env.get("MPQ_DIE_AT")} did not kill`);
} else {
  throw new Error(`unknown role ${role}`);
}
