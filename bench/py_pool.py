"""The Python side of bench/pool.ts: multiprocessing.Pool.map and
concurrent.futures.ProcessPoolExecutor.map, with their default settings.

usage: python3 bench/py_pool.py <processes> <tiny_n> <busy_n> <busy_ms> <reps>
Prints one JSON line per measurement: {"system", "cell", "seconds"}.
"""
import concurrent.futures
import json
import multiprocessing as mp
import sys
import time


def square(n):
    return n * n


def busy(ms):
    end = time.perf_counter() + ms / 1000
    spins = 0
    while time.perf_counter() < end:
        spins += 1
    return spins


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


if __name__ == "__main__":
    procs, tiny_n, busy_n, busy_ms, reps = map(int, sys.argv[1:6])
    with mp.Pool(procs) as pool:
        pool.map(square, range(procs * 4))  # the workers are up
        s = timed(lambda: pool.map(square, range(tiny_n)))
        print(json.dumps({"system": "mp.Pool.map", "cell": "cold", "seconds": s}), flush=True)
        pool.map(busy, [1] * (procs * 2))
        for _ in range(reps):
            s = timed(lambda: pool.map(square, range(tiny_n)))
            print(json.dumps({"system": "mp.Pool.map", "cell": "tiny", "seconds": s}), flush=True)
            s = timed(lambda: pool.map(busy, [busy_ms] * busy_n))
            print(json.dumps({"system": "mp.Pool.map", "cell": "busy", "seconds": s}), flush=True)
    with concurrent.futures.ProcessPoolExecutor(procs) as ex:
        list(ex.map(square, range(procs * 4)))
        s = timed(lambda: list(ex.map(square, range(tiny_n))))
        print(json.dumps({"system": "ProcessPoolExecutor.map", "cell": "cold", "seconds": s}), flush=True)
        list(ex.map(busy, [1] * (procs * 2)))
        for _ in range(reps):
            s = timed(lambda: list(ex.map(square, range(tiny_n))))
            print(json.dumps({"system": "ProcessPoolExecutor.map", "cell": "tiny", "seconds": s}), flush=True)
            s = timed(lambda: list(ex.map(busy, [busy_ms] * busy_n)))
            print(json.dumps({"system": "ProcessPoolExecutor.map", "cell": "busy", "seconds": s}), flush=True)
