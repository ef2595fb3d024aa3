#!/usr/bin/python3
"""Writes tests/fixtures/step_methods.safetensors: one full training step of each
gradient-integration method on the small concat AVClassifier of model_fixture.py,
computed in f64 by PyTorch, then a second step from the optimizer state of the first.

The MMPareto step is a transcription of the official code (GeWu-Lab/MMPareto_ICML2024,
code/MMPareto.py and min_norm_solvers.py); the baselines follow their papers' official
code (PCGrad: Yu et al.; CAGrad: Cranial-XIX/CAGrad; OGM-GE: GeWu-Lab/OGM-GE_CVPR2022,
without its random Gaussian term). Run with Debian's python3-torch:
    /usr/bin/python3 tools/reference/step_fixture.py"""
import argparse
import math
import os

import torch
import torch.nn.functional as F

import safetensors_io
from av_model import AVClassifier, objective_losses

HERE = os.path.dirname(os.path.abspath(__file__))
LR, MOMENTUM, WEIGHT_DECAY, GAMMA = 0.05, 0.9, 1e-4, 1.5
CAGRAD_C, OGM_ALPHA = 0.5, 0.1
SECOND_BATCH_SEED = int(os.environ.get("SECOND_BATCH_SEED", 1))


def flat(grads):
    return torch.cat([g.flatten() for g in grads])


def min_norm_official(v11, v12, v22):
    """MinNormSolver._min_norm_element_from2: the weight of the first vector."""
    if v12 >= v11:
        return 0.999
    if v12 >= v22:
        return 0.001
    return -1.0 * ((v12 - v22) / (v11 + v22 - 2 * v12))


def min_norm_exact(v11, v12, v22):
    if v12 >= v11:
        return 1.0
    if v12 >= v22:
        return 0.0
    return (v22 - v12) / (v11 + v22 - 2 * v12)


def mmpareto(gm, gu, ctx, rescale="tensor"):
    """Official: cos over the whole encoder, 0.5/0.5 when positive, else the min-norm
    weight; per tensor new = 2(c g_mm + (1-c) g_u), grad = gamma * max(|g_mm+g_u|/|new|, 1) * new."""
    fm, fu = flat(gm), flat(gu)
    cos = F.cosine_similarity(fm, fu, dim=0).item()
    if cos > 0:
        c = 0.5
    else:
        c = min_norm_official((fm @ fm).item(), (fm @ fu).item(), (fu @ fu).item())
    new = [2 * c * a + 2 * (1 - c) * b for a, b in zip(gm, gu)]
    if rescale == "tensor":
        out = []
        for a, b, n in zip(gm, gu, new):
            diff = torch.norm(a + b) / torch.norm(n)
            out.append(diff * n * GAMMA if diff > 1 else n * GAMMA)
        return out, [c, 1 - c]
    diff = torch.norm(fm + fu) / torch.norm(flat(new))
    factor = GAMMA * max(diff.item(), 1.0)
    return [factor * n for n in new], [c, 1 - c]


def mmpareto_encoder(gm, gu, ctx):
    return mmpareto(gm, gu, ctx, rescale="encoder")


def one_joint(gm, gu, ctx):
    return list(gm), [1.0, 0.0]


def uniform(gm, gu, ctx):
    return [a + b for a, b in zip(gm, gu)], [1.0, 1.0]


def mgda(gm, gu, ctx):
    fm, fu = flat(gm), flat(gu)
    c = min_norm_exact((fm @ fm).item(), (fm @ fu).item(), (fu @ fu).item())
    return [c * a + (1 - c) * b for a, b in zip(gm, gu)], [c, 1 - c]


def pcgrad(gm, gu, ctx):
    fm, fu = flat(gm), flat(gu)
    d = (fm @ fu).item()
    wm, wu = 1.0, 1.0
    if d < 0:  # each projected onto the other's normal plane, then summed
        wu_from_m = -d / (fu @ fu).item()
        wm_from_u = -d / (fm @ fm).item()
        wm, wu = 1.0 + wm_from_u, 1.0 + wu_from_m
    return [wm * a + wu * b for a, b in zip(gm, gu)], [wm, wu]


def cagrad(gm, gu, ctx):
    fm, fu = flat(gm), flat(gu)
    gg = torch.stack([fm, fu], 1)
    a = (gg.t() @ gg).numpy()
    b = [0.5, 0.5]
    g0_norm = math.sqrt(a.mean() + 1e-8)
    c = CAGRAD_C * g0_norm + 1e-8

    def obj(x):
        w = [x, 1 - x]
        lin = sum(w[i] * a[i][j] * b[j] for i in range(2) for j in range(2))
        quad = sum(w[i] * a[i][j] * w[j] for i in range(2) for j in range(2))
        return lin + c * math.sqrt(quad + 1e-8)

    # obj is convex in x: its minimum is at an end where the slope does not change sign
    # there, else where the slope is 0, in closed form (squared: u^2 (c^2 A - d^2) =
    # d^2 (4 eps A - D), u = 2 A x + B, D = B^2 - 4 A C = -4 det a, u of the sign
    # opposite to d). The minimiser is exact to rounding, as the test needs at 1e-10.
    eps = 1e-8
    d = sum(a[0][j] * b[j] for j in range(2)) - sum(a[1][j] * b[j] for j in range(2))
    qa, qb, qc = a[0][0] - 2 * a[0][1] + a[1][1], 2 * (a[0][1] - a[1][1]), a[1][1]

    def slope(x):
        return d + c * (2 * qa * x + qb) / (2 * math.sqrt(max(qa * x * x + qb * x + qc, 0.0) + eps))

    if slope(0.0) >= 0:
        x = 0.0
    elif slope(1.0) <= 0:
        x = 1.0
    else:
        disc = 4 * (a[0][1] * a[0][1] - a[0][0] * a[1][1])
        u = (-1.0 if d > 0 else 1.0) * math.sqrt(max(d * d * (4 * eps * qa - disc) / (c * c * qa - d * d), 0.0))
        x = min(max((u - qb) / (2 * qa), 0.0), 1.0)
    # The closed form is the minimiser: a dense scan finds nothing lower.
    assert all(obj(x) <= obj(i / 1000) + 1e-12 * abs(obj(x)) for i in range(1001))
    w = [x, 1 - x]
    gw_norm = math.sqrt(max(sum(w[i] * a[i][j] * w[j] for i in range(2) for j in range(2)), 0))
    lam = c / (gw_norm + 1e-8)
    weights = [(0.5 + lam * w[0]) / (1 + CAGRAD_C ** 2), (0.5 + lam * w[1]) / (1 + CAGRAD_C ** 2)]
    return [weights[0] * p + weights[1] * q for p, q in zip(gm, gu)], weights


def ogm(gm, gu, ctx):
    coeff = ctx["coeff_" + ctx["group"]]
    return [g * coeff if g.dim() == 4 else g.clone() for g in gm], [coeff, 0.0]


# one-joint trains its unimodal heads as probes (mmp train's default); one-joint-official
# is one_joint_loss.py, where they get no gradient.
METHODS = {"one-joint": one_joint, "one-joint-official": one_joint, "uniform": uniform, "mmpareto": mmpareto,
           "mmpareto-encoder": mmpareto_encoder, "mgda": mgda, "pcgrad": pcgrad, "cagrad": cagrad, "ogm": ogm}


def ogm_coefficients(model, a_feat, v_feat, label):
    w, b = model.head.weight, model.head.bias
    d = a_feat.shape[1]
    out_a = a_feat @ w[:, :d].t() + b / 2
    out_v = v_feat @ w[:, d:].t() + b / 2
    score_a = sum(F.softmax(out_a, 1)[i][label[i]] for i in range(len(label)))
    score_v = sum(F.softmax(out_v, 1)[i][label[i]] for i in range(len(label)))
    ratio_v = (score_v / score_a).item()
    ratio_a = 1 / ratio_v
    if ratio_v > 1:
        return 1.0, 1 - math.tanh(OGM_ALPHA * max(ratio_v, 0))
    return 1 - math.tanh(OGM_ALPHA * max(ratio_a, 0)), 1.0


def train_step(model, optimizer, method, audio, visual, label):
    feats = {}
    model.audio_net.register_forward_hook(lambda m, i, o: feats.__setitem__("a", o))
    model.visual_net.register_forward_hook(lambda m, i, o: feats.__setitem__("v", o))
    out, out_a, out_v = model(audio, visual)
    losses = objective_losses(out, out_a, out_v, label)
    params = dict(model.named_parameters())
    grads = {}
    for key, loss in losses.items():
        gs = torch.autograd.grad(loss, list(params.values()), retain_graph=True, allow_unused=True)
        grads[key] = dict(zip(params, gs))
    a_feat = torch.flatten(F.adaptive_avg_pool2d(feats["a"], 1), 1)
    b = audio.shape[0]
    v = feats["v"]
    v_feat = torch.flatten(F.adaptive_avg_pool3d(v.view(b, -1, *v.shape[1:]).permute(0, 2, 1, 3, 4), 1), 1)
    coeff_audio, coeff_visual = ogm_coefficients(model, a_feat, v_feat, label)
    stats, final = {}, {}
    for group, uni in (("audio", "audio"), ("visual", "visual")):
        names = [n for n in params if n.startswith(group + "_net.")]
        gm = [grads["mm"][n] for n in names]
        gu = [grads[uni][n] for n in names]
        ctx = {"group": group, "coeff_audio": coeff_audio, "coeff_visual": coeff_visual}
        new, weights = METHODS[method](gm, gu, ctx)
        fm, fu = flat(gm), flat(gu)
        stats[f"cos_{group}"] = F.cosine_similarity(fm, fu, dim=0).item()
        stats[f"weight_mm_{group}"], stats[f"weight_{uni}_{group}"] = weights
        stats[f"norm_mm_{group}"], stats[f"norm_{uni}_{group}"] = fm.norm().item(), fu.norm().item()
        stats[f"norm_sum_{group}"] = (fm + fu).norm().item()
        stats[f"norm_final_{group}"] = flat(new).norm().item()
        final.update(zip(names, new))
    for n in params:
        if n not in final:  # heads: the sum of the losses that reach them
            if method == "one-joint-official" and not n.startswith("head."):
                continue  # one_joint_loss.py: only the fused loss, the unimodal heads get no gradient
            final[n] = sum(grads[k][n] for k in grads if grads[k][n] is not None)
    for n, p in params.items():
        p.grad = final[n].clone() if n in final else None
    optimizer.step()
    return losses, grads, final, stats


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out-dir", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = p.parse_args()
    torch.set_num_threads(1)
    record = {}
    for method in METHODS:
        torch.manual_seed(0)
        # f64 arithmetic from f32-representable weights and inputs: the test starts from
        # exactly these values and runs in f64 too.
        model = AVClassifier(classes=6, width=2, fusion="concat").float().double()
        model.train()
        audio = torch.randn(2, 1, 40, 32).double()
        visual = torch.randn(2, 2, 3, 32, 32).double()
        label = torch.tensor([3, 5], dtype=torch.int64)
        # A second batch on which, after the first step, both encoders' gradients
        # conflict (cos < 0): the surgery branches of every method run.
        torch.manual_seed(SECOND_BATCH_SEED)
        audio2 = torch.randn(2, 1, 40, 32).double()
        visual2 = torch.randn(2, 2, 3, 32, 32).double()
        label2 = torch.tensor([0, 2], dtype=torch.int64)
        # Shared by every method: the initial weights, the batches, and the BN
        # statistics after the first forward.
        record.update({"weights/" + k: v.clone() for k, v in model.state_dict().items()})
        record.update({"audio": audio, "visual": visual, "label": label, "audio2": audio2, "visual2": visual2,
                       "label2": label2})
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        for step, batch in ((1, (audio, visual, label)), (2, (audio2, visual2, label2))):
            before = {n: prm.detach().clone() for n, prm in model.named_parameters()}
            losses, grads, final, stats = train_step(model, optimizer, method, *batch)
            prefix = f"{method}/" if step == 1 else f"{method}/step2/"
            for key, loss in losses.items():
                record[f"{prefix}loss_{key}"] = loss.reshape(())
            if step == 1:
                for n, g in final.items():
                    record[f"{prefix}final_grad/{n}"] = g
                record.update({"buffers/" + n: b.clone() for n, b in model.named_buffers()})
            # The update itself: it keeps its own precision, which the updated weights
            # (about 1 for BN, the update 1e-3) would not.
            for n, prm in model.named_parameters():
                record[f"{prefix}update/{n}"] = prm.detach() - before[n]
            for k, v in stats.items():
                record[f"{prefix}stats/{k}"] = torch.tensor(v, dtype=torch.float64)
        print(f"{method:18s} step 2: cos_audio {stats['cos_audio']:+.4f} cos_visual {stats['cos_visual']:+.4f} "
              f"weights audio {stats['weight_mm_audio']:.4f}/{stats['weight_audio_audio']:.4f}")
    # The starting weights and the batches are f32-representable: stored in f32. The
    # results keep all of f64, so that a float64 step can be checked to 1e-10.
    inputs = ("weights/", "audio", "visual")
    record = {k: (v.float() if v.is_floating_point() and k.startswith(inputs) else v) for k, v in record.items()}
    path = os.path.join(args.out_dir, "step_methods.safetensors")
    safetensors_io.save(path, record, {"source": "tools/reference/step_fixture.py", "torch": torch.__version__,
                                       "methods": ",".join(METHODS), "lr": str(LR), "momentum": str(MOMENTUM),
                                       "weight_decay": str(WEIGHT_DECAY), "gamma": str(GAMMA),
                                       "cagrad_c": str(CAGRAD_C), "ogm_alpha": str(OGM_ALPHA)})
    print(f"{path}: {len(record)} tensors, {os.path.getsize(path) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
