#!/usr/bin/python3
"""Writes tests/fixtures/image_transforms.safetensors: test images and what
torchvision (on PIL images) makes of them: Resize((224, 224)) when shrinking and when
enlarging, a resized crop as RandomResizedCrop applies it, a horizontal flip, and
ToTensor + Normalize with ImageNet's mean and std (also of every byte value); and JPEG
files (colour with 4:2:0, 4:4:4 and 4:2:2 chroma, progressive, greyscale) with what
Image.open(...).convert("RGB") decodes from them. Run with /usr/bin/python3 (Debian's
python3-torch, python3-torchvision and python3-pil)."""
import argparse
import io
import os

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image

import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))


def test_image(width, height, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([255 * x / width, 255 * y / height, 128 + 100 * np.sin(x / 7.0 + y / 5.0)], -1)
    noisy = base + rng.normal(0, 25, base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out-dir", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = p.parse_args()
    large = test_image(300, 200, 1)  # wider than 224: the shrinking path
    small = test_image(61, 47, 2)
    record = {"large": torch.from_numpy(large), "small": torch.from_numpy(small)}
    bilinear = TF.InterpolationMode.BILINEAR
    for name, img in (("large", large), ("small", small)):
        pil = Image.fromarray(img)
        record[f"{name}_resized"] = torch.from_numpy(np.asarray(TF.resize(pil, [224, 224], bilinear)).copy())
    # RandomResizedCrop's resize of a chosen box (top 23, left 61, height 150, width 190).
    crop = TF.resized_crop(Image.fromarray(large), 23, 61, 150, 190, [224, 224], bilinear)
    record["large_cropped"] = torch.from_numpy(np.asarray(crop).copy())
    record["small_flipped"] = torch.from_numpy(np.asarray(TF.hflip(Image.fromarray(small))).copy())
    normalized = TF.normalize(TF.to_tensor(Image.fromarray(small)), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    record["small_normalized"] = normalized
    every_byte = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)  # 1 x 256, grey
    record["every_byte"] = torch.from_numpy(every_byte)
    record["every_byte_normalized"] = TF.normalize(TF.to_tensor(Image.fromarray(every_byte)),
                                                   [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    for name, img, options in (("jpeg_420", small, {"quality": 75}),
                               ("jpeg_444", small, {"quality": 95, "subsampling": 0}),
                               ("jpeg_422", small, {"quality": 85, "subsampling": 1}),
                               ("jpeg_progressive", small, {"quality": 80, "progressive": True}),
                               ("jpeg_gray", Image.fromarray(small).convert("L"), {"quality": 80})):
        encoded = io.BytesIO()
        (img if isinstance(img, Image.Image) else Image.fromarray(img)).save(encoded, "JPEG", **options)
        data = np.frombuffer(encoded.getvalue(), dtype=np.uint8).copy()
        record[name] = torch.from_numpy(data)
        record[name + "_decoded"] = torch.from_numpy(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).copy())
    path = os.path.join(args.out_dir, "image_transforms.safetensors")
    safetensors_io.save(path, record, {"source": "tools/reference/image_fixture.py"})
    print(f"{path}: {os.path.getsize(path) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
