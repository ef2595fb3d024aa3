#!/usr/bin/python3
"""Writes tests/fixtures/av_model_<fusion>.safetensors: a small AVClassifier's weights,
a batch, and what one training-mode forward gives in PyTorch: the three logits and
losses, the gradient of each loss on every parameter it reaches, and the BatchNorm
running statistics after the forward. Run with Debian's python3-torch:
    /usr/bin/python3 tools/reference/model_fixture.py"""
import argparse
import os

import torch

import safetensors_io
from av_model import AVClassifier, objective_losses

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out-dir", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    p.add_argument("--width", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(1)
    for fusion in ["concat", "sum", "film", "gated"]:
        torch.manual_seed(0)
        model = AVClassifier(classes=6, width=args.width, fusion=fusion).double()
        model.train()
        weights = {k: v.clone() for k, v in model.state_dict().items()}
        audio = torch.randn(2, 1, 64, 48, dtype=torch.float64)
        visual = torch.randn(2, 2, 3, 64, 64, dtype=torch.float64)
        label = torch.tensor([3, 5], dtype=torch.int64)
        out, out_a, out_v = model(audio, visual)
        losses = objective_losses(out, out_a, out_v, label)
        params = dict(model.named_parameters())
        record = {}
        for name, t in weights.items():
            record["weights/" + name] = t
        record.update({"audio": audio, "visual": visual, "label": label, "out": out, "out_audio": out_a,
                       "out_visual": out_v})
        for key, loss in losses.items():
            record["loss_" + key] = loss.reshape(())
            grads = torch.autograd.grad(loss, list(params.values()), retain_graph=True, allow_unused=True)
            for name, g in zip(params, grads):
                if g is not None:
                    record[f"grad/{key}/{name}"] = g
        for name, buf in model.named_buffers():
            record["buffers/" + name] = buf
        # f64 in PyTorch is the reference; stored as f32 (and i64) to keep the files small.
        record = {k: (v.float() if v.is_floating_point() else v) for k, v in record.items()}
        path = os.path.join(args.out_dir, f"av_model_{fusion}.safetensors")
        safetensors_io.save(path, record, {"source": "tools/reference/model_fixture.py", "torch": torch.__version__,
                                           "width": str(args.width), "fusion": fusion})
        print(f"{path}: {len(record)} tensors, {os.path.getsize(path) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
