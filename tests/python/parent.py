# A Python parent: unmodified multiprocessing queues (a spawn context) handed
# to a Deno worker with mpq.spawn_deno(). argv: worker module, deno path.
import multiprocessing as mp
import sys

from mpq import spawn_deno

VALUES = [None, True, False, 0, -1, 2**31, 2**53 + 1, -2**70, 1.5, float("inf"),
          "", "héllo ✓", "\U0001F600", b"\x00\xff", bytearray(b"ab"),
          [1, [2, [3]]], (1, 2), {"a": 1, "b": [None]}, {1: "one", (2, 3): "t"},
          {1, 2}, frozenset({"x"}), "x" * 100_000]

if __name__ == "__main__":
    module, deno = sys.argv[1], sys.argv[2]
    ctx = mp.get_context("spawn")
    jobs = ctx.JoinableQueue(maxsize=3)
    results = ctx.Queue()
    simple = ctx.SimpleQueue()
    child = spawn_deno(module, args=[jobs, results, {"simple": simple}], deno=deno)
    for v in VALUES:
        jobs.put(v)
    jobs.put("stop")
    jobs.join()  # the Deno worker's taskDone() calls count here
    got = [results.get(timeout=30) for _ in VALUES]
    expected = []
    for v in VALUES:
        if isinstance(v, bytearray):
            v = bytes(v)
        elif isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, frozenset):
            v = set(v)
        expected.append(v)
    assert got == expected, (got, expected)
    assert simple.get() == "simple ok"
    assert child.wait(timeout=60) == 0
    print("OK", len(got))
