# Worker: takes the queue's read lock ("rlock"), or the write lock and writes
# half a frame ("torn"), or a whole frame and then half a frame
# ("first_torn"); says so on `ctl`, and waits to be killed.
import os
import pickle
import sys
import time

from mpq import worker_args

q, ctl, what = worker_args()
if what == "rlock":
    q._rlock.acquire()
else:
    q._sem.acquire()
    q._wlock.acquire()
    first = b""
    if what == "first_torn":
        q._sem.acquire()
        p = pickle.dumps("first", protocol=4)
        first = len(p).to_bytes(4, "big") + p
    os.write(q._writer.fileno(), first + (100).to_bytes(4, "big") + b"\x80\x04half")
ctl.put("held")
ctl.close()
ctl.join_thread()
time.sleep(60)
sys.exit(1)
