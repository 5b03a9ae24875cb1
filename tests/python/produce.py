# Worker: puts `count` items tagged with `tag` on `q`.
from mpq import worker_args

q, tag, count = worker_args()
for i in range(count):
    q.put([tag, i])
