# Worker: writes a 300 kB frame in two parts and then a small one in two
# parts, as a writer that is slow but alive; ctl gets "begun" after the first
# part and "written" after the second, and the worker waits for "go" in
# between.
import os
import pickle
import time

from mpq import worker_args

q, ctl, go = worker_args()
q._sem.acquire()
q._sem.acquire()
q._wlock.acquire()
big = pickle.dumps(b"x" * 300000, protocol=4)
f1 = len(big).to_bytes(4, "big") + big
p2 = pickle.dumps("second", protocol=4)
f2 = len(p2).to_bytes(4, "big") + p2
fd = q._writer.fileno()
os.write(fd, f1[:1000])
ctl.put("begun")
go.get()
os.write(fd, f1[1000:] + f2[:7])
ctl.put("written")
time.sleep(1.0)
os.write(fd, f2[7:])
q._wlock.release()
ctl.close()
ctl.join_thread()
