"""The Python side of bench/cpython.ts: CPython multiprocessing queues (spawn
context), as a worker of a Deno parent (spawnPython) or as the Python-only
baseline (a Python parent and a Python child on the same queue kind).

usage:
  as a spawnPython worker:  worker_args() = [role, q, other, n, size]
  baseline:                 python3 bench/py_cpython.py <cell> <reps>
Cells: S_DP / S_PD (small items, Deno->Python / Python->Deno; here the parent
plays Deno's part), B_DP / B_PD (1 MiB items), L1 (round trip). Prints one
JSON line per repetition: {"cell", "n", "seconds"}.
"""
import json
import multiprocessing as mp
import os
import sys
import time

CELLS = {"S_DP": ("consume", 100_000, None), "S_PD": ("produce", 100_000, None),
         "B_DP": ("consume", 300, 1 << 20), "B_PD": ("produce", 300, 1 << 20),
         "L1": ("echo", 5_000, None)}


def item(i, size):
    return {"i": i, "s": "hello", "f": 1.5} if size is None else bytes(size)


def consume(q, back, n, size):
    """Gets n items; "ready" first and "done" after, on `back`."""
    back.put("ready")
    get = q.get
    for _ in range(n):
        get()
    back.put("done")


def produce(q, ctl, n, size):
    """Puts "ready" on `q`, waits for "go" on `ctl`, then puts n items."""
    q.put("ready")
    ctl.get()
    put = q.put
    for i in range(n):
        put(item(i, size))


def echo(q1, q2, n, size):
    """Gets n items from q1, putting each back on q2 (after "ready")."""
    q2.put("ready")
    for _ in range(n):
        q2.put(q1.get())


ROLES = {"consume": consume, "produce": produce, "echo": echo}


def run_cell(cell):
    """One repetition with a Python parent: the seconds it took."""
    role, n, size = CELLS[cell]
    div = int(os.environ.get("MPQ_BENCH_DIV", "1"))
    n = max(30 if size else 200, n // div)
    ctx = mp.get_context("spawn")
    q, other = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=ROLES[role], args=(q, other, n, size))
    p.start()
    if role == "consume":
        assert other.get() == "ready"
        t = time.perf_counter()
        put = q.put
        for i in range(n):
            put(item(i, size))
        assert other.get() == "done"
        took = time.perf_counter() - t
    elif role == "produce":
        assert q.get() == "ready"
        t = time.perf_counter()
        other.put("go")
        get = q.get
        for _ in range(n):
            get()
        took = time.perf_counter() - t
    else:
        assert other.get() == "ready"
        for i in range(100):  # warm-up
            q.put(item(i, size))
        for i in range(100):
            other.get()
        t = time.perf_counter()
        for i in range(n - 100):
            q.put(item(i, size))
            other.get()
        took = time.perf_counter() - t
        n -= 100
    p.join()
    return n, took


if __name__ == "__main__":
    if len(sys.argv) >= 3:
        cell, reps = sys.argv[1], int(sys.argv[2])
        for _ in range(reps):
            n, took = run_cell(cell)
            print(json.dumps({"cell": cell, "n": n, "seconds": took}), flush=True)
    else:
        from mpq import worker_args

        role, q, other, n, size = worker_args()
        ROLES[role](q, other, n, size)
