import {
  deepStrictEqual,
  ok,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import {
  ClosedError,
  JoinableQueue,
  Queue,
  type Serializer,
  SimpleQueue,
  spawn,
  workerArgs,
  WorkerExitError,
} from "../mod.ts";
import { fdTargets } from "./_sys.ts";
import { withTimeout, workerUrl } from "./_util.ts";

function pipeInodes(q: object): string[] {
  // The queue's fds, read back through /proc: each is `pipe:[inode]`.
  const core =
    (q as Record<symbol, { channel: { readFd: number; writeFd: number } }>)[
      Symbol.for("@mp/queues.queue")
    ];
  return [core.channel.readFd, core.channel.writeFd].map((fd) =>
    Deno.readLinkSync(`/proc/self/fd/${fd}`)
  );
}

Deno.test("spawn() lets only its worker inherit the queue's fds", async () => {
  const q = new Queue<unknown>();
  const results = new Queue<unknown>();
  const mine = pipeInodes(q);
  ok(mine.every((t) => t.startsWith("pipe:[")), String(mine));
  // An unrelated child started while the queue is open holds none of them.
  const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const theirs = fdTargets(other.pid);
    ok(
      !mine.some((t) => theirs.includes(t)),
      `unrelated child holds ${theirs}`,
    );
  } finally {
    other.kill("SIGKILL");
    await other.status;
  }
  const child = spawn(workerUrl("report_fds.ts"), {
    args: [q, results],
    permissions: ["-A"],
  });
  const targets = await withTimeout(
    results.get(),
    30_000,
    "worker fd report",
  ) as string[];
  for (const t of mine) ok(targets.includes(t), `the worker lacks ${t}`);
  await q.put("through the inherited pipe");
  strictEqual(
    await withTimeout(results.get(), 30_000, "worker echo"),
    "through the inherited pipe",
  );
  strictEqual((await child.status).code, 0);
  // After the spawn our own fds are close-on-exec again.
  const core =
    (q as unknown as Record<symbol, { channel: { readFd: number } }>)[
      Symbol.for("@mp/queues.queue")
    ];
  const flags =
    Deno.readTextFileSync(`/proc/self/fdinfo/${core.channel.readFd}`)
      .match(/flags:\s+([0-7]+)/)![1];
  ok((parseInt(flags, 8) & 0o2000000) !== 0, "FD_CLOEXEC was not restored");
  q.close();
  results.close();
});

Deno.test("spawn() hands over queues anywhere in args, of every kind", async () => {
  const q = new Queue<unknown>({ maxsize: 7 });
  const sq = new SimpleQueue<unknown>();
  const jq = new JoinableQueue<unknown>();
  const child = spawn(workerUrl("args.ts"), {
    args: [q, { nested: [sq, jq] }, { n: 1, s: "two", list: [3n, null] }],
  });
  deepStrictEqual(await withTimeout(q.get(), 30_000, "args report"), {
    kinds: ["Queue", "SimpleQueue", "JoinableQueue"],
    plain: { n: 1, s: "two", list: [3n, null] },
    maxsize: 7,
  });
  await sq.put("via the nested SimpleQueue");
  strictEqual(
    await withTimeout(q.get(), 30_000, "nested"),
    "via the nested SimpleQueue",
  );
  strictEqual((await child.status).code, 0);
  for (const x of [q, sq, jq]) x.close();
});

Deno.test("spawn() throws TypeError for bad arguments and ClosedError for a closed queue", () => {
  throws(() => spawn(workerUrl("echo.ts"), { args: [() => 1] }), TypeError);
  throws(() => spawn(42 as unknown as string), TypeError);
  throws(
    () =>
      spawn(workerUrl("echo.ts"), { permissions: "-A" as unknown as string[] }),
    TypeError,
  );
  const nameless: Serializer = {
    encode: (v) => v as Uint8Array,
    decode: (b) => b,
  };
  const q = new SimpleQueue({ serializer: nameless });
  throws(
    () => spawn(workerUrl("echo.ts"), { args: [q] }),
    (e: Error) =>
      e instanceof TypeError && /serializer has no name/.test(e.message),
  );
  q.close();
  throws(() => spawn(workerUrl("echo.ts"), { args: [q] }), ClosedError);
  const big = new Queue();
  throws(
    () => spawn(workerUrl("echo.ts"), { args: ["x".repeat(200_000)] }),
    TypeError,
  );
  big.close();
});

Deno.test("workerArgs() outside a spawned worker throws an Error saying so", () => {
  throws(() => workerArgs(), /only in a process started by spawn\(\)/);
});

Deno.test("a queue closed right after spawn() still works in the worker", async () => {
  const q = new Queue<number>();
  const results = new Queue<number[]>();
  const child = spawn(workerUrl("self_loop.ts"), { args: [q, results] });
  q.close(); // before the worker even attached it
  deepStrictEqual(await withTimeout(results.get(), 30_000, "worker report"), [
    1,
    2,
    3,
  ]);
  strictEqual((await child.status).code, 0);
  results.close();
});

Deno.test("custom serializers cross by name and must be registered in the worker", async () => {
  const upper: Serializer = {
    name: "upper",
    encode: (v) => new TextEncoder().encode(String(v).toUpperCase()),
    decode: (b) => new TextDecoder().decode(b),
  };
  for (const register of ["1", "0"]) {
    const out = await Deno.makeTempFile();
    const q = new SimpleQueue<string>({ serializer: upper });
    const child = spawn(workerUrl("custom_serializer.ts"), {
      args: [q],
      env: { REGISTER: register, OUT: out },
      permissions: ["--allow-env=REGISTER,OUT", `--allow-write=${out}`],
    });
    if (register === "1") {
      await q.put("hello");
      strictEqual(
        await withTimeout(
          (async () => {
            // our own put may come back first if we read too early: wait for the reply
            for (;;) {
              const v = await q.get();
              if (v !== "HELLO") return v;
              await q.put("hello");
            }
          })(),
          30_000,
          "reply",
        ),
        "HELLO AND BACK",
      );
    }
    strictEqual((await child.status).code, 0);
    const outcome = JSON.parse(await Deno.readTextFile(out));
    await Deno.remove(out);
    if (register === "1") {
      deepStrictEqual(outcome, { ok: true, got: "HELLO" });
    } else {
      strictEqual(outcome.ok, false);
      strictEqual(outcome.name, "TypeError");
      ok(
        /"upper"/.test(outcome.message) &&
          /registerSerializer/.test(outcome.message),
        outcome.message,
      );
    }
    q.close();
  }
});

Deno.test("WorkerProcess: kill(), status and asyncDispose", async () => {
  const q = new SimpleQueue<unknown>();
  const ready = new SimpleQueue<unknown>();
  {
    await using child = spawn(workerUrl("blocked_get.ts"), {
      args: [q, ready],
    });
    ok(child.pid > 0);
    await withTimeout(ready.get(), 30_000, "ready");
  } // disposed: SIGTERM, then awaited
  const second = spawn(workerUrl("blocked_get.ts"), { args: [q, ready] });
  await withTimeout(ready.get(), 30_000, "ready");
  second.kill("SIGKILL");
  strictEqual((await second.status).signal, "SIGKILL");
  second.kill(); // after exit: a no-op
  const ac = new AbortController();
  const third = spawn(workerUrl("blocked_get.ts"), {
    args: [q, ready],
    signal: ac.signal,
  });
  await withTimeout(ready.get(), 30_000, "ready");
  ac.abort();
  strictEqual((await third.status).success, false);
  await rejects(Promise.reject(new Error("x")), Error);
  q.close();
  ready.close();
});

Deno.test("WorkerProcess.signal aborts with a WorkerExitError when the worker throws, exits non-zero, is killed or fails to load; never after a clean exit (issue 12)", async () => {
  const cases: [string, string, (e: WorkerExitError) => void][] = [
    ["throws", "throw new Error('boom');", (e) => strictEqual(e.code, 1)],
    ["Deno.exit(3)", "Deno.exit(3);", (e) => strictEqual(e.code, 3)],
    [
      "is killed",
      "Deno.kill(Deno.pid, 'SIGKILL');",
      (e) => strictEqual(e.signal, "SIGKILL"),
    ],
    ["fails to load", "import './nowhere.ts';", (e) => strictEqual(e.code, 1)],
  ];
  for (const [what, code, check] of cases) {
    await using results = new Queue<number>();
    await using worker = spawn(
      `data:application/typescript,${encodeURIComponent(code)}`,
      { stderr: "null" },
    );
    const e = await withTimeout(
      results.get({ signal: worker.signal }).catch((e) => e),
      30_000,
      `get() with the signal of a worker that ${what}`,
    );
    ok(e instanceof WorkerExitError, `${what}: ${e}`);
    strictEqual(e.pid, worker.pid);
    strictEqual(e, worker.signal.reason);
    check(e);
  }
  await using clean = spawn("data:application/typescript,1;");
  strictEqual((await clean.status).code, 0);
  strictEqual(clean.signal.aborted, false);
});

Deno.test("importing the library without --allow-ffi says that --allow-ffi is missing (issue 12)", async () => {
  const script = `import ${JSON.stringify(import.meta.resolve("../mod.ts"))};`;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `data:application/typescript,${encodeURIComponent(script)}`,
    ],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(stderr);
  strictEqual(code, 1);
  ok(text.includes("NotCapable: @mp/queues needs --allow-ffi"), text);
  ok(!text.includes("glibc"), text);
});

Deno.test("a worker resolves bare specifiers as its parent does: the parent's --config, given from another directory, is passed on (issue 12)", async () => {
  const dir = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  try {
    const mod = import.meta.resolve("../mod.ts");
    // The config is not where Deno would look for one: neither above the
    // working directory nor above the modules.
    await Deno.mkdir(`${dir}/config`);
    await Deno.writeTextFile(
      `${dir}/config/deno.json`,
      JSON.stringify({ imports: { greeting: "../greeting.ts" } }),
    );
    await Deno.writeTextFile(
      `${dir}/greeting.ts`,
      `export const hello = "hi";`,
    );
    await Deno.writeTextFile(
      `${dir}/worker.ts`,
      `import { hello } from "greeting";
import { workerArgs } from "${mod}";
const [out] = workerArgs();
await out.put(hello);`,
    );
    await Deno.writeTextFile(
      `${dir}/parent.ts`,
      `import { hello } from "greeting";
import { Queue, spawn } from "${mod}";
await using out = new Queue();
await using w = spawn(new URL("./worker.ts", import.meta.url), { args: [out] });
console.log(hello, await out.get({ signal: w.signal, timeout: 30000 }));`,
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "-A",
        "--config",
        `${dir}/config/deno.json`,
        `${dir}/parent.ts`,
      ],
      cwd: elsewhere, // no deno.json here or above
      env: { NO_COLOR: "1" },
    }).output();
    const err = new TextDecoder().decode(stderr);
    strictEqual(code, 0, err);
    strictEqual(new TextDecoder().decode(stdout), "hi hi\n", err);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("parseResolutionFlags() finds --config, -c and --import-map before the main module, absolute", async () => {
  const { parseResolutionFlags } = await import("../process/_resolution.ts");
  deepStrictEqual(
    parseResolutionFlags(
      [
        "deno",
        "run",
        "-A",
        "--config",
        "a/deno.json",
        "--import-map=https://x.test/map.json",
        "--seed",
        "7",
        "main.ts",
        "--config",
        "not/ours.json",
      ],
      "/home/u",
    ),
    ["--config=/home/u/a/deno.json", "--import-map=https://x.test/map.json"],
  );
  deepStrictEqual(
    parseResolutionFlags(["deno", "run", "-c=/etc/d.json", "m.ts"], "/"),
    ["--config=/etc/d.json"],
  );
  deepStrictEqual(
    parseResolutionFlags(["deno", "run", "--no-config", "m.ts"], "/"),
    ["--no-config"],
  );
});

Deno.test("spawn() gives a worker the allocator settings for big items unless GLIBC_TUNABLES is set", async () => {
  await using out = new Queue<string | null>();
  const run = async (env?: Record<string, string>) => {
    const w = spawn(workerUrl("report_env.ts"), {
      args: [out, "GLIBC_TUNABLES"],
      permissions: ["--allow-env=GLIBC_TUNABLES"],
      env,
    });
    const value = await out.get({ timeout: 30_000 });
    strictEqual((await w.status).code, 0);
    return value;
  };
  strictEqual(
    await run(),
    "glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432",
  );
  // The caller's own value (even an empty one, glibc's defaults) wins.
  strictEqual(await run({ GLIBC_TUNABLES: "" }), "");
  strictEqual(
    await run({ GLIBC_TUNABLES: "glibc.malloc.arena_max=2" }),
    "glibc.malloc.arena_max=2",
  );
});
