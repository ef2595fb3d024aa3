"""Weights and batches both sides can make from a seed without sharing files: every value
is a hash (splitmix64) of (seed, tensor number, element number) mapped to [-1, 1).
tests/support/hashed_values.cpp makes the same values in C++, so a fixture need only
keep what PyTorch computed from them."""
import math

import numpy as np
import torch

def splitmix64(x):
    """x: a uint64 numpy array; the hash of each element."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(seed, stream, shape):
    """Values in [-1, 1) (float64), element i of `stream` under `seed`."""
    n = int(np.prod(shape)) if len(shape) else 1
    key = (seed << 44) | (stream << 26)
    z = splitmix64(np.uint64(key) + np.arange(n, dtype=np.uint64))
    u = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return torch.from_numpy(2 * u - 1).reshape(shape)


def fill_model(model, seed):
    """The state dict's tensors in order: conv and linear weights He-uniform, linear biases
    uniform(1/sqrt(fan_in)), batch-norm weights 1 +- 0.1 and biases +- 0.1, running
    statistics 0 and 1; all f32-representable."""
    state = model.state_dict()
    for number, (name, t) in enumerate(state.items()):
        if name.endswith("running_mean") or name.endswith("num_batches_tracked"):
            t.zero_()
            continue
        if name.endswith("running_var"):
            t.fill_(1)
            continue
        u = uniform(seed, number, tuple(t.shape))
        if name.endswith("weight") and t.dim() >= 2:
            fan_in = int(np.prod(t.shape[1:]))
            value = u * math.sqrt(6.0 / fan_in)
        elif name.endswith("weight"):
            value = 1 + 0.1 * u
        elif state[name[: -len("bias")] + "weight"].dim() == 2:
            value = u * (1.0 / math.sqrt(state[name[: -len("bias")] + "weight"].shape[1]))
        else:
            value = 0.1 * u
        t.copy_(value.float().to(t.dtype))


def batch(seed, audio_shape, visual_shape, classes):
    """Unit-variance inputs and labels: streams 1000, 1001 and 1002."""
    audio = (uniform(seed, 1000, audio_shape) * math.sqrt(3.0)).float()
    visual = (uniform(seed, 1001, visual_shape) * math.sqrt(3.0)).float()
    z = splitmix64(np.uint64((seed << 44) | (1002 << 26)) + np.arange(audio_shape[0], dtype=np.uint64))
    label = torch.from_numpy((z % np.uint64(classes)).astype(np.int64))
    return audio, visual, label
