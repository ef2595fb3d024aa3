"""What the PyTorch sides of `mmp bench model` and `mmp bench step` share: their
command-line options, torch settings matching mmp's (fp32, no TF32), and the
AVClassifier (tools/reference/av_model.py) with random CREMA-D-shaped inputs."""
import argparse
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
    return p.parse_args()


def model_and_inputs(args):
    """Returns (device, model in training mode, spectrograms, frames, labels)."""
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device(args.device)
    torch.manual_seed(0)
    model = AVClassifier(classes=6).to(dev).train()
    audio = torch.randn(args.batch, 1, 257, 188, device=dev)
    visual = torch.randn(args.batch, args.frames, 3, 224, 224, device=dev)
    label = torch.arange(args.batch, device=dev) % 6
    return dev, model, audio, visual, label
