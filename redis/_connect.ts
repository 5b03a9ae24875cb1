// How a queue class gets a connected handle: the options checked, the queue
// attached, the stored options agreed on.

import type { Codec } from "../queues/_codec.ts";
import { checkUrl } from "./_link.ts";
import {
  agree,
  type AnyOptions,
  checkName,
  checkOptions,
  creation,
} from "./_options.ts";
import { type Kind, Remote } from "./_remote.ts";

/** Marks the constructor calls of `connect` (the constructors are not for users). */
export const CONNECTED: unique symbol = Symbol("connected");

/** Connects a handle: checks the options, attaches, agrees on the stored ones. */
export async function connectRemote(
  kind: Kind,
  url: string,
  name: string,
  options: AnyOptions | undefined,
): Promise<{ remote: Remote; codec: Codec }> {
  checkUrl(url);
  checkName(name);
  const given = checkOptions(kind, options);
  const remote = await Remote.attach(url, name, creation(given));
  try {
    return { remote, codec: agree(name, given, remote.stored) };
  } catch (error) {
    await remote.close();
    throw error;
  }
}
