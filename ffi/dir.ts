/**
 * Directory listing through libc (`opendir`/`readdir`): no `--allow-read`
 * needed beyond `--allow-ffi`.
 *
 * @module
 */

import { cstr, errno, libc, osError } from "./libc.ts";

/** Offset of `d_name` in glibc's `struct dirent` on 64-bit Linux. */
const D_NAME = 19;

/**
 * The names in directory `path` (without `.` and `..`).
 *
 * @throws the OS error if it cannot be opened
 */
export function listDirectory(path: string): string[] {
  const dir = libc.opendir(cstr(path));
  if (dir === null) throw osError(errno(), `opendir(${path})`);
  const names: string[] = [];
  try {
    for (;;) {
      const entry = libc.readdir(dir);
      if (entry === null) break;
      const name = Deno.UnsafePointerView.getCString(entry, D_NAME);
      if (name !== "." && name !== "..") names.push(name);
    }
  } finally {
    libc.closedir(dir);
  }
  return names;
}
