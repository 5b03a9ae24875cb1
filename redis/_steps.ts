// Named steps of a Redis queue's calls where a test can make this process
// die at once: `MPQ_DIE_AT=redis:get-replied` in a worker's environment (and
// `--allow-env=MPQ_DIE_AT`) ends it right after the server answered a get,
// before the items reach the caller. Crash tests use it to prove what the
// other processes see at each step (tests/redis_test.ts). Without the
// variable (or the permission to read it) a step is one comparison.

/** The step to die at, if this process may read MPQ_DIE_AT. */
const DIE_AT: string | undefined = (() => {
  const state = Deno.permissions.querySync({
    name: "env",
    variable: "MPQ_DIE_AT",
  }).state;
  return state === "granted" ? Deno.env.get("MPQ_DIE_AT") : undefined;
})();

/** Marks reaching step `name`: the process dies here if told to. */
export function step(name: string): void {
  if (DIE_AT === name) Deno.exit(137);
}
