# Prints where mpq comes from, here and in a spawn-context child.
import multiprocessing as mp

import mpq


def child(q):
    import mpq as m
    q.put(m.__file__)


if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    print(mpq.__file__)
    print(q.get(timeout=30))
    p.join()
