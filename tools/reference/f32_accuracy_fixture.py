#!/usr/bin/python3
"""Writes tests/fixtures/f32_accuracy.safetensors: how far PyTorch's f32 MMPareto step
lands from the same step in float64, per encoder, for 50 seeds at small input sizes and
3 at CREMA-D's. Weights and batches come from hashed_values.py, which the C++ test
reproduces, so the fixture keeps only PyTorch's errors (and checksums of the inputs).
The step is step_fixture.py's (the official MMPareto step and SGD). Run with Debian's
python3-torch:
    /usr/bin/python3 tools/reference/f32_accuracy_fixture.py"""
import argparse
import copy
import os

import torch

import hashed_values
import safetensors_io
import step_fixture
from av_model import AVClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
# (name, seeds, width, batch, audio [B, 1, F, T], visual [B, T, 3, H, W])
SETS = [("small", 50, 4, 4, (1, 40, 32), (2, 3, 32, 32)), ("cremad", 8, 4, 4, (1, 257, 188), (2, 3, 224, 224))]


def update(model, dtype, audio, visual, label):
    m = copy.deepcopy(model).to(dtype)
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=step_fixture.LR, momentum=step_fixture.MOMENTUM,
                          weight_decay=step_fixture.WEIGHT_DECAY)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    step_fixture.train_step(m, opt, "mmpareto", audio.to(dtype), visual.to(dtype), label)
    return {n: (p.detach() - before[n]).double() for n, p in m.named_parameters()}


def relative(a, b, prefix):
    names = [n for n in b if n.startswith(prefix)]
    return (sum(((a[n] - b[n]) ** 2).sum() for n in names) / sum((b[n] ** 2).sum() for n in names)).sqrt().item()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out-dir", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = p.parse_args()
    torch.set_num_threads(1)
    record = {}
    for name, seeds, width, b, audio_shape, visual_shape in SETS:
        errors, checksums = [], []
        for seed in range(seeds):
            model = AVClassifier(classes=6, width=width, fusion="concat").float()
            hashed_values.fill_model(model, seed)
            audio, visual, label = hashed_values.batch(seed, (b,) + audio_shape, (b,) + visual_shape, 6)
            exact = update(model, torch.float64, audio, visual, label)
            single = update(model, torch.float32, audio, visual, label)
            errors.append([relative(single, exact, "audio_net."), relative(single, exact, "visual_net.")])
            checksums.append([sum(t.double().sum().item() for t in model.state_dict().values()),
                              audio.double().sum().item() + visual.double().sum().item() + label.sum().item()])
            print(f"{name} seed {seed:2d}: f32 update error audio {errors[-1][0]:.2e} visual {errors[-1][1]:.2e}",
                  flush=True)
        record[f"{name}/torch_error"] = torch.tensor(errors, dtype=torch.float64)
        record[f"{name}/checksum"] = torch.tensor(checksums, dtype=torch.float64)
    meta = {"source": "tools/reference/f32_accuracy_fixture.py", "torch": torch.__version__,
            "lr": str(step_fixture.LR), "momentum": str(step_fixture.MOMENTUM),
            "weight_decay": str(step_fixture.WEIGHT_DECAY)}
    for name, seeds, width, b, audio_shape, visual_shape in SETS:
        meta[f"{name}/shape"] = f"width {width}, batch {b}, audio {list(audio_shape)}, visual {list(visual_shape)}"
    path = os.path.join(args.out_dir, "f32_accuracy.safetensors")
    safetensors_io.save(path, record, meta)
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
