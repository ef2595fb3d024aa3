#!/usr/bin/python3
"""PyTorch's side of `mmp bench step`: the official training steps of
GeWu-Lab/MMPareto_ICML2024 (code/uniform_baseline.py and code/MMPareto.py, the loop
body transcribed, with the same model and SGD settings) at the same shapes, timed the
same way. The MMPareto step is as released: one backward per loss with the graph
retained, gradients cloned per parameter, the min-norm solver, a fourth backward of
the summed loss, and the per-tensor surgery."""
import re

import torch
import torch.nn.functional as F

from av_bench_setup import autocast, model_and_inputs, parse_args
from bench_timing import median_seconds


def min_norm_2(v11, v12, v22):  # MinNormSolver._min_norm_element_from2
    if v12 >= v11:
        return 0.999
    if v12 >= v22:
        return 0.001
    return -1.0 * ((v12 - v22) / (v11 + v22 - 2 * v12))


def uniform_step(model, optimizer, spec, images, label):
    optimizer.zero_grad()
    out, out_a, out_v = model(spec, images)
    loss = F.cross_entropy(out, label) + F.cross_entropy(out_a, label) + F.cross_entropy(out_v, label)
    loss.backward()
    optimizer.step()


def mmpareto_step(model, optimizer, spec, images, label, names_audio, names_visual):
    optimizer.zero_grad()
    out, out_a, out_v = model(spec, images)
    loss_mm, loss_a, loss_v = F.cross_entropy(out, label), F.cross_entropy(out_a, label), F.cross_entropy(out_v, label)
    grads_audio, grads_visual = {}, {}
    for loss, kind in ((loss_mm, "both"), (loss_a, "audio"), (loss_v, "visual")):
        loss.backward(retain_graph=True)
        if kind in ("both", "audio"):
            grads_audio[kind] = {n: p.grad.data.clone() for n, p in names_audio}
            grads_audio[kind]["concat"] = torch.cat([grads_audio[kind][n].flatten() for n, _ in names_audio])
        if kind in ("both", "visual"):
            grads_visual[kind] = {n: p.grad.data.clone() for n, p in names_visual}
            grads_visual[kind]["concat"] = torch.cat([grads_visual[kind][n].flatten() for n, _ in names_visual])
        optimizer.zero_grad()
    k = {}
    for group, grads, uni in (("audio", grads_audio, "audio"), ("visual", grads_visual, "visual")):
        a, b = grads["both"]["concat"], grads[uni]["concat"]
        if F.cosine_similarity(a, b, dim=0) > 0:
            k[group] = (0.5, 0.5)
        else:
            c = min_norm_2((a @ a).item(), (a @ b).item(), (b @ b).item())
            k[group] = (c, 1 - c)
    (loss_mm + loss_a + loss_v).backward()
    for name, param in model.named_parameters():
        layer = re.split("[_.]", name)
        if "head" in layer or param.grad is None:
            continue
        for group, grads, uni in (("audio", grads_audio, "audio"), ("visual", grads_visual, "visual")):
            if group in layer:
                three_norm = torch.norm(param.grad.data.clone())
                new_grad = 2 * k[group][0] * grads["both"][name] + 2 * k[group][1] * grads[uni][name]
                diff = three_norm / torch.norm(new_grad)
                param.grad = diff * new_grad * 1.5 if diff > 1 else new_grad * 1.5
    optimizer.step()


def main():
    def options(p):
        p.add_argument("--method", default="mmpareto", choices=["uniform", "mmpareto"])
        p.add_argument("--compile", action="store_true",
                       help="torch.compile the model (its forward and, through AOTAutograd, backward); "
                            "the first warm-up step compiles it")

    args = parse_args(__doc__, options)
    dev, model, spec, images, label = model_and_inputs(args)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.002, momentum=0.9, weight_decay=1e-4)
    names_audio = [(n, p) for n, p in model.named_parameters() if "head" not in n and "audio" in n]
    names_visual = [(n, p) for n, p in model.named_parameters() if "head" not in n and "visual" in n]
    if args.compile:
        if args.method != "uniform":
            raise SystemExit("--compile: only the uniform step (the official MMPareto step reads gradients by name)")
        model = torch.compile(model)  # the parameters stay the module's: the optimizer above steps them

    def step():
        with autocast(args, dev):
            if args.method == "uniform":
                uniform_step(model, optimizer, spec, images, label)
            else:
                mmpareto_step(model, optimizer, spec, images, label, names_audio, names_visual)
        if dev.type == "cuda":
            torch.cuda.synchronize()

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t = median_seconds(step, args.repeats)
    peak = torch.cuda.max_memory_reserved() / 2**20 if dev.type == "cuda" else 0
    print(f"# official PyTorch {args.method} step{' (torch.compile)' if args.compile else ''}, batch {args.batch}; "
          f"{args.device}, {args.precision}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'method':<10} {'seconds':>12} {'samples/s':>12} {'peak_MiB':>12}")
    print(f"{args.method:<10} {t:>12.4f} {args.batch / t:>12.2f} {peak:>12.0f}")


if __name__ == "__main__":
    main()
