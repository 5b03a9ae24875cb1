// Child of the Deno.Command baseline in bench/ipc.ts: writes 4-byte big-endian
// length-prefixed msgpack frames to stdout with Deno.stdout.writeSync.
//   throughput: deno run cmd_child.ts T<k> <n>  -> "ready" frame, waits for one stdin byte, n frames
//   latency:    deno run cmd_child.ts L1 <total> -> echoes `total` frames from stdin to stdout
import { Decoder, Encoder } from "@msgpack/msgpack";
import { frame, FrameReader, payloadOf, SCENARIOS, small } from "../_common.ts";

const enc = new Encoder();
const dec = new Decoder();

function writeAll(f: Uint8Array): void {
  let o = 0;
  while (o < f.length) o += Deno.stdout.writeSync(f.subarray(o));
}

const [sc, countArg] = Deno.args;
const count = Number(countArg);
const rd = Deno.stdin.readable.getReader();
if (sc === "L1") {
  const fr = new FrameReader(rd);
  for (let i = 0; i < count; i++) {
    writeAll(frame(enc.encodeSharedRef(dec.decode(await fr.next()))));
  }
} else {
  const size = SCENARIOS[sc][1];
  writeAll(frame(enc.encodeSharedRef("ready")));
  await rd.read(); // the parent's "go" byte
  if (size === null) {
    for (let i = 0; i < count; i++) {
      writeAll(frame(enc.encodeSharedRef(small(i))));
    }
  } else {
    const payload = payloadOf(size);
    for (let i = 0; i < count; i++) {
      writeAll(frame(enc.encodeSharedRef(payload)));
    }
  }
}
rd.releaseLock();
