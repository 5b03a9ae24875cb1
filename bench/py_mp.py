"""Python multiprocessing baseline for bench/ipc.ts (mp.Queue / mp.SimpleQueue, fork).

usage: python3 bench/py_mp.py <queue|simplequeue> <scenarios, comma-separated> <reps> [quick|full] [budget_s]
  scenarios: T1 T2 T3 T4 (throughput), N1 N4 (the same with put_nowait), L1 (ping-pong),
  C (4 producers x 4 consumers)
Prints one JSON line per repetition, the same records as bench/ipc.ts's Deno cells.
Every scenario runs at least 3 repetitions (fewer only if reps says so); it stops
repeating once its repetitions took more than budget_s seconds.
Each throughput record carries the parent's RSS before the scenario and its peak during it
(VmHWM, reset at the start through /proc/self/clear_refs).

Throughput: the parent is the producer and the clock. The child consumer puts "ready" on
a back queue; the parent starts the clock, puts N items, and stops it when the child's
"done" (put after it got all N) arrives.
L1: the parent puts a small dict on q1, the child gets it and puts it on q2, the parent
gets it; warm-up round trips first, then the timed ones (median and p99).
C: 4 producer and 4 consumer processes share one queue; 200,000 small dicts in total;
every id is checked to arrive exactly once.
"""
import json
import multiprocessing as mp
import sys
import time

SCEN = {"T1": (200_000, None), "T2": (100_000, 1024), "T3": (10_000, 65536), "T4": (1_000, 1048576),
        # the same items put by a loop of put_nowait()
        "N1": (200_000, None), "N4": (1_000, 1048576)}
MIN_REPS = 3
L1_N, L1_WARM = 20_000, 1_000
QUICK_DIV = 20
SMALL_PAYLOAD = 23
C_PROD, C_CONS, C_TOTAL = 4, 4, 200_000


def consumer(q, back, n):
    back.put("ready")
    get = q.get
    for _ in range(n):
        get()
    back.put("done")


def echo(q1, q2, n):
    get, put = q1.get, q2.put
    for _ in range(n):
        put(get())


def cprod(q, back, go, base, count):
    back.put("ready")
    go.get()
    put = q.put
    for j in range(base, base + count):
        put({"i": j, "s": "hello", "f": 1.5})
    if hasattr(q, "join_thread"):  # mp.Queue: flush the feeder thread first
        q.close()
        q.join_thread()
    back.put("pdone")


def ccons(q, back, total):
    back.put("ready")
    seen = bytearray(total)
    count = bad = 0
    get = q.get
    while True:
        item = get()
        if item is None:
            break
        i = item["i"]
        if 0 <= i < total and seen[i] < 255:
            seen[i] += 1
        else:
            bad += 1
        count += 1
    back.put({"count": count, "bad": bad, "seen": bytes(seen)})


def mem_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return float("nan")


def make(ctx, impl):
    return ctx.Queue() if impl == "queue" else ctx.SimpleQueue()


def throughput(ctx, impl, sc, quick):
    n, size = SCEN[sc]
    if quick:
        n = max(1, n // QUICK_DIV)
    q, back = make(ctx, impl), make(ctx, impl)
    p = ctx.Process(target=consumer, args=(q, back, n))
    p.start()
    assert back.get() == "ready"
    put = q.put_nowait if sc.startswith("N") else q.put
    t0 = time.perf_counter()
    if size is None:
        for i in range(n):
            put({"i": i, "s": "hello", "f": 1.5})
    else:
        payload = bytes(size)
        for _ in range(n):
            put(payload)
    assert back.get() == "done"
    t1 = time.perf_counter()
    p.join()
    return {"n": n, "payload": size or SMALL_PAYLOAD, "secs": t1 - t0}


def latency(ctx, impl, quick):
    n, warm = (L1_N // QUICK_DIV, L1_WARM // QUICK_DIV) if quick else (L1_N, L1_WARM)
    q1, q2 = make(ctx, impl), make(ctx, impl)
    p = ctx.Process(target=echo, args=(q1, q2, n + warm))
    p.start()
    rtt = []
    pc = time.perf_counter_ns
    put, get = q1.put, q2.get
    for i in range(n + warm):
        t = pc()
        put({"i": i, "s": "hello", "f": 1.5})
        get()
        d = pc() - t
        if i >= warm:
            rtt.append(d)
    p.join()
    rtt.sort()
    return {"n": n, "payload": SMALL_PAYLOAD, "med_us": rtt[len(rtt) // 2] / 1e3,
            "p99_us": rtt[int(len(rtt) * 0.99)] / 1e3, "mean_us": sum(rtt) / len(rtt) / 1e3}


def contention(ctx, impl, quick):
    total = C_TOTAL // QUICK_DIV if quick else C_TOTAL
    q, back, go = make(ctx, impl), make(ctx, impl), make(ctx, impl)
    per = total // C_PROD
    procs = [ctx.Process(target=cprod, args=(q, back, go, k * per, per)) for k in range(C_PROD)]
    procs += [ctx.Process(target=ccons, args=(q, back, total)) for _ in range(C_CONS)]
    for p in procs:
        p.start()
    for _ in procs:
        assert back.get() == "ready"
    t0 = time.perf_counter()
    for _ in range(C_PROD):
        go.put("go")
    pdone = 0
    while pdone < C_PROD:
        assert back.get() == "pdone"
        pdone += 1
    for _ in range(C_CONS):
        q.put(None)
    reports = [back.get() for _ in range(C_CONS)]
    t1 = time.perf_counter()
    for p in procs:
        p.join()
    seen = [0] * total
    for r in reports:
        for i, c in enumerate(r["seen"]):
            seen[i] += c
    count = sum(r["count"] for r in reports)
    ok = count == total and all(c == 1 for c in seen) and all(r["bad"] == 0 for r in reports)
    return {"n": total, "payload": SMALL_PAYLOAD, "secs": t1 - t0, "ok": ok,
            "per_consumer": [r["count"] for r in reports]}


def main():
    impl, scs, reps = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
    quick = len(sys.argv) > 4 and sys.argv[4] == "quick"
    budget = float(sys.argv[5]) if len(sys.argv) > 5 else float("inf")
    ctx = mp.get_context("fork")
    label = "Python mp.Queue" if impl == "queue" else "Python mp.SimpleQueue"
    for sc in scs:
        start = time.perf_counter()
        for rep in range(reps):
            if rep >= MIN_REPS and time.perf_counter() - start > budget:
                break
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            before = mem_kib("VmRSS")
            if sc == "L1":
                r = latency(ctx, impl, quick)
            elif sc == "C":
                r = contention(ctx, impl, quick)
            else:
                r = throughput(ctx, impl, sc, quick)
                r["rss_before_mib"] = before / 1024
                r["rss_peak_mib"] = mem_kib("VmHWM") / 1024
            print(json.dumps({"sys": label, "sc": sc, "rep": rep, **r}), flush=True)


if __name__ == "__main__":
    main()
