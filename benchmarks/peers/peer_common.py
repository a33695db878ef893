"""Shared by the PyTorch peer scripts: the timing loop the C side mirrors (benchmarks/bench.h).
Prints "name ms" (median of reps after warm-up runs), the format bench_run_peer reads."""
import statistics
import time


def bench(name, fn, warm=3, reps=21):
    for _ in range(warm):
        fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    print(f"{name} {statistics.median(t):.6f}", flush=True)
