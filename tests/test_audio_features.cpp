// Audio: the features against librosa and torchaudio (tests/fixtures/audio_features,
// written by tools/reference/audio_fixture.py), and decoding real files.
#include <catch2/catch.hpp>

#include "data/audio_features.h"
#include "data/media.h"
#include "engine/ops.h"
#include "tests/support/compare.h"
#include "tests/support/fixtures.h"

using namespace mmp;
using namespace mmp::testing;

TEST_CASE("OGM-GE spectrogram equals librosa's", "[unit][data]") {
  const SafetensorsFile fx = load_fixture("audio_features.safetensors");
  const Tensor spec = ogm_spectrogram(fx.find("signal_22050")->to_vector<float>());
  REQUIRE(spec.shape() == Shape{257, 188});
  // Log magnitudes: compared in absolute terms (librosa's FFT is single precision).
  CHECK(max_abs_difference(spec, *fx.find("spectrogram")) < 2e-3);
  CHECK(relative_error(spec, *fx.find("spectrogram")) < 1e-5);
}

TEST_CASE("Kaldi fbank equals torchaudio's", "[unit][data]") {
  const SafetensorsFile fx = load_fixture("audio_features.safetensors");
  const Tensor fbank = kaldi_fbank(fx.find("signal_16000")->to_vector<float>());
  REQUIRE(fbank.shape() == Shape{1024, 128});
  const int64_t rows = std::stoll(fx.metadata.at("fbank_rows"));
  CHECK(relative_error(slice(fbank, 0, 0, rows), *fx.find("fbank")) < 1e-5);
  CHECK(max_abs_difference(slice(fbank, 0, 0, rows), *fx.find("fbank")) < 1e-3);
  // Past the signal: the normalised zero padding.
  const float padding = static_cast<float>(4.503877 / (2 * 5.141276));
  int64_t other = 0;
  for (float v : slice(fbank, 0, rows, 1024).contiguous().to_vector<float>()) other += v != padding;
  CHECK(other == 0);
}
