# Python parent, Deno worker: unmodified multiprocessing queues (from a
# "spawn" context) handed to a Deno process with mpq.spawn_deno().
#
#   PYTHONPATH=python DENO=/path/to/deno python3 examples/python_parent.py
import multiprocessing as mp
import os

from mpq import spawn_deno

if __name__ == "__main__":
    ctx = mp.get_context("spawn")  # "fork" queues have no semaphore names
    jobs = ctx.JoinableQueue()
    results = ctx.Queue()
    here = os.path.dirname(os.path.abspath(__file__))
    child = spawn_deno(os.path.join(here, "deno_worker.ts"), args=[jobs, results])
    for word in ["deno", "and", "python", "share", "one", "queue"]:
        jobs.put(word)
    jobs.put(None)
    jobs.join()  # the Deno worker's taskDone() calls count here
    print(" ".join(results.get() for _ in range(6)))
    print("deno worker exited with", child.wait())
