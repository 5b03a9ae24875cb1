/**
 * Encode+decode round trips of the `msgpack` serializer against
 * `@msgpack/msgpack` (the library it replaces), on three payloads.
 *
 * Run with `deno bench bench/serializer_bench.ts`.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { msgpack } from "../queues/serializer.ts";

const reference = {
  encoder: new Encoder({ useBigInt64: true }),
  decoder: new Decoder({ useBigInt64: true }),
};

const small = { i: 12345, s: "hello", f: 1.5 };
const kibibyte = new Uint8Array(1024).map((_, i) => i * 31);
const thousand = Array.from({ length: 1000 }, (_, i) => ({
  id: i,
  name: "item-" + i,
  price: i * 0.25 + 0.1,
  ok: i % 2 === 0,
}));

let sink: unknown;

for (
  const [group, value] of [
    ["small object", small],
    ["1 KiB Uint8Array", kibibyte],
    ["1000 small objects", thousand],
  ] as const
) {
  Deno.bench({
    name: "ours (queues/_msgpack.ts)",
    group,
    baseline: true,
    fn() {
      sink = msgpack.decode(msgpack.encode(value));
    },
  });
  Deno.bench({
    name: "@msgpack/msgpack",
    group,
    fn() {
      sink = reference.decoder.decode(reference.encoder.encode(value));
    },
  });
}

Deno.bench({
  name: "ours: encode only, small object",
  group: "small object, one way",
  fn() {
    sink = msgpack.encode(small);
  },
});
const smallEncoded = msgpack.encode(small);
Deno.bench({
  name: "ours: decode only, small object",
  group: "small object, one way",
  fn() {
    sink = msgpack.decode(smallEncoded);
  },
});

// Keep the results observable so the work is not optimised away.
addEventListener("unload", () => {
  if (sink === Symbol.for("never")) console.log(sink);
});
