# A Python parent handing a fork-context queue to spawn_deno: refused.
import multiprocessing as mp

from mpq import spawn_deno

q = mp.get_context("fork").Queue()
try:
    spawn_deno("never.ts", args=[q])
except ValueError as e:
    print("refused:", e)
else:
    raise SystemExit("a fork-context queue was accepted")
