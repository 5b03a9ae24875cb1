# Worker: puts values JavaScript cannot take (one at a time), each followed
# by a plain one.
import datetime
import decimal
from mpq import worker_args

(q,) = worker_args()
q.put(datetime.datetime(2020, 1, 2))
q.put(42)
q.put(decimal.Decimal("1.5"))
q.put("after")
