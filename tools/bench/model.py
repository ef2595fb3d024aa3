#!/usr/bin/python3
"""PyTorch's side of `mmp bench model`: the same AVClassifier (the official model,
tools/reference/av_model.py), the same shapes, timed the same way (median of repeats
after a warm-up): a forward in training mode, and forward + backward of the summed
loss of the three heads."""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from av_model import AVClassifier  # noqa: E402
from bench_timing import median_seconds  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device(args.device)
    torch.manual_seed(0)
    model = AVClassifier(classes=6).to(dev).train()
    audio = torch.randn(args.batch, 1, 257, 188, device=dev)
    visual = torch.randn(args.batch, args.frames, 3, 224, 224, device=dev)
    label = torch.arange(args.batch, device=dev) % 6

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def loss():
        out, out_a, out_v = model(audio, visual)
        return F.cross_entropy(out, label) + F.cross_entropy(out_a, label) + F.cross_entropy(out_v, label)

    def forward():
        loss()
        sync()

    def step():
        model.zero_grad()
        loss().backward()
        sync()

    f = median_seconds(forward, args.repeats)
    s = median_seconds(step, args.repeats)
    print(f"# PyTorch {torch.__version__} AVClassifier, batch {args.batch}; {args.device}, {torch.get_num_threads()} threads")
    print(f"{'phase':<10} {'seconds':>12} {'samples/s':>12}")
    print(f"{'forward':<10} {f:>12.3f} {args.batch / f:>12.2f}")
    print(f"{'step':<10} {s:>12.3f} {args.batch / s:>12.2f}")


if __name__ == "__main__":
    main()
