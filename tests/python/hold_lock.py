# Worker: takes the queue's read lock (or, with "torn", the write lock and
# writes half a frame), says so on `ctl`, and waits to be killed.
import os
import sys
import time

from mpq import worker_args

q, ctl, what = worker_args()
if what == "rlock":
    q._rlock.acquire()
else:
    q._wlock.acquire()
    os.write(q._writer.fileno(), (100).to_bytes(4, "big") + b"\x80\x04half")
ctl.put("held")
ctl.close()
ctl.join_thread()
time.sleep(60)
sys.exit(1)
