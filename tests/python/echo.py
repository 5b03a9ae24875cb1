# Worker: reports the classes it was given, then echoes items from `jobs` to
# `results` until "stop" (Queue, SimpleQueue or JoinableQueue; the latter
# marks every job done).
from mpq import worker_args

jobs, results = worker_args()
results.put([type(jobs).__module__ + "." + type(jobs).__name__,
             type(results).__module__ + "." + type(results).__name__])
while True:
    item = jobs.get()
    if hasattr(jobs, "task_done"):
        jobs.task_done()
    if item == "stop":
        break
    results.put(item)
if hasattr(results, "join"):
    results.join()  # waits for the Deno side's taskDone() of every result
