#!/usr/bin/python3
"""Writes tests/fixtures/optimizers.safetensors: three steps of torch.optim's SGD (with
dampening and nesterov variants), Adam and AdamW on one parameter with given
gradients, and the learning rates of StepLR and CosineAnnealingLR over ten epochs.
Run with /usr/bin/python3 (Debian's python3-torch)."""
import argparse
import os

import torch

import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {
    "sgd": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=1e-2)),
    "sgd_dampening": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0)),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=1e-3)),
    "sgd_plain": (torch.optim.SGD, dict(lr=0.05)),
    "adam": (torch.optim.Adam, dict(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=1e-2)),
    "adamw": (torch.optim.AdamW, dict(lr=0.01, betas=(0.8, 0.999), eps=1e-8, weight_decay=0.1)),
}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out-dir", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = p.parse_args()
    g = torch.Generator().manual_seed(0)
    start = torch.randn(4, 3, generator=g, dtype=torch.float64)
    grads = [torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    record = {"start": start}
    for i, gr in enumerate(grads):
        record[f"grad{i}"] = gr
    for name, (cls, kwargs) in CASES.items():
        param = torch.nn.Parameter(start.clone())
        opt = cls([param], **kwargs)
        for i, gr in enumerate(grads):
            param.grad = gr.clone()
            opt.step()
            record[f"{name}/step{i}"] = param.detach().clone()
    for name, make in (("step_lr", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
                       ("cosine_lr", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01))):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
        sched, lrs = make(opt), []
        for _ in range(10):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        record[name] = torch.tensor(lrs, dtype=torch.float64)
    path = os.path.join(args.out_dir, "optimizers.safetensors")
    safetensors_io.save(path, record, {"source": "tools/reference/optim_fixture.py", "torch": torch.__version__})
    print(f"{path}: {len(record)} tensors")


if __name__ == "__main__":
    main()
