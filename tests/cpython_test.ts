// CPython-compatible queues with real, unmodified CPython processes: every
// CPython from 3.8 up found under ~/.pyenv/versions (3.11 at least), both
// directions, all three queue kinds.

import {
  deepStrictEqual,
  fail,
  ok,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import {
  Empty,
  Full,
  JoinableQueue,
  Queue,
  SimpleQueue,
  spawn,
  spawnPython,
} from "../mod.ts";
import { missing, MPQ_DIR, pythons, pythonScript } from "./_python.ts";
import { shmNames } from "./_sys.ts";
import { guardedTest, workerUrl } from "./_util.ts";

const PYTHONS = pythons();
const LACKING = missing(PYTHONS);
console.log(
  `CPython interop on ${PYTHONS.map((p) => p.version).join(", ") || "nothing"}${
    LACKING.length > 0 ? `; not installed: ${LACKING.join(", ")}` : ""
  }`,
);

Deno.test("cpython: the interpreters to test are there (3.11 at least)", () => {
  ok(
    PYTHONS.some((p) => p.version.startsWith("3.11.")),
    `CPython 3.11 is needed under ~/.pyenv/versions; found ${
      PYTHONS.map((p) => p.version).join(", ") || "none"
    }`,
  );
});

/** Values of the type table, as sent, and as they come back from Python. */
const TABLE: [unknown, unknown][] = [
  [null, null],
  [undefined, null],
  [true, true],
  [false, false],
  [0, 0],
  [-1, -1],
  [2 ** 31, 2 ** 31],
  [2 ** 53, 2n ** 53n], // beyond the safe integers: an int comes back as bigint
  [2.0, 2], // an integral number is sent as an int
  [1.5, 1.5],
  [-0, -0],
  [NaN, NaN],
  [-Infinity, -Infinity],
  [5n, 5], // a bigint in the safe range comes back as a number
  [-(10n ** 30n), -(10n ** 30n)],
  ["", ""],
  ["héllo ✓ 😀", "héllo ✓ 😀"],
  ["lone \ud800 surrogate", "lone \ud800 surrogate"],
  [new Uint8Array([0, 255, 7]), new Uint8Array([0, 255, 7])],
  [[1, [2, [3, "x"]], []], [1, [2, [3, "x"]], []]],
  [{ a: 1, b: { c: [null] }, __proto__x: 2 }, {
    a: 1,
    b: { c: [null] },
    __proto__x: 2,
  }],
  [
    new Map<unknown, unknown>([[1, "one"], [[2, 3], "pair"], ["s", 4]]),
    new Map<unknown, unknown>([[1, "one"], [[2, 3], "pair"], ["s", 4]]),
  ],
  [new Set([1, "a"]), new Set([1, "a"])],
  ["x".repeat(100_000), "x".repeat(100_000)],
  [new Uint8Array(1 << 20).fill(7), new Uint8Array(1 << 20).fill(7)],
];

/** Runs `f` with a Python worker's queues, then awaits its exit (code 0). */
async function withWorker(
  python: string,
  script: string,
  args: unknown[],
  f: () => Promise<void>,
): Promise<void> {
  await using child = spawnPython(pythonScript(script), {
    args,
    python,
  });
  await f();
  const status = await child.status;
  strictEqual(status.code, 0, `${script} exited with ${status.code}`);
}

for (const py of PYTHONS) {
  const v = py.version;

  guardedTest(
    `cpython ${v}: a Queue carries the type table to a Python worker and back, through a maxsize of 2`,
    async () => {
      await using jobs = new Queue<unknown>({ cpython: true, maxsize: 2 });
      await using results = new Queue<unknown>({ cpython: true });
      await withWorker(py.path, "echo.py", [jobs, results], async () => {
        deepStrictEqual(await results.get({ timeout: 30_000 }), [
          "multiprocessing.queues.Queue",
          "multiprocessing.queues.Queue",
        ]);
        for (const [sent] of TABLE) await jobs.put(sent);
        await jobs.put("stop");
        ok(jobs.qsize() <= 2, `qsize ${jobs.qsize()} above maxsize 2`);
        for (const [, back] of TABLE) {
          deepStrictEqual(await results.get({ timeout: 30_000 }), back);
        }
      });
    },
  );

  guardedTest(
    `cpython ${v}: JoinableQueue join() and task_done() interoperate both ways`,
    async () => {
      await using jobs = new JoinableQueue<number | string>({ cpython: true });
      await using results = new JoinableQueue<unknown>({ cpython: true });
      await withWorker(py.path, "echo.py", [jobs, results], async () => {
        deepStrictEqual(await results.get({ timeout: 30_000 }), [
          "multiprocessing.queues.JoinableQueue",
          "multiprocessing.queues.JoinableQueue",
        ]);
        results.taskDone();
        for (let i = 0; i < 200; i++) await jobs.put(i);
        await jobs.put("stop");
        await jobs.join({ timeout: 30_000 }); // Python's task_done() calls count
        strictEqual(jobs.qsize(), 0);
        for (let i = 0; i < 200; i++) {
          strictEqual(await results.get({ timeout: 30_000 }), i);
          results.taskDone(); // Python's results.join() waits for these
        }
      });
    },
  );

  guardedTest(
    `cpython ${v}: a SimpleQueue carries items to a Python worker and back`,
    async () => {
      using jobs = new SimpleQueue<unknown>({ cpython: true });
      using results = new SimpleQueue<unknown>({ cpython: true });
      await withWorker(py.path, "echo.py", [jobs, results], async () => {
        deepStrictEqual(await results.get(), [
          "multiprocessing.queues.SimpleQueue",
          "multiprocessing.queues.SimpleQueue",
        ]);
        for (let i = 0; i < 100; i++) await jobs.put({ i, s: "y".repeat(i) });
        await jobs.put("stop");
        for (let i = 0; i < 100; i++) {
          deepStrictEqual(await results.get(), { i, s: "y".repeat(i) });
        }
      });
    },
  );

  guardedTest(
    `cpython ${v}: a Python parent hands its spawn-context queues to a Deno worker (mpq.spawn_deno)`,
    async () => {
      const out = await new Deno.Command(py.path, {
        args: [
          pythonScript("parent.py").pathname,
          workerUrl("cp_echo.ts").pathname,
          Deno.execPath(),
        ],
        env: { PYTHONPATH: MPQ_DIR },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) +
        new TextDecoder().decode(out.stderr);
      strictEqual(out.code, 0, text);
      ok(text.startsWith("OK 22"), text);
    },
  );
}

guardedTest(
  "cpython: a Python value with no JavaScript form fails its get with a TypeError; the next items still arrive",
  async () => {
    await using q = new Queue<unknown>({ cpython: true });
    await withWorker("python3", "bad_value.py", [q], async () => {
      await rejects(q.get({ timeout: 30_000 }), (e: Error) => {
        ok(e instanceof TypeError, String(e));
        ok(e.message.includes("datetime.datetime"), e.message);
        return true;
      });
      strictEqual(await q.get({ timeout: 30_000 }), 42);
      await rejects(q.get({ timeout: 30_000 }), (e: Error) => {
        ok(e instanceof TypeError, String(e));
        ok(e.message.includes("decimal.Decimal"), e.message);
        return true;
      });
      strictEqual(q.getNowait === undefined, false);
      strictEqual(await q.get({ timeout: 30_000 }), "after");
    });
  },
);

guardedTest(
  "cpython: timeouts and aborts end waits on a CPython queue",
  async () => {
    await using q = new Queue<number>({ cpython: true, maxsize: 1 });
    let t = performance.now();
    await rejects(q.get({ timeout: 100 }), Empty);
    let took = performance.now() - t;
    ok(took >= 99 && took < 2000, `get timeout took ${took} ms`);
    throws(() => q.getNowait(), Empty);
    q.putNowait(1);
    t = performance.now();
    await rejects(q.put(2, { timeout: 100 }), Full);
    took = performance.now() - t;
    ok(took >= 99 && took < 2000, `put timeout took ${took} ms`);
    throws(() => q.putNowait(2), Full);
    const ac = new AbortController();
    const pending = q.put(2, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await rejects(pending, { name: "AbortError" });
    strictEqual(q.qsize(), 1);
    strictEqual(await q.get(), 1);
    const ac2 = new AbortController();
    const waiting = q.get({ signal: ac2.signal });
    setTimeout(() => ac2.abort(), 50);
    await rejects(waiting, { name: "AbortError" });
    await q.put(3);
    strictEqual(await q.get({ timeout: 5000 }), 3);
  },
);

guardedTest(
  "cpython: close() ends a pending get and a put waiting for a slot",
  async () => {
    const q = new Queue<number>({ cpython: true, maxsize: 1 });
    const get = q.get();
    q.close();
    await rejects(get, { name: "ClosedError" });
    const q2 = new Queue<number>({ cpython: true, maxsize: 1 });
    q2.putNowait(1);
    const put = q2.put(2);
    q2.close();
    await rejects(put, { name: "ClosedError" });
    await q2.joinThread();
  },
);

guardedTest(
  "cpython: a JS value with no pickle form rejects put with a TypeError and a path; nothing is put",
  async () => {
    await using q = new Queue<unknown>({ cpython: true });
    await rejects(q.put({ a: [1, () => 1] }), (e: Error) => {
      ok(e instanceof TypeError, String(e));
      ok(e.message.includes("$.a[1]"), e.message);
      return true;
    });
    await rejects(q.put(new Date(0)), TypeError);
    strictEqual(q.qsize(), 0);
    await q.put("fine");
    strictEqual(await q.get(), "fine");
  },
);

guardedTest(
  "cpython: a native queue cannot go to a Python worker, and a CPython queue takes no other serializer",
  async () => {
    await using native = new Queue<number>();
    throws(
      () => spawnPython(pythonScript("echo.py"), { args: [native] }),
      /create it with \{ cpython: true \}/,
    );
    const { msgpack } = await import("../mod.ts");
    throws(
      () => new Queue({ cpython: true, serializer: msgpack }),
      TypeError,
    );
  },
);

guardedTest(
  "cpython: a fork-context Python queue is refused by spawn_deno with a clear message",
  async () => {
    const out = await new Deno.Command("python3", {
      args: [pythonScript("fork_refused.py").pathname],
      env: { PYTHONPATH: MPQ_DIR },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    strictEqual(out.code, 0, text + new TextDecoder().decode(out.stderr));
    ok(text.includes("get_context('spawn')"), text);
  },
);

guardedTest(
  "cpython: 4 Deno and 4 Python processes share one queue; every item arrives exactly once",
  async () => {
    const PER = 300;
    await using jobs = new Queue<unknown>({ cpython: true, maxsize: 64 });
    await using seen = new Queue<unknown>({ cpython: true });
    const children = [
      spawn(workerUrl("cp_produce.ts"), { args: [jobs, "d0", PER] }),
      spawn(workerUrl("cp_produce.ts"), { args: [jobs, "d1", PER] }),
      spawn(workerUrl("cp_consume.ts"), { args: [jobs, seen, "dc0"] }),
      spawn(workerUrl("cp_consume.ts"), { args: [jobs, seen, "dc1"] }),
      ...["p0", "p1"].map((tag) =>
        spawnPython(pythonScript("produce.py"), {
          args: [jobs, tag, PER],
        })
      ),
      ...["pc0", "pc1"].map((tag) =>
        spawnPython(pythonScript("consume.py"), {
          args: [jobs, seen, tag],
        })
      ),
    ];
    try {
      const got = new Map<string, number>();
      const byConsumer = new Map<string, number>();
      const total = 4 * PER;
      for (let i = 0; i < total; i++) {
        const [consumer, [tag, n]] = await seen.get({ timeout: 30_000 }) as [
          string,
          [string, number],
        ];
        const key = `${tag}:${n}`;
        if (got.has(key)) fail(`${key} arrived twice`);
        got.set(key, 1);
        byConsumer.set(consumer, (byConsumer.get(consumer) ?? 0) + 1);
      }
      for (let i = 0; i < 4; i++) await jobs.put(null);
      const ended = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const [consumer, item] = await seen.get({ timeout: 30_000 }) as [
          string,
          unknown,
        ];
        strictEqual(item, null);
        ended.add(consumer);
      }
      deepStrictEqual([...ended].sort(), ["dc0", "dc1", "pc0", "pc1"]);
      strictEqual(got.size, total);
      for (const tag of ["d0", "d1", "p0", "p1"]) {
        for (let n = 0; n < PER; n++) ok(got.has(`${tag}:${n}`), `${tag}:${n}`);
      }
      for (const c of children) strictEqual((await c.status).code, 0);
    } finally {
      for (const c of children) await c[Symbol.asyncDispose]();
    }
  },
);

guardedTest(
  "cpython: no semaphore name is left in /dev/shm after queues close, and a killed creator's names are swept by the next import",
  async () => {
    const before = shmNames();
    {
      await using a = new JoinableQueue<number>({ cpython: true });
      using b = new SimpleQueue<number>({ cpython: true });
      await a.put(1);
      strictEqual(await a.get(), 1);
      a.taskDone();
      await b.put(2);
      strictEqual(await b.get(), 2);
      ok(shmNames().length >= before.length + 10, "the names exist while open");
    }
    deepStrictEqual(shmNames(), before);
    // A creator killed by SIGKILL cannot unlink its names.
    const creator = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", workerUrl("cp_create_and_wait.ts").pathname],
      stdout: "piped",
    }).spawn();
    const reader = creator.stdout.getReader();
    const { value } = await reader.read();
    const line = new TextDecoder().decode(value);
    ok(line.startsWith("ready"), line);
    const left = shmNames().filter((e) => !before.includes(e));
    strictEqual(left.length, 8, `names of a JoinableQueue: ${left}`);
    creator.kill("SIGKILL");
    await creator.status;
    reader.releaseLock();
    await creator.stdout.cancel();
    deepStrictEqual(
      shmNames().filter((e) => !before.includes(e)).length,
      8,
      "the names outlive the killed creator",
    );
    // The next import of the library sweeps them.
    const importer = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", new URL("../mod.ts", import.meta.url).href],
    }).output();
    strictEqual(importer.code, 0);
    deepStrictEqual(shmNames(), before);
  },
);

Deno.test("cpython: python/_mpq_source.ts holds python/mpq.py as it is (deno task gen:mpq)", async () => {
  const { MPQ_SOURCE } = await import("../python/_mpq_source.ts");
  strictEqual(
    MPQ_SOURCE,
    Deno.readTextFileSync(new URL("../python/mpq.py", import.meta.url)),
  );
});

guardedTest(
  "cpython: a Python worker killed holding the read lock leaves it held (as in CPython); Deno gets still end at their timeout and signal",
  async () => {
    await using q = new Queue<number>({ cpython: true });
    await using ctl = new Queue<string>({ cpython: true });
    const child = spawnPython(pythonScript("hold_lock.py"), {
      args: [q, ctl, "rlock"],
    });
    strictEqual(await ctl.get({ timeout: 30_000 }), "held");
    child.kill("SIGKILL");
    strictEqual((await child.status).signal, "SIGKILL");
    await q.put(1);
    await q.joinThread(); // the put itself goes through: the write lock is free
    const t = performance.now();
    await rejects(q.get({ timeout: 200 }), Empty);
    ok(performance.now() - t < 2000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejects(q.get({ signal: ac.signal }), { name: "AbortError" });
    throws(() => q.getNowait(), Empty);
    strictEqual(q.qsize(), 1, "the item is still there, behind the held lock");
  },
);

guardedTest(
  "cpython: a frame cut short by a killed Python writer ends Deno gets at their timeout, not in a hang",
  async () => {
    await using q = new Queue<number>({ cpython: true });
    await using ctl = new Queue<string>({ cpython: true });
    const child = spawnPython(pythonScript("hold_lock.py"), {
      args: [q, ctl, "torn"],
    });
    strictEqual(await ctl.get({ timeout: 30_000 }), "held");
    child.kill("SIGKILL");
    await child.status;
    await rejects(q.get({ timeout: 200 }), Empty);
    await rejects(q.get({ timeout: 100 }), Empty);
    throws(() => q.getNowait(), Empty);
  },
);

guardedTest(
  "cpython: a queue closed right after spawnPython still works in the Python worker",
  async () => {
    const jobs = new Queue<string>({ cpython: true });
    await using results = new Queue<unknown>({ cpython: true });
    await jobs.put("a");
    await jobs.put("stop");
    await jobs.joinThread();
    await using child = spawnPython(pythonScript("echo.py"), {
      args: [jobs, results],
    });
    jobs.close(); // its names stay until the worker exits
    deepStrictEqual(await results.get({ timeout: 30_000 }), [
      "multiprocessing.queues.Queue",
      "multiprocessing.queues.Queue",
    ]);
    strictEqual(await results.get({ timeout: 30_000 }), "a");
    strictEqual((await child.status).code, 0);
  },
);

guardedTest(
  "cpython: a put on a full queue waits until a Python worker gets an item",
  async () => {
    await using jobs = new Queue<unknown>({ cpython: true, maxsize: 1 });
    await using results = new Queue<unknown>({ cpython: true });
    jobs.putNowait(1);
    strictEqual(jobs.full(), true);
    let done = false;
    const put = jobs.put(2).then(() => done = true);
    await new Promise((r) => setTimeout(r, 100));
    strictEqual(done, false, "the put waits while the queue is full");
    await withWorker("python3", "echo.py", [jobs, results], async () => {
      await put; // the worker's first get() freed the slot
      await jobs.put("stop");
      strictEqual(
        (await results.get({ timeout: 30_000 }) as string[]).length,
        2,
      );
      strictEqual(await results.get({ timeout: 30_000 }), 1);
      strictEqual(await results.get({ timeout: 30_000 }), 2);
    });
  },
);

/** A Python worker that holds a lock or writes part of a frame (hold_lock.py), killed at the end. */
async function withHolder(
  q: Queue<unknown>,
  what: "rlock" | "torn" | "first_torn",
  f: () => Promise<void>,
): Promise<void> {
  await using ctl = new Queue<string>({ cpython: true });
  await using child = spawnPython(pythonScript("hold_lock.py"), {
    args: [q, ctl, what],
  });
  strictEqual(await ctl.get({ timeout: 30_000 }), "held");
  try {
    await f();
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

guardedTest(
  "cpython: two gets of one process never read at once: the second waits for the lock while the first finishes a slow frame, and a CPython reader finds the stream whole",
  async () => {
    await using q = new Queue<unknown>({ cpython: true });
    await using ctl = new Queue<string>({ cpython: true });
    await using go = new Queue<number>({ cpython: true });
    await using report = new Queue<string>({ cpython: true });
    await withWorker("python3", "slow_frames.py", [q, ctl, go], async () => {
      strictEqual(await ctl.get({ timeout: 30_000 }), "begun");
      const a = q.get({ timeout: 20_000 });
      await new Promise((r) => setTimeout(r, 100)); // a holds the lock, mid-frame
      const b = q.get({ timeout: 20_000 });
      await go.put(1);
      strictEqual(await ctl.get({ timeout: 30_000 }), "written");
      // The second frame stays half written for 1 s: a CPython reader
      // started now must wait for the lock, not read its rest as a header.
      await withWorker("python3", "take_rlock.py", [q, report], async () => {
        deepStrictEqual(await a, new Uint8Array(300_000).fill(120));
        strictEqual(await b, "second");
        strictEqual(
          await report.get({ timeout: 30_000 }),
          "rlock True; nothing to read",
        );
      });
    });
  },
);

guardedTest(
  "cpython: frames taken before an abort in the middle of the next frame are returned, not dropped",
  async () => {
    await using q = new Queue<unknown>({ cpython: true });
    await withHolder(q, "first_torn", async () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      deepStrictEqual(
        await q.getMany({ maxItems: 10, signal: ac.signal }),
        ["first"],
      );
      await rejects(q.getMany({ maxItems: 10, timeout: 100 }), Empty);
    });
  },
);

guardedTest(
  "cpython: close() ends a get waiting for the rest of a frame with ClosedError",
  async () => {
    const q = new Queue<unknown>({ cpython: true });
    await withHolder(q, "torn", async () => {
      const get = q.get();
      await new Promise((r) => setTimeout(r, 100)); // mid-frame now
      const t = performance.now();
      q.close();
      await rejects(get, { name: "ClosedError" });
      ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
    });
  },
);

Deno.test("cpython: the sweep unlinks names of dead creators in this pid namespace only (another container's live processes are not taken for dead)", async () => {
  const { NamedSemaphore } = await import("../ffi/semaphore.ts");
  const { pidNamespace } = await import("../ffi/process.ts");
  const { sweepNames } = await import("../queues/cpython/_names.ts");
  const ns = pidNamespace();
  const other = ns === "1" ? "2" : "1";
  // pid 2^22 + 1 is above Linux's pid_max: nobody has it here.
  const dead = `/mpq-${ns}-4194305-1-test`;
  const foreign = `/mpq-${other}-4194305-1-test`;
  for (const name of [dead, foreign]) NamedSemaphore.create(name, 0).close();
  try {
    deepStrictEqual(sweepNames(), [dead]);
    ok(shmNames().includes(`sem${foreign.replace("/", ".")}`));
    ok(!shmNames().includes(`sem${dead.replace("/", ".")}`));
  } finally {
    NamedSemaphore.unlink(foreign);
    NamedSemaphore.unlink(dead);
  }
});

for (const py of PYTHONS) {
  guardedTest(
    `cpython ${py.version}: a Python worker's own multiprocessing child (spawn context) imports mpq and puts on the Deno queue`,
    async () => {
      await using q = new Queue<string>({ cpython: true });
      await withWorker(py.path, "grandchild.py", [q], async () => {
        strictEqual(await q.get({ timeout: 30_000 }), "from a grandchild");
        strictEqual(await q.get({ timeout: 30_000 }), "child exit 0");
      });
    },
  );
}

Deno.test("cpython: without python/ on disk (a package loaded from JSR), the bootstrap writes mpq.py once into the temporary directory, for the worker and its children", async () => {
  const { BOOTSTRAP } = await import("../process/spawn_python.ts");
  const { MPQ_SOURCE } = await import("../python/_mpq_source.ts");
  const tmp = await Deno.makeTempDir();
  try {
    const run = () =>
      new Deno.Command("python3", {
        args: [
          "-c",
          BOOTSTRAP,
          MPQ_SOURCE,
          pythonScript("import_mpq.py").pathname,
        ],
        env: { TMPDIR: tmp },
        stdout: "piped",
        stderr: "piped",
      }).output();
    for (let i = 0; i < 2; i++) {
      const out = await run();
      const text = new TextDecoder().decode(out.stdout);
      strictEqual(out.code, 0, text + new TextDecoder().decode(out.stderr));
      const [here, child] = text.trim().split("\n");
      strictEqual(here, child);
      ok(here.startsWith(`${tmp}/mpq-`) && here.endsWith("/mpq.py"), here);
      strictEqual(Deno.readTextFileSync(here), MPQ_SOURCE);
    }
    strictEqual([...Deno.readDirSync(tmp)].length, 1, "one cached copy");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
