# Worker: gets items from `jobs` until None and puts them on `seen` with its
# tag, then puts [tag, None].
from mpq import worker_args

jobs, seen, tag = worker_args()
while True:
    item = jobs.get()
    if item is None:
        break
    seen.put([tag, item])
seen.put([tag, None])
