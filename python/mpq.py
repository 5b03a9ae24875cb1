"""Deno and CPython processes on one multiprocessing queue (@mp/queues).

In a Python process started by Deno's ``spawnPython()``::

    from mpq import worker_args
    q, n = worker_args()        # real multiprocessing.queues.Queue objects
    q.put(n * 2)

In a Python parent, to start a Deno worker on Python's own queues::

    import multiprocessing as mp
    from mpq import spawn_deno
    ctx = mp.get_context("spawn")          # or "forkserver"; not "fork"
    q = ctx.JoinableQueue()
    child = spawn_deno("worker.ts", args=[q, 10], permissions=[])
    ...                                    # the worker's workerArgs() gives [q, 10]
    child.wait()

Queues cross as their pipe descriptors and semaphore names; every other
argument as plain data (None, bool, int, float, str, bytes, list, tuple,
dict, set). CPython 3.8 and later.
"""

import base64
import io
import os
import pickle
import shutil
import subprocess
import sys
from multiprocessing import connection, queues, synchronize

__all__ = ["worker_args", "spawn_deno"]

_ENV = "MPQ_WORKER_ARGS"
_DENO_FLAG = "--mp-queues-python="
_TAG = "mpq.queue"
_MAX_ARG = 120_000  # Linux takes at most 128 KiB per command-line argument
_KINDS = ("SimpleQueue", "Queue", "JoinableQueue")
_SEMAPHORES = {"SimpleQueue": 2, "Queue": 3, "JoinableQueue": 8}
_RECURSIVE_MUTEX, _SEMAPHORE = 0, 1
SEM_VALUE_MAX = synchronize.SEM_VALUE_MAX

_received = None
_rebuilt = {}


def _semlock(cls, kind, maxvalue, name):
    """A SemLock of class ``cls`` opened by name, as CPython's unpickling does."""
    obj = cls.__new__(cls)
    obj.__setstate__((0, kind, maxvalue, name))
    return obj


def _rebuild(kind, rfd, wfd, maxsize, names):
    """A real multiprocessing queue over inherited fds and named semaphores."""
    if kind not in _KINDS or len(names) != _SEMAPHORES[kind]:
        raise TypeError("mpq: malformed queue handle %r" % ((kind, names),))
    reader = connection.Connection(rfd, writable=False)
    writer = connection.Connection(wfd, readable=False)
    rlock = _semlock(synchronize.Lock, _SEMAPHORE, 1, names[0])
    wlock = _semlock(synchronize.Lock, _SEMAPHORE, 1, names[1])
    if kind == "SimpleQueue":
        q = queues.SimpleQueue.__new__(queues.SimpleQueue)
        q.__setstate__((reader, writer, rlock, wlock))
        return q
    bound = maxsize if maxsize > 0 else SEM_VALUE_MAX
    sem = _semlock(synchronize.BoundedSemaphore, _SEMAPHORE, bound, names[2])
    state = (False, bound, reader, writer, rlock, wlock, sem, os.getpid())
    if kind == "Queue":
        q = queues.Queue.__new__(queues.Queue)
        q.__setstate__(state)
        return q
    lock = _semlock(synchronize.RLock, _RECURSIVE_MUTEX, 1, names[3])
    sleeping, woken, wait, unfinished = [
        _semlock(synchronize.Semaphore, _SEMAPHORE, SEM_VALUE_MAX, n)
        for n in names[4:8]
    ]
    cond = synchronize.Condition.__new__(synchronize.Condition)
    cond.__setstate__((lock, sleeping, woken, wait))
    q = queues.JoinableQueue.__new__(queues.JoinableQueue)
    q.__setstate__(state + (cond, unfinished))
    return q


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        if not (isinstance(pid, (list, tuple)) and len(pid) == 7 and pid[0] == _TAG):
            raise pickle.UnpicklingError("mpq: unknown persistent id %r" % (pid,))
        _, kind, rfd, wfd, maxsize, names, _creator = pid
        key = (rfd, wfd)
        if key not in _rebuilt:
            _rebuilt[key] = _rebuild(kind, rfd, wfd, maxsize, list(names))
        return _rebuilt[key]


def worker_args():
    """In a process started by Deno's ``spawnPython()``: its args, with the
    queues rebuilt as real ``multiprocessing.queues`` objects. Calling it
    again returns the same list (and the same queue objects)."""
    global _received
    if _received is None:
        data = os.environ.pop(_ENV, None)
        if data is None:
            raise RuntimeError(
                "worker_args() works only in a process started by spawnPython()"
            )
        _received = list(_Unpickler(io.BytesIO(base64.b64decode(data))).load())
    return _received


def _kind(q):
    """The queue kind of ``q``, or None if it is no multiprocessing queue."""
    if isinstance(q, queues.JoinableQueue):
        return "JoinableQueue"
    if isinstance(q, queues.Queue):
        return "Queue"
    if isinstance(q, queues.SimpleQueue):
        return "SimpleQueue"
    return None


def _handle(q, kind):
    """The persistent id a Deno worker attaches ``q`` by."""
    locks = [q._rlock, q._wlock]
    if kind != "SimpleQueue":
        locks.append(q._sem)
    if kind == "JoinableQueue":
        c = q._cond
        locks += [c._lock, c._sleeping_count, c._woken_count, c._wait_semaphore,
                  q._unfinished_tasks]
    names = [lock._semlock.name for lock in locks]
    if any(n is None for n in names):
        raise ValueError(
            "mpq: cannot hand a %s of the 'fork' context to a Deno worker: its "
            "semaphores have no names; create it from "
            "multiprocessing.get_context('spawn') or 'forkserver'" % kind
        )
    maxsize = 0
    if kind != "SimpleQueue" and q._maxsize < SEM_VALUE_MAX:
        maxsize = q._maxsize
    return (_TAG, kind, q._reader.fileno(), q._writer.fileno(), maxsize,
            names, os.getpid())


class _Pickler(pickle.Pickler):
    def __init__(self, file, fds):
        super().__init__(file, protocol=4)
        self._fds = fds

    def persistent_id(self, obj):
        kind = _kind(obj)
        if kind is None:
            return None
        pid = _handle(obj, kind)
        self._fds.update((pid[2], pid[3]))
        return pid


def spawn_deno(module, args=(), permissions=(), deno=None, **popen_kwargs):
    """Starts ``deno run --no-prompt --allow-ffi <permissions> <module>``
    whose ``workerArgs()`` returns ``args``, with the multiprocessing queues
    in them (from a 'spawn' or 'forkserver' context) attached to the same
    pipes and semaphores. ``deno`` is the executable (default: ``$DENO`` or
    ``deno``); other keyword arguments go to ``subprocess.Popen``.

    Returns the ``subprocess.Popen``."""
    fds = set()
    buf = io.BytesIO()
    _Pickler(buf, fds).dump(list(args))
    payload = base64.b64encode(buf.getvalue()).decode("ascii")
    if len(payload) > _MAX_ARG:
        raise ValueError(
            "mpq: the args take %d bytes encoded, more than the %d-byte "
            "command-line limit; send large data through a queue"
            % (len(payload), _MAX_ARG)
        )
    exe = deno or os.environ.get("DENO") or shutil.which("deno")
    if exe is None:
        raise FileNotFoundError(
            "mpq: no deno executable: pass deno=..., set $DENO, or put deno on PATH"
        )
    cmd = [exe, "run", "--no-prompt", "--allow-ffi", *permissions, str(module),
           _DENO_FLAG + payload]
    pass_fds = tuple(sorted(fds | set(popen_kwargs.pop("pass_fds", ()))))
    return subprocess.Popen(cmd, pass_fds=pass_fds, **popen_kwargs)


if __name__ == "__main__":
    sys.exit("mpq is a module: import worker_args or spawn_deno from it")
