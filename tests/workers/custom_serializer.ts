// Worker: attaches queues that use a custom serializer named "upper",
// registering it first if env REGISTER is "1". Writes the outcome as JSON to
// the file named by env OUT.
import {
  registerSerializer,
  type Serializer,
  type SimpleQueue,
  workerArgs,
} from "../../mod.ts";

const upper: Serializer = {
  name: "upper",
  encode: (v) => new TextEncoder().encode(String(v).toUpperCase()),
  decode: (b) => new TextDecoder().decode(b),
};
if (Deno.env.get("REGISTER") === "1") registerSerializer(upper);
let outcome: unknown;
try {
  const [q] = workerArgs<[SimpleQueue<string>]>();
  const got = await q.get();
  await q.put(`${got} and back`);
  outcome = { ok: true, got };
} catch (e) {
  const err = e as Error;
  outcome = { ok: false, name: err.name, message: err.message };
}
Deno.writeTextFileSync(Deno.env.get("OUT")!, JSON.stringify(outcome));
