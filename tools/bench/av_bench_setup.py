"""What the PyTorch sides of `mmp bench model` and `mmp bench step` share: their
command-line options, torch settings matching mmp's --precision, and the
AVClassifier (tools/reference/av_model.py) with random CREMA-D-shaped inputs.

--precision fp32: TF32 off everywhere (mmp's exact mode); tf32: PyTorch's defaults
(TF32 convolutions, full f32 matmuls) with cudnn.benchmark; bf16: autocast to bf16
with channels_last weights and inputs and cudnn.benchmark, as a tuned PyTorch user runs."""
import argparse
import contextlib
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from av_model import AVClassifier  # noqa: E402


def parse_args(description, extra_options=None):
    p = argparse.ArgumentParser(description=description)
    if extra_options:
        extra_options(p)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    return p.parse_args()


def model_and_inputs(args):
    """Returns (device, model in training mode, spectrograms, frames, labels)."""
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = args.precision != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = args.precision != "fp32"
    dev = torch.device(args.device)
    torch.manual_seed(0)
    model = AVClassifier(classes=6).to(dev).train()
    audio = torch.randn(args.batch, 1, 257, 188, device=dev)
    visual = torch.randn(args.batch, args.frames, 3, 224, 224, device=dev)
    if args.precision == "bf16":
        model = model.to(memory_format=torch.channels_last)
        audio = audio.contiguous(memory_format=torch.channels_last)
    label = torch.arange(args.batch, device=dev) % 6
    return dev, model, audio, visual, label


def autocast(args, dev):
    """The context the forward and backward run in for --precision."""
    if args.precision == "bf16":
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
