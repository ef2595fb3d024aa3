#pragma once
// The audio features of the papers' data pipelines, computed from mono samples. FFTs
// come from FFmpeg's libavutil (av_tx), in double precision.
#include <vector>

#include "engine/tensor.h"

namespace mmp {

// OGM-GE's CREMA-D spectrogram: samples at 22050 Hz repeated to fill 3 s (np.tile(x, 3)
// cut to 3 s; shorter clips repeat until full), clipped to [-1, 1], STFT with n_fft 512,
// hop 353, periodic Hann, centred with zero padding (librosa.stft), then log(|S| + 1e-7).
// Returns f32 [257, 188].
Tensor ogm_spectrogram(const std::vector<float>& samples_22050);

struct FbankOptions {
  double sample_rate = 16000;
  int mel_bins = 128;
  int target_frames = 1024;
  double norm_mean = -4.503877, norm_std = 5.141276;
};

// The MMPareto release's Kaldi fbank (torchaudio.compliance.kaldi.fbank with htk_compat,
// use_energy off, window_type "hanning", 128 mel bins, 25 ms frames, 10 ms shift, dither
// 0): the waveform's mean removed first; then padded with zeros or cut to 1024 frames and
// normalised as (x - norm_mean) / (2 norm_std). Returns f32 [target_frames, mel_bins].
Tensor kaldi_fbank(const std::vector<float>& samples, const FbankOptions& options = {});

}  // namespace mmp
