# A plain CPython worker for examples/python_workers.ts: unmodified
# multiprocessing code, handed its queues by spawnPython().
import os

from mpq import worker_args

jobs, results = worker_args()  # a JoinableQueue and a Queue, real CPython ones
for n in iter(jobs.get, None):
    results.put({"n": n, "square": n * n, "pid": os.getpid()})
    jobs.task_done()
jobs.task_done()  # the None
