// The names of the semaphores this process creates for CPython-compatible
// queues: `/mpq-<pid namespace>-<pid>-<start time>-<n>`, so that the creator
// of every name is known for good (a pid is reused, the triple is not; and
// processes of another pid namespace, e.g. another container sharing
// /dev/shm, are never taken for dead). A name is unlinked when its queue no longer needs it,
// the rest when this process exits; the names of a creator that was killed
// are swept by the next process that loads this module.

import { listDirectory } from "../../ffi/dir.ts";
import { pid, pidNamespace, startTime } from "../../ffi/process.ts";
import { NamedSemaphore } from "../../ffi/semaphore.ts";

/** Where glibc keeps named semaphores (`sem.<name>` for `/<name>`). */
const SHM_DIR = "/dev/shm";
/** A name of ours, as a file in {@linkcode SHM_DIR}: namespace, creator pid, start time. */
const OURS = /^sem\.mpq-(\d+)-(\d+)-(\d+)-[0-9a-z]+$/;

const namespace = pidNamespace();
const started = startTime(pid) ?? "0";
/** Names this process created and has not unlinked yet. */
const linked = new Set<string>();
let counter = 0;

/** A fresh name for a semaphore of this process. */
function freshName(): string {
  const tag = (counter++).toString(36) +
    Math.floor(Math.random() * 36 ** 4).toString(36);
  return `/mpq-${namespace}-${pid}-${started}-${tag}`;
}

/** Creates a semaphore with `value` under a fresh name of this process. */
export function createSemaphore(value: number): NamedSemaphore {
  for (;;) {
    try {
      const s = NamedSemaphore.create(freshName(), value);
      linked.add(s.name);
      return s;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
}

/** Unlinks names this process created (those it still has linked). */
export function unlinkNames(names: readonly string[]): void {
  for (const name of names) {
    if (linked.delete(name)) NamedSemaphore.unlink(name);
  }
}

/**
 * Unlinks the names of creators that no longer run (a process that was
 * killed could not unlink its own).
 *
 * @returns the names unlinked
 */
export function sweepNames(): string[] {
  const swept: string[] = [];
  let files: string[];
  try {
    files = listDirectory(SHM_DIR);
  } catch {
    return swept; // no /dev/shm: nothing of ours can be there
  }
  for (const file of files) {
    const m = OURS.exec(file);
    if (m === null || m[1] !== namespace) continue;
    if (startTime(Number(m[2])) === m[3]) continue;
    const name = "/" + file.slice("sem.".length);
    try {
      if (NamedSemaphore.unlink(name)) swept.push(name);
    } catch {
      // another user's file, or swept meanwhile: leave it
    }
  }
  return swept;
}

sweepNames();
globalThis.addEventListener("unload", () => {
  for (const name of linked) {
    try {
      NamedSemaphore.unlink(name);
    } catch {
      // exiting: nothing more to do
    }
  }
  linked.clear();
});
