// Same-process micro-benchmarks of @mp/queues with their baselines (`deno task bench`).
// Groups: serialize+frame, deserialize, same-process put+get, pipe baseline, lock proxy.
// Every queue and fd opened here is closed on "unload" (after the last bench).
import { Decoder, Encoder } from "@msgpack/msgpack";
import { JoinableQueue, msgpack, Queue, SimpleQueue } from "../mod.ts";
import { frame, small } from "./_common.ts";

const obj = small(12345);

// ------------------------------------------------------------ serialize + frame
const npmEnc = new Encoder();
const npmDec = new Decoder();

Deno.bench({
  name: "@mp/queues msgpack.encode + frame",
  group: "serialize+frame (small object)",
  baseline: true,
  fn() {
    frame(msgpack.encode(obj));
  },
});

Deno.bench({
  name: "npm:@msgpack/msgpack Encoder.encodeSharedRef + frame",
  group: "serialize+frame (small object)",
  fn() {
    frame(npmEnc.encodeSharedRef(obj));
  },
});

Deno.bench({
  name: "JSON.stringify + TextEncoder + frame",
  group: "serialize+frame (small object)",
  fn() {
    frame(new TextEncoder().encode(JSON.stringify(obj)));
  },
});

const encoded = msgpack.encode(obj);

Deno.bench({
  name: "@mp/queues msgpack.decode",
  group: "deserialize (small object)",
  baseline: true,
  fn() {
    msgpack.decode(encoded);
  },
});

Deno.bench({
  name: "npm:@msgpack/msgpack Decoder.decode",
  group: "deserialize (small object)",
  fn() {
    npmDec.decode(encoded);
  },
});

// ------------------------------------------------------------ same-process put + get
const q = new Queue<unknown>();
const sq = new SimpleQueue<unknown>();
const jq = new JoinableQueue<unknown>();

Deno.bench({
  name: "Queue putNowait + joinThread + getNowait",
  group: "same-process put+get (small object)",
  baseline: true,
  async fn() {
    q.putNowait(obj);
    await q.joinThread();
    q.getNowait();
  },
});

Deno.bench({
  name: "Queue put + get",
  group: "same-process put+get (small object)",
  async fn() {
    await q.put(obj);
    await q.get();
  },
});

Deno.bench({
  name: "SimpleQueue put + get",
  group: "same-process put+get (small object)",
  async fn() {
    await sq.put(obj);
    await sq.get();
  },
});

Deno.bench({
  name: "Queue putMany(1024) + getMany (1024 items per iteration)",
  group: "same-process put+get (small object)",
  n: 200, // each iteration moves 1024 items: compare time / 1024
  async fn() {
    const items = new Array(1024).fill(obj);
    await q.putMany(items);
    let got = 0;
    while (got < 1024) got += (await q.getMany({ maxItems: 1024 })).length;
  },
});

// ------------------------------------------------------------ bare FFI pipe baseline
const libc = Deno.dlopen("libc.so.6", {
  pipe: { parameters: ["buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
});
const fds = new Int32Array(2);
if (libc.symbols.pipe(fds) !== 0) throw new Error("pipe() failed");
const framed = frame(encoded);
const rbuf = new Uint8Array(4096);

Deno.bench({
  name: "FFI write(frame) + read, same pipe (no serialization, no locks)",
  group: "pipe baseline (one small frame)",
  baseline: true,
  fn() {
    if (libc.symbols.write(fds[1], framed, framed.length) !== framed.length) {
      throw new Error("short write");
    }
    if (libc.symbols.read(fds[0], rbuf, rbuf.length) !== framed.length) {
      throw new Error("short read");
    }
  },
});

Deno.bench({
  name: "FFI write + read + msgpack encode/decode (npm)",
  group: "pipe baseline (one small frame)",
  fn() {
    const f = frame(npmEnc.encodeSharedRef(obj));
    libc.symbols.write(fds[1], f, f.length);
    const n = libc.symbols.read(fds[0], rbuf, rbuf.length);
    npmDec.decode(rbuf.subarray(4, n));
  },
});

// ------------------------------------------------------------ lock proxy
// The cross-process locks are internal; these take them once per put and get
// (JoinableQueue also counts its unfinished tasks).
Deno.bench({
  name: "JoinableQueue put + get + taskDone",
  group: "locks (proxy: one put/get cycle)",
  baseline: true,
  async fn() {
    await jq.put(obj);
    await jq.get();
    jq.taskDone();
  },
});

Deno.bench({
  name: "SimpleQueue put + get",
  group: "locks (proxy: one put/get cycle)",
  async fn() {
    await sq.put(obj);
    await sq.get();
  },
});

// ------------------------------------------------------------ cleanup
globalThis.addEventListener("unload", () => {
  q.close();
  sq.close();
  jq.close();
  libc.symbols.close(fds[0]);
  libc.symbols.close(fds[1]);
  libc.close();
});
