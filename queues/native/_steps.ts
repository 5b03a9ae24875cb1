// Named steps of the read and write paths where a test can make this
// process die (SIGKILL, at once): `MPQ_DIE_AT=read:released` in a worker's
// environment kills it right after it gave back the slots of the frames it
// took, before it recorded their delivery. Crash tests use it to prove what
// the others recover at each step (tests/steps_test.ts). Without the
// variable a step is one comparison.

import { environment, pid, sendSignal } from "../../ffi/process.ts";

/** The step to die at, from the environment the process started with. */
const DIE_AT: string | undefined = environment("MPQ_DIE_AT");
const SIGKILL = 9;

/** Marks reaching step `name`: the process dies here if told to. */
export function step(name: string): void {
  if (DIE_AT === name) sendSignal(pid, SIGKILL);
}
