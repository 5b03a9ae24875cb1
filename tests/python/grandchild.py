# Worker: hands the queue it got from Deno to its own multiprocessing child
# (spawn context, which imports this script and mpq afresh); the child puts.
import multiprocessing as mp

from mpq import worker_args


def child(q):
    q.put("from a grandchild")


if __name__ == "__main__":
    (q,) = worker_args()
    p = mp.get_context("spawn").Process(target=child, args=(q,))
    p.start()
    p.join()
    q.put("child exit %s" % p.exitcode)
