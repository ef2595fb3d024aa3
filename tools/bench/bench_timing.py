"""Timing shared by the Python sides of the benchmarks, as tools/timing.h times mmp:
warm-up runs, then the median of at least `repeats` runs lasting at least `min_seconds`."""
import statistics
import time


def median_seconds(fn, repeats=3, warmup=1, min_seconds=0.0):
    for _ in range(warmup):
        fn()
    samples, start = [], time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)
