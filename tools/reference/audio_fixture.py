#!/usr/bin/env python3
"""Writes tests/fixtures/audio_features.safetensors: two test signals and the features
the papers' pipelines compute from them:
- `spectrogram`: OGM-GE's CREMA-D spectrogram with librosa (np.tile to 3 s, clip to
  [-1, 1], librosa.stft(n_fft=512, hop_length=353), log(|S| + 1e-7));
- `fbank`: the MMPareto release's Kaldi fbank with torchaudio (mean removed, 128 mel
  bins, hanning window, htk_compat, dither 0), padded to 1024 frames and normalised;
  the first `fbank_rows` frames are stored (the rest are the padding value).
Run with the venv of tools/reference/setup-venv.sh:
    $(tools/reference/setup-venv.sh) tools/reference/audio_fixture.py"""
import argparse
import os

import librosa
import numpy as np
import torch
import torchaudio

import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))


def test_signal(rate, seconds, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    chirp = 0.5 * np.sin(2 * np.pi * (200 + 900 * t) * t)
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (t > 0.5)
    x = (chirp + tone + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)
    x[100] = 1.7  # outside [-1, 1]: the spectrogram clips
    x[101] = -1.4
    return x


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out-dir", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = p.parse_args()

    a = test_signal(22050, 1.7, 1)  # shorter than 3 s: tiled
    tiled = np.tile(a, 3)[:22050 * 3]
    tiled[tiled > 1.0] = 1.0
    tiled[tiled < -1.0] = -1.0
    spectrogram = np.log(np.abs(librosa.stft(tiled, n_fft=512, hop_length=353)) + 1e-7)

    b = test_signal(16000, 2.2, 2)
    waveform = torch.from_numpy(b).unsqueeze(0)
    waveform = waveform - waveform.mean()
    fbank = torchaudio.compliance.kaldi.fbank(waveform, htk_compat=True, sample_frequency=16000, use_energy=False,
                                              window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)
    frames = fbank.shape[0]
    fbank = torch.nn.ZeroPad2d((0, 0, 0, 1024 - frames))(fbank)
    fbank = (fbank - (-4.503877)) / (5.141276 * 2)
    rows = frames + 8

    record = {"signal_22050": torch.from_numpy(a), "spectrogram": torch.from_numpy(spectrogram.astype(np.float32)),
              "signal_16000": torch.from_numpy(b), "fbank": fbank[:rows].contiguous()}
    path = os.path.join(args.out_dir, "audio_features.safetensors")
    safetensors_io.save(path, record, {"source": "tools/reference/audio_fixture.py", "librosa": librosa.__version__,
                                       "torchaudio": torchaudio.__version__, "fbank_frames": str(frames),
                                       "fbank_rows": str(rows)})
    print(f"{path}: spectrogram {tuple(spectrogram.shape)}, fbank {frames} frames, "
          f"{os.path.getsize(path) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
