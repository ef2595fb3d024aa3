#!/usr/bin/env python3
"""PyTorch's CUDA SGEMM (cuBLAS, TF32 off) at the sizes of `mmp bench gemm`, timed
with CUDA events as `mmp bench gemm` times its own: warm-up, then the median of
repeats, each of 20 products in a row."""
import argparse
import statistics

import torch


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"# torch {torch.__version__} SGEMM on {torch.cuda.get_device_name()}, f32")
    print(f"{'n':>6} {'time_ms':>12} {'GFLOP/s':>10}")
    for n in args.sizes:
        a = torch.randn(n, n, device="cuda")
        b = torch.randn(n, n, device="cuda")
        for _ in range(3):
            a @ b
        samples, per_run = [], 20
        for _ in range(20):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(per_run):
                a @ b
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) / 1e3 / per_run)
        t = statistics.median(samples)
        print(f"{n:>6} {t * 1e3:>12.4f} {2 * n**3 / t * 1e-9:>10.1f}")


if __name__ == "__main__":
    main()
