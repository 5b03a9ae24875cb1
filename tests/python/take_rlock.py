# Worker: takes the read lock (3 s at most) and reads a frame if one comes
# within 1 s; reports what happened on `ctl`.
from mpq import worker_args

q, ctl = worker_args()
got = q._rlock.acquire(timeout=3)
msg = "rlock %s" % got
if got:
    try:
        if q._reader.poll(1.0):
            msg += "; read %d bytes" % len(q._reader.recv_bytes())
        else:
            msg += "; nothing to read"
    except Exception as e:
        msg += "; error %r" % e
    q._rlock.release()
ctl.put(msg)
ctl.close()
ctl.join_thread()
