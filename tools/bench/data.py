#!/usr/bin/env python3
"""The Python side of `mmp bench data`, on one core: (1) decoding a raw CREMA-D-layout
folder as OGM-GE's loader does per clip (librosa.load at 22050 Hz, the 3 s tiled STFT
spectrogram, the extracted JPEG frames opened with PIL and resized to 224x224), and
(2) training batches as the official loaders build them (a precomputed audio feature
read from disk, two JPEG frames per clip through RandomResizedCrop, flip, ToTensor,
Normalize) with torch's DataLoader and no worker processes. Run with the venv of
tools/reference/setup-venv.sh."""
import argparse
import csv
import os
import random
import tempfile

import librosa
import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

from bench_timing import median_seconds

torch.set_num_threads(1)


def clips(root):
    out = []
    for split in ("train", "test"):
        with open(os.path.join(root, split + ".csv")) as f:
            out += [row[0] for row in csv.reader(f) if row]
    return out


def spectrogram(path):
    samples, _ = librosa.load(path, sr=22050)
    x = np.tile(samples, 3)[:22050 * 3]
    x[x > 1.0] = 1.0
    x[x < -1.0] = -1.0
    return np.log(np.abs(librosa.stft(x, n_fft=512, hop_length=353)) + 1e-7)


def frame_files(root, clip):
    folder = os.path.join(root, "Image-01-FPS", clip)
    return sorted(os.path.join(folder, f) for f in os.listdir(folder))


class OfficialStyleDataset(torch.utils.data.Dataset):
    def __init__(self, root, names, feature_dir):
        self.root, self.names, self.feature_dir = root, names, feature_dir
        self.transform = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        name = self.names[i]
        spec = torch.from_numpy(np.load(os.path.join(self.feature_dir, name + ".npy"))).unsqueeze(0)
        files = frame_files(self.root, name)
        seg = max(1, len(files) // 2)
        frames = [self.transform(Image.open(files[min(len(files) - 1, k * seg + random.randint(0, seg - 1))])
                                 .convert("RGB")).unsqueeze(0) for k in range(2)]
        return spec, torch.cat(frames), i % 6


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", required=True)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    names = clips(args.root)

    def decode():
        for name in names:
            spectrogram(os.path.join(args.root, "AudioWAV", name + ".wav"))
            for f in frame_files(args.root, name):
                Image.open(f).convert("RGB").resize((224, 224), Image.BILINEAR)

    t_decode = median_seconds(decode, args.repeats)
    with tempfile.TemporaryDirectory() as features:
        for name in names:
            np.save(os.path.join(features, name + ".npy"), spectrogram(os.path.join(args.root, "AudioWAV", name + ".wav")))
        loader = torch.utils.data.DataLoader(OfficialStyleDataset(args.root, names, features), batch_size=args.batch,
                                             shuffle=True, drop_last=True, num_workers=0)
        t_load = median_seconds(lambda: [b for b in loader], args.repeats)
        batches = len(loader)
    print(f"# Python (librosa {librosa.__version__}, torchvision, PIL), one core: {len(names)} clips")
    print(f"{'stage':<34} {'per second':>12} {'unit':>12}")
    print(f"{'decode + spectrogram + frames':<34} {len(names) / t_decode:>12.1f} {'clips':>12}")
    print(f"{'cache -> augmented batches':<34} {batches / t_load:>12.2f} {'batches':>12}")
    print(f"{'cache -> augmented batches':<34} {batches * args.batch / t_load:>12.1f} {'samples':>12}")


if __name__ == "__main__":
    main()
