// Web Worker (a thread, not a process) of the Worker.postMessage baseline in
// bench/ipc.ts. First message: {mode: "count", n} or {mode: "echo"}; it answers "ready".
// deno-lint-ignore no-explicit-any
const g = self as any;
let handler: (m: unknown) => void = (cfg) => {
  const c = cfg as { mode: string; n?: number };
  if (c.mode === "echo") {
    handler = (m) => g.postMessage(m);
  } else {
    const n = c.n!;
    let got = 0;
    handler = () => {
      if (++got === n) g.postMessage("done");
    };
  }
  g.postMessage("ready");
};
g.onmessage = (e: MessageEvent) => handler(e.data);
