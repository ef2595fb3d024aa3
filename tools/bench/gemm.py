#!/usr/bin/env python3
"""numpy's SGEMM (OpenBLAS in the PyPI wheel) at the sizes of `mmp bench gemm`,
timed the same way: warm-up, then the median of repeats over at least a second."""
import argparse

import numpy as np

from bench_timing import median_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    print(f"# numpy {np.__version__} SGEMM, f32")
    print(f"{'n':>6} {'time_ms':>12} {'GFLOP/s':>10}")
    for n in args.sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        t = median_seconds(lambda: a @ b, repeats=5, warmup=2, min_seconds=1.0)
        print(f"{n:>6} {t * 1e3:>12.3f} {2 * n**3 / t * 1e-9:>10.1f}")


if __name__ == "__main__":
    main()
