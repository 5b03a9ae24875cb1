// Runs every example in the JSDoc of redis/ (marked `ignore` for
// `deno test --doc`, which has no Redis server) against a real server: each
// block is written to a module beside the package, so `@mp/queues/redis`
// resolves, and run with REDIS_URL set and the permissions the README lists.
import { strictEqual } from "node:assert/strict";
import { GIVEN_URL, NO_REDIS, RedisServer } from "./_redis.ts";

const ROOT = new URL("../", import.meta.url);

/** The code blocks of the JSDoc comments of a module. */
function examplesOf(source: string): string[] {
  const blocks: string[] = [];
  const fence = /^\s*\* ```ts ignore\n([\s\S]*?)^\s*\* ```$/gm;
  for (const m of source.matchAll(fence)) {
    blocks.push(
      m[1].split("\n").map((l) => l.replace(/^\s*\* ?/, "")).join("\n"),
    );
  }
  return blocks;
}

Deno.test({
  name: "every JSDoc example of @mp/queues/redis runs against a real server",
  ignore: NO_REDIS,
  fn: async () => {
    await using server = GIVEN_URL === "" ? await RedisServer.start() : null;
    const url = server?.url ?? GIVEN_URL;
    const dir = await Deno.makeTempDir({
      dir: new URL(".", ROOT).pathname,
      prefix: ".doc-",
    });
    try {
      const examples: [string, string][] = [];
      for (const entry of Deno.readDirSync(new URL("redis/", ROOT))) {
        if (!entry.name.endsWith(".ts")) continue;
        const source = Deno.readTextFileSync(
          new URL(`redis/${entry.name}`, ROOT),
        );
        examplesOf(source).forEach((code, i) =>
          examples.push([`${entry.name}#${i + 1}`, code])
        );
      }
      strictEqual(
        examples.length >= 20,
        true,
        `found ${examples.length} examples`,
      );
      for (const [where, code] of examples) {
        const path = `${dir}/${where.replace(/[^a-z0-9]/gi, "_")}.ts`;
        await Deno.writeTextFile(path, code);
        const { code: exit, stderr } = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-net", "--allow-env", path],
          cwd: ROOT,
          env: { REDIS_URL: url, NO_COLOR: "1" },
          stdin: "null",
          stdout: "null",
          signal: AbortSignal.timeout(30_000),
        }).output();
        strictEqual(
          exit,
          0,
          `${where}:\n${code}\n${new TextDecoder().decode(stderr)}`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
