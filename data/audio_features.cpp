#include "data/audio_features.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <memory>

#include <unsupported/Eigen/FFT>

namespace mmp {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A real-to-complex DFT of n points in double precision (Eigen's FFT module: header
// only, so the training binary needs no FFT library), one per thread and size (a plan
// holds twiddles and scratch and is not shared).
class RealFft {
 public:
  explicit RealFft(int n) : n_(n) { fft_.SetFlag(Eigen::FFT<double>::HalfSpectrum); }

  // The n/2 + 1 complex bins of the n real values of `input`.
  const std::vector<std::complex<double>>& transform(const std::vector<double>& input) {
    MMP_CHECK(static_cast<int>(input.size()) == n_, "FFT of ", n_, " points given ", input.size(), " values");
    fft_.fwd(output_, input);
    return output_;
  }

  static RealFft& for_size(int n) {
    thread_local std::vector<std::unique_ptr<RealFft>> cache;
    for (auto& f : cache)
      if (f->n_ == n) return *f;
    cache.push_back(std::make_unique<RealFft>(n));
    return *cache.back();
  }

 private:
  int n_;
  Eigen::FFT<double> fft_;
  std::vector<std::complex<double>> output_;
};

}  // namespace

Tensor ogm_spectrogram(const std::vector<float>& samples) {
  MMP_CHECK(!samples.empty(), "spectrogram of an empty signal");
  constexpr int kRate = 22050, kFft = 512, kHop = 353, kLength = 3 * kRate, kBins = kFft / 2 + 1;
  // np.tile(samples, 3)[:3 s], clipped to [-1, 1]
  std::vector<double> signal(kLength);
  for (int i = 0; i < kLength; ++i)
    signal[i] = std::clamp(static_cast<double>(samples[i % samples.size()]), -1.0, 1.0);
  const int frames = 1 + kLength / kHop;  // centred: n_fft / 2 zeros on both sides
  std::vector<double> window(kFft);
  for (int i = 0; i < kFft; ++i) window[i] = 0.5 - 0.5 * std::cos(2 * kPi * i / kFft);  // periodic Hann
  Tensor out = Tensor::empty({kBins, frames});
  float* o = out.data<float>();
  RealFft& fft = RealFft::for_size(kFft);
  std::vector<double> frame(kFft);
  for (int t = 0; t < frames; ++t) {
    const int start = t * kHop - kFft / 2;
    for (int i = 0; i < kFft; ++i) {
      const int j = start + i;
      frame[i] = (j >= 0 && j < kLength ? signal[j] : 0.0) * window[i];
    }
    const auto& spectrum = fft.transform(frame);
    for (int k = 0; k < kBins; ++k)
      o[k * frames + t] = static_cast<float>(
          std::log(std::abs(spectrum[k]) + 1e-7));
  }
  return out;
}

Tensor kaldi_fbank(const std::vector<float>& samples, const FbankOptions& opt) {
  const int window_size = static_cast<int>(opt.sample_rate * 0.025);
  const int window_shift = static_cast<int>(opt.sample_rate * 0.010);
  int padded = 1;
  while (padded < window_size) padded *= 2;
  MMP_CHECK(static_cast<int>(samples.size()) >= window_size, "fbank: ", samples.size(),
            " samples, fewer than one ", window_size, "-sample frame");
  const int frames = 1 + (static_cast<int>(samples.size()) - window_size) / window_shift;  // snip_edges
  // The MMPareto/AST recipe removes the waveform's mean before the fbank.
  double mean = 0;
  for (float s : samples) mean += s;
  mean /= static_cast<double>(samples.size());

  // Mel filters (torchaudio.compliance.kaldi.get_mel_banks, no VTLN), over the first
  // padded/2 FFT bins (the Nyquist bin gets weight 0).
  const int fft_bins = padded / 2;
  const double nyquist = opt.sample_rate / 2, low = 20.0, high = nyquist;
  auto mel = [](double f) { return 1127.0 * std::log(1.0 + f / 700.0); };
  const double mel_low = mel(low), mel_high = mel(high);
  const double delta = (mel_high - mel_low) / (opt.mel_bins + 1);
  const double bin_width = opt.sample_rate / padded;
  std::vector<double> banks(static_cast<size_t>(opt.mel_bins) * fft_bins, 0.0);
  for (int m = 0; m < opt.mel_bins; ++m) {
    const double left = mel_low + m * delta, center = left + delta, right = center + delta;
    for (int k = 0; k < fft_bins; ++k) {
      const double f = mel(bin_width * k);
      const double up = (f - left) / (center - left), down = (right - f) / (right - center);
      banks[m * fft_bins + k] = std::max(0.0, std::min(up, down));
    }
  }
  std::vector<double> window(window_size);  // "hanning": torch.hann_window(periodic=False)
  for (int i = 0; i < window_size; ++i) window[i] = 0.5 - 0.5 * std::cos(2 * kPi * i / (window_size - 1));

  Tensor out = Tensor::empty({opt.target_frames, opt.mel_bins});
  float* o = out.data<float>();
  const float padding = static_cast<float>((0.0 - opt.norm_mean) / (2 * opt.norm_std));
  std::fill(o, o + out.numel(), padding);  // frames past the signal: zeros, normalised
  RealFft& fft = RealFft::for_size(padded);
  std::vector<double> frame(padded), power(fft_bins);
  for (int t = 0; t < std::min(frames, opt.target_frames); ++t) {
    double dc = 0;
    for (int i = 0; i < window_size; ++i) {
      frame[i] = samples[t * window_shift + i] - mean;
      dc += frame[i];
    }
    dc /= window_size;
    for (int i = 0; i < window_size; ++i) frame[i] -= dc;  // remove_dc_offset
    for (int i = window_size - 1; i > 0; --i) frame[i] -= 0.97 * frame[i - 1];  // pre-emphasis
    frame[0] -= 0.97 * frame[0];
    for (int i = 0; i < window_size; ++i) frame[i] *= window[i];
    std::fill(frame.begin() + window_size, frame.end(), 0.0);
    const auto& spectrum = fft.transform(frame);
    for (int k = 0; k < fft_bins; ++k) power[k] = std::norm(spectrum[k]);
    for (int m = 0; m < opt.mel_bins; ++m) {
      double energy = 0;
      const double* bank = banks.data() + m * fft_bins;
      for (int k = 0; k < fft_bins; ++k) energy += bank[k] * power[k];
      const double log_energy = std::log(std::max(energy, 1.1920928955078125e-07));  // float epsilon floor
      o[t * opt.mel_bins + m] = static_cast<float>((log_energy - opt.norm_mean) / (2 * opt.norm_std));
    }
  }
  return out;
}

}  // namespace mmp
