"""Shared by the PyTorch peer scripts: the timing loop the C side mirrors (benchmarks/bench.h).
Prints "name ms q1 q3" (median and quartiles of reps after warm-up runs), the format
bench_run_peer reads; $AG_BENCH_QUICK caps warm-up and reps as bench.h does."""
import os
import time


def caps(warm, reps):
    q = os.environ.get("AG_BENCH_QUICK", "")
    if q in ("", "0"):
        return warm, reps
    w, r = (0, 1) if q == "tiny" else (1, 5)
    return min(warm, w), min(reps, r)


def stats(t):
    """(q1, median, q3) by the nearest ranks bench_stats uses"""
    t = sorted(t)
    n = len(t)
    return t[(n - 1) // 4], t[n // 2], t[(3 * n) // 4]


def bench(name, fn, warm=3, reps=21):
    warm, reps = caps(warm, reps)
    for _ in range(warm):
        fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    q1, med, q3 = stats(t)
    print(f"{name} {med:.6f} {q1:.6f} {q3:.6f}", flush=True)
