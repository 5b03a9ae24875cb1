// Runs every example under examples/ as a subprocess, the way its `deno task`
// does, and checks what it prints.
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { NO_SERVER } from "./_redis.ts";

const ROOT = new URL("../", import.meta.url);
const TIMEOUT_MS = 60_000;

interface Run {
  code: number;
  lines: string[];
  stderr: string;
}

/** `deno run --allow-ffi --allow-run <path>`, killed after {@linkcode TIMEOUT_MS}. */
async function runExample(path: string): Promise<Run> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-run", path],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    });
    const { code, stdout, stderr } = await cmd.output();
    const text = new TextDecoder().decode(stdout);
    const run = {
      code,
      lines: text.split("\n").filter((l) => l !== ""),
      stderr: new TextDecoder().decode(stderr),
    };
    strictEqual(
      code,
      0,
      `${path} exited with ${code}\nstdout:\n${text}\nstderr:\n${run.stderr}`,
    );
    return run;
  } finally {
    clearTimeout(timer);
  }
}

/** Each example has a `deno task` that runs exactly this command. */
function checkTask(task: string, path: string): void {
  const config = JSON.parse(
    Deno.readTextFileSync(new URL("deno.json", ROOT)),
  ) as { tasks: Record<string, string> };
  strictEqual(
    config.tasks[task],
    `deno run --allow-ffi --allow-run ${path}`,
    `task ${task}`,
  );
}

Deno.test("examples/demo.ts: two workers square 1..8 and exit with 0", async () => {
  checkTask("demo", "examples/demo.ts");
  const { lines } = await runExample("examples/demo.ts");
  match(lines[0], /^parent \d+ spawned workers \d+ and \d+$/);
  const squares = lines.filter((l) => l.includes("²"));
  deepStrictEqual(
    squares.map((l) => l.replace(/ \(computed by (alpha|beta)\)$/, "")),
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `${n}² = ${n * n}`),
  );
  // The two workers share the work (each job takes 50 ms).
  const counts = ["alpha", "beta"].map((name) =>
    Number(
      lines.find((l) => l.startsWith(`${name} squared`))?.match(
        /squared (\d+) of 8/,
      )?.[1],
    )
  );
  ok(counts.every((c) => c >= 1), `shares: ${counts}`);
  strictEqual(counts[0] + counts[1], 8);
  for (const name of ["alpha", "beta"]) {
    strictEqual(
      squares.filter((l) => l.endsWith(`(computed by ${name})`)).length,
      counts[name === "alpha" ? 0 : 1],
    );
  }
  strictEqual(
    lines.filter((l) => /^worker \d+ exited with code 0$/.test(l)).length,
    2,
  );
});

Deno.test("examples/pipeline.ts: reader → 2 transformers → writer, joined stage by stage", async () => {
  checkTask("example:pipeline", "examples/pipeline.ts");
  const { lines } = await runExample("examples/pipeline.ts");
  // The parent's stage lines come first (the writer prints only after its
  // stop value, which the parent sends after `counted.join()`).
  deepStrictEqual(lines.slice(0, 3), [
    "reader: exited with code 0",
    "transformers: every line done",
    "writer: every result taken",
  ]);
  deepStrictEqual(lines.slice(3, 11), [
    " 1 (5 words) QUEUES CARRY VALUES BETWEEN PROCESSES",
    " 2 (5 words) ONE FRAME AT A TIME",
    " 3 (5 words) A PIPE FOR THE BYTES",
    " 4 (8 words) FUTEX WORDS FOR THE LOCKS AND THE COUNTS",
    " 5 (6 words) AND A FEEDER TASK THAT WRITES",
    " 6 (4 words) WHAT PUT HAS BUFFERED",
    " 7 (5 words) JOINABLEQUEUE ALSO COUNTS THE TASKS",
    " 8 (8 words) SO JOIN KNOWS WHEN EVERY ITEM IS DONE",
  ]);
  strictEqual(lines[11], "summary: 8 lines, 46 words");
  // Which transformer took which line varies; together they took all 8.
  const split = lines[12].match(/^split: (.*)$/);
  ok(split, lines[12]);
  const counts = [...split[1].matchAll(/t[12] did (\d+)/g)].map((m) =>
    Number(m[1])
  );
  strictEqual(counts.reduce((a, b) => a + b, 0), 8, lines[12]);
  strictEqual(lines[13], "transformers and writer exited with codes 0, 0, 0");
  strictEqual(lines.length, 14);
});

Deno.test("examples/pool.ts: results come back in input order", async () => {
  checkTask("example:pool", "examples/pool.ts");
  const { lines } = await runExample("examples/pool.ts");
  const arrival = lines[0].match(/^arrival order: ([\d ]+)$/);
  ok(arrival, lines[0]);
  deepStrictEqual(
    arrival[1].split(" ").map(Number).sort((a, b) => a - b),
    [...Array(12).keys()],
  );
  deepStrictEqual(
    lines.slice(1, 13).map((l) => l.replace(/ \(w[123]\)$/, "")),
    [
      "collatz(837799) = 524 steps",
      "collatz(77031) = 350 steps",
      "collatz(6171) = 261 steps",
      "collatz(871) = 178 steps",
      "collatz(97) = 118 steps",
      "collatz(27) = 111 steps",
      "collatz(9) = 19 steps",
      "collatz(7) = 16 steps",
      "collatz(6) = 8 steps",
      "collatz(3) = 7 steps",
      "collatz(2) = 1 steps",
      "collatz(1) = 0 steps",
    ],
  );
  strictEqual(lines[13], "12 results, in input order");
  strictEqual(lines.length, 14);
});

Deno.test("examples/backpressure.ts: bounded queue, stop values, every item consumed once", async () => {
  checkTask("example:backpressure", "examples/backpressure.ts");
  const { lines } = await runExample("examples/backpressure.ts");
  strictEqual(lines[0], "producer: put 30 items through a queue of maxsize 4");
  strictEqual(lines[1], "producer: qsize never above maxsize: true");
  // The consumers are slower than the producer, so it must have waited.
  const waits = lines[2].match(
    /^producer: waited for a free slot (\d+) times$/,
  );
  ok(waits, lines[2]);
  ok(Number(waits[1]) > 0, lines[2]);
  const took = lines.slice(3, 5).map((l) => {
    const m = l.match(/^consumer (c[12]): took (\d+) items$/);
    ok(m, l);
    return [m[1], Number(m[2])] as const;
  });
  deepStrictEqual(took.map(([c]) => c).sort(), ["c1", "c2"]);
  strictEqual(took[0][1] + took[1][1], 30);
  strictEqual(lines[5], "consumers: took 30 items in all, sum 465");
  strictEqual(lines[6], "all consumers exited with code 0");
  strictEqual(lines.length, 7);
});

Deno.test("examples/python_workers.ts: CPython workers square 1..8 from a Deno JoinableQueue and exit with 0", async () => {
  checkTask("example:python", "examples/python_workers.ts");
  const { lines } = await runExample("examples/python_workers.ts");
  const squares = lines.filter((l) => l.includes("²"));
  deepStrictEqual(
    squares.map((l) => l.replace(/ \(python pid \d+\)$/, "")),
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `${n}² = ${n * n}`),
  );
  match(lines.at(-2)!, /^[12] python worker\(s\) answered$/);
  strictEqual(lines.at(-1), "exit codes: 0 0");
});

Deno.test("examples/python_parent.py: a Python parent's queues reach a Deno worker and back", async () => {
  const { code, stdout, stderr } = await new Deno.Command("python3", {
    args: ["examples/python_parent.py"],
    cwd: ROOT,
    env: {
      PYTHONPATH: new URL("python/", ROOT).pathname,
      DENO: Deno.execPath(),
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  strictEqual(code, 0, text + new TextDecoder().decode(stderr));
  deepStrictEqual(text.trim().split("\n"), [
    "DENO AND PYTHON SHARE ONE QUEUE",
    "deno worker exited with 0",
  ]);
});

Deno.test("examples/process_pool.ts: Pool.map in order, imapUnordered, a throwing task and a dying worker, and the pool goes on", async () => {
  checkTask("example:process-pool", "examples/process_pool.ts");
  const { lines } = await runExample("examples/process_pool.ts");
  deepStrictEqual(lines, [
    "collatz(837799) = 524 steps",
    "collatz(77031) = 350 steps",
    "collatz(6171) = 261 steps",
    "collatz(871) = 178 steps",
    "collatz(97) = 118 steps",
    "collatz(27) = 111 steps",
    "imapUnordered: 6 results as they finished",
    "a task threw: RangeError: refusing 7",
    "a worker died: WorkerExitError, exit code 3",
    "the pool goes on: collatz(27) = 111",
  ]);
});

Deno.test({
  name:
    "examples/redis_pool.ts: workers that know only a URL and a name, results in input order",
  ignore: NO_SERVER,
  fn: async () => {
    const config = JSON.parse(
      Deno.readTextFileSync(new URL("deno.json", ROOT)),
    ) as { tasks: Record<string, string> };
    const command = config.tasks["example:redis"];
    strictEqual(
      command,
      "deno run --allow-net --allow-env=REDIS_DEBUG_MAINTENANCE --allow-run examples/redis_pool.ts",
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: command.split(" ").slice(1),
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).output();
    const text = new TextDecoder().decode(stdout);
    strictEqual(code, 0, `${text}\n${new TextDecoder().decode(stderr)}`);
    const lines = text.split("\n").filter((l) => l !== "");
    match(lines[0], /^collatz\(837799\) = 524 steps \(w[123]\)$/);
    strictEqual(lines[11].startsWith("collatz(1) = 0 steps"), true);
    strictEqual(
      lines[12],
      "12 results, in input order, from 3 workers over a throwaway Redis",
    );
  },
});
