#!/usr/bin/python3
"""PyTorch's side of `mmp bench model`: the same AVClassifier (the official model,
tools/reference/av_model.py), the same shapes, timed the same way (median of repeats
after a warm-up): a forward in training mode, and forward + backward of the summed
loss of the three heads."""
import torch
import torch.nn.functional as F

from av_bench_setup import autocast, model_and_inputs, parse_args
from bench_timing import median_seconds


def main():
    args = parse_args(__doc__)
    dev, model, audio, visual, label = model_and_inputs(args)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def loss():
        with autocast(args, dev):
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
    print(f"# PyTorch {torch.__version__} AVClassifier, batch {args.batch}; {args.device}, {args.precision}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'phase':<10} {'seconds':>12} {'samples/s':>12}")
    print(f"{'forward':<10} {f:>12.4f} {args.batch / f:>12.2f}")
    print(f"{'step':<10} {s:>12.4f} {args.batch / s:>12.2f}")


if __name__ == "__main__":
    main()
