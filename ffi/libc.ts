/**
 * Loads libc once, at import, and turns failed calls into Deno-style OS
 * errors. Linux with glibc only: anything else fails here with
 * `Deno.errors.NotSupported`; without `--allow-ffi`, with
 * `Deno.errors.NotCapable`.
 *
 * @module
 */

import { getSystemErrorName } from "node:util";
import { SYMBOLS } from "./symbols.ts";

function load(): Deno.DynamicLibrary<typeof SYMBOLS> {
  if (Deno.build.os !== "linux") {
    throw new Deno.errors.NotSupported(
      `@mp/queues supports Linux with glibc only, not ${Deno.build.os}`,
    );
  }
  try {
    return Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (cause) {
    if (
      cause instanceof Deno.errors.NotCapable ||
      cause instanceof Deno.errors.PermissionDenied
    ) {
      throw new Deno.errors.NotCapable(
        "@mp/queues needs --allow-ffi: it calls libc through Deno.dlopen (run with --allow-ffi)",
        { cause },
      );
    }
    throw new Deno.errors.NotSupported(
      "@mp/queues needs glibc (libc.so.6), which could not be loaded",
      { cause },
    );
  }
}

const lib = load();

/** The bound libc functions (see `./symbols.ts`). */
export const libc = lib.symbols;

const errnoView = new Deno.UnsafePointerView(libc.__errno_location()!);

/** The calling thread's `errno`; read it right after a synchronous call. */
export function errno(): number {
  return errnoView.getInt32();
}

/** The glibc version string, e.g. `"2.36"`. */
export const glibcVersion: string = Deno.UnsafePointerView.getCString(
  libc.gnu_get_libc_version()!,
);

/** An OS error as Deno raises it: a `Deno.errors.*` class with `code` and `errno`. */
export type OsError = Error & { code: string; errno: number };

const CLASSES: Record<string, new (message: string) => Error> = {
  EEXIST: Deno.errors.AlreadyExists,
  ENOENT: Deno.errors.NotFound,
  EAGAIN: Deno.errors.WouldBlock,
  EINTR: Deno.errors.Interrupted,
  EPIPE: Deno.errors.BrokenPipe,
  ETIMEDOUT: Deno.errors.TimedOut,
  EBADF: Deno.errors.BadResource,
  EACCES: Deno.errors.PermissionDenied,
  EPERM: Deno.errors.PermissionDenied,
  ENOSYS: Deno.errors.NotSupported,
  ENOTSUP: Deno.errors.NotSupported,
  EBUSY: Deno.errors.Busy,
  EISDIR: Deno.errors.IsADirectory,
  ENOTDIR: Deno.errors.NotADirectory,
};

/**
 * Builds the error for `errno` value `code` raised by `call`, with the
 * message `"<strerror> (os error N): <call>"`.
 */
export function osError(code: number, call: string): OsError {
  let name = `E${code}`;
  try {
    name = getSystemErrorName(-code);
  } catch {
    // an errno node:util does not know keeps its number
  }
  const text = Deno.UnsafePointerView.getCString(libc.strerror(code)!);
  const Class = CLASSES[name] ?? Error;
  const error = new Class(`${text} (os error ${code}): ${call}`) as OsError;
  error.code = name;
  error.errno = code;
  return error;
}

/** Returns `result`, or throws the OS error for `errno` when it is `-1`. */
export function unwrap(result: number, call: string): number {
  if (result === -1) throw osError(errno(), call);
  return result;
}

const encoder = new TextEncoder();

/** A NUL-terminated UTF-8 copy of `s` for a `const char *` parameter. */
export function cstr(s: string): Uint8Array {
  return encoder.encode(s + "\0");
}
