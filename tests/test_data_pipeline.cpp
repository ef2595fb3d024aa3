// The data path end to end on real media files the project writes itself: synth ->
// decode -> prepare -> cache -> loader -> a training epoch; and bad files.
#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "data/cache.h"
#include "data/cache_record.h"
#include "data/loader.h"
#include "data/media.h"
#include "data/synth.h"
#include "engine/ops.h"
#include "mmpareto/trainer.h"
#include "tests/support/cli.h"
#include "tests/support/compare.h"
#include "tests/support/fixtures.h"
#include "tests/support/forwarding_dataset.h"

using namespace mmp;
using namespace mmp::testing;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// A synthesized CREMA-D-layout dataset, made once per test run.
const std::string& synth_dir() {
  static const std::string dir = [] {
    const std::string d = temp_dir("synth_dataset");
    SynthOptions o;
    o.clips_per_class = 2;
    synthesize_dataset(d, o);
    return d;
  }();
  return dir;
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A dataset whose sample `bad` cannot be read.
class FailingSample : public ForwardingDataset {
 public:
  FailingSample(const Dataset& data, int64_t bad) : ForwardingDataset(data), bad_(bad) {}
  int64_t load(int64_t index, int epoch, float* audio, float* visual) const override {
    MMP_CHECK(index != bad_, "sample ", index, " is unreadable");
    return ForwardingDataset::load(index, epoch, audio, visual);
  }

 private:
  int64_t bad_;
};

PrepareOptions quiet_prepare() {
  PrepareOptions o;
  o.progress = false;
  return o;
}

}  // namespace

TEST_CASE("decoding the synthesized WAV and FLV files", "[unit][data]") {
  const auto wavs = files_in(fs::path(synth_dir()) / "AudioWAV");
  REQUIRE(wavs.size() == 12);
  const std::vector<float> audio = decode_audio(wavs[0], 16000);
  CHECK(audio.size() > 16000);  // clips last at least 1.6 s
  float peak = 0;
  for (float v : audio) peak = std::max(peak, std::fabs(v));
  CHECK(peak > 0.1f);
  CHECK(peak <= 1.0f);
  const std::vector<float> resampled = decode_audio(wavs[0], 22050);
  CHECK(std::fabs(static_cast<double>(resampled.size()) / audio.size() - 22050.0 / 16000.0) < 0.01);

  const auto videos = files_in(fs::path(synth_dir()) / "VideoFlash");
  const std::vector<Image> frames = decode_video_frames(videos[0], 1.0);
  REQUIRE(frames.size() >= 2);
  CHECK(frames[0].width == 160);
  CHECK(frames[0].height == 120);
  // The decoded first frame looks like the extracted JPEG of the same instant.
  const std::string name = fs::path(videos[0]).stem().string();
  const Image jpeg = load_image((fs::path(synth_dir()) / "Image-01-FPS" / name / "frame_00001.jpg").string());
  double diff = 0;
  for (size_t i = 0; i < jpeg.rgb.size(); ++i) diff += std::abs(int(jpeg.rgb[i]) - int(frames[0].rgb[i]));
  CHECK(diff / jpeg.rgb.size() < 15.0);  // two lossy codecs of the same picture
  // One frame per second of video, as the extracted frame folders hold (ffmpeg -vf fps=1).
  for (const std::string& video : videos) {
    const std::string clip = fs::path(video).stem().string();
    INFO(clip);
    CHECK(decode_video_frames(video, 1.0).size() == files_in(fs::path(synth_dir()) / "Image-01-FPS" / clip).size());
  }
  // A video cut short is an error, not fewer frames.
  const std::string cut = temp_dir("cut_video") + "/cut.flv";
  fs::copy_file(videos[0], cut);
  fs::resize_file(cut, fs::file_size(cut) * 2 / 3);
  CHECK_THROWS_WITH(decode_video_frames(cut, 1.0), Contains(cut) && (Contains("truncated") || Contains("corrupt")));
}

TEST_CASE("a 6-pixel-wide video frame converts to RGB inside its buffer", "[unit][data]") {
  // Found by the media fuzzer: libswscale's vector code writes up to 45 bytes past the
  // last row of a narrow image, which corrupted the heap behind an RGB buffer of the
  // exact size (seen under valgrind; ASan does not see FFmpeg's writes). The decoder
  // leaves room for it, and fails if a conversion reaches the marked end of that room;
  // this file's second frame is 6x24 between frames of 32x24.
  const std::vector<Image> frames = decode_video_frames(fixture_path("media/frame_6x24.flv"), 1.0);
  REQUIRE_FALSE(frames.empty());
  for (const Image& frame : frames) {
    CHECK(frame.rgb.size() == static_cast<size_t>(frame.width) * frame.height * 3);
    CHECK((frame.width == 32 || frame.width == 6));
  }
}

TEST_CASE("a video frame announcing more pixels than mmp decodes is refused before it is allocated",
          "[unit][data]") {
  // Found by the media fuzzer: 6.5 KB of FLV whose seventh frame header says 8216x25093.
  // Decoding it allocated 600 MB and took 1.8 s; the decoder now refuses the frame.
  const std::string video = fixture_path("media/frame_8216x25093.flv");
  CHECK_THROWS_WITH(decode_video_frames(video, 1.0),
                    Contains(video) && Contains("larger than " + std::to_string(kMaxImagePixels) + " pixels"));
}

TEST_CASE("a WAV whose header announces a 740 MB tag is read without allocating it", "[unit][data]") {
  // Found by the media fuzzer: 80 bytes of WAV whose LIST chunk claims 1.7 GB, inside which
  // an INFO subchunk claims 740 MB. FFmpeg 5.1 checks the subchunk against the LIST's claim
  // only, and allocated (and zeroed) 740 MB for it. No block FFmpeg allocates may exceed
  // kMaxFFmpegBlock now: the tag cannot be read, and the process's peak memory stays put.
  // (CTest runs each test case in a process of its own, so the peak is this test's.)
  auto peak_mib = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024;  // KiB on Linux
  };
  const long before = peak_mib();
  const std::string wav = fixture_path("media/wav_info_740mb.wav");
  try {
    (void)decode_audio(wav, 16000);
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Contains(wav));  // a refusal names the file
  }
  CAPTURE(before);
  CHECK(peak_mib() - before < 200);
}

TEST_CASE("prepare a cache and load it: shapes, labels, determinism", "[unit][threads][data]") {
  for (const char* visual : {"video", "frames"}) {
    DYNAMIC_SECTION(visual) {
      const std::string cache = temp_dir(std::string("cache_") + visual);
      const DatasetIndex index = index_dataset("cremad", synth_dir(), visual);
      CHECK(index.train.size() + index.test.size() == 12);
      const PrepareReport r = prepare_cache(index, cache, quiet_prepare());
      CHECK(r.prepared == 12);
      CHECK(r.skipped.empty());
      CHECK(prepare_cache(index, cache, quiet_prepare()).already_complete);

      CacheReadOptions read;
      const CacheDataset train(cache, read);
      read.split = "test";
      read.augment = false;
      const CacheDataset test(cache, read);
      CHECK(train.size() == static_cast<int64_t>(index.train.size()));
      CHECK(test.size() == static_cast<int64_t>(index.test.size()));
      CHECK(train.classes() == 6);
      CHECK(train.audio_shape() == Shape{1, 257, 188});
      CHECK(train.visual_shape() == Shape{2, 3, 224, 224});
      const Batch a = make_batch(train, {0, 1, 2}, 0), b = make_batch(train, {0, 1, 2}, 0);
      CHECK(a.audio.to_vector<float>() == b.audio.to_vector<float>());
      CHECK(a.visual.to_vector<float>() == b.visual.to_vector<float>());  // same epoch: same augmentation
      CHECK(make_batch(train, {0, 1, 2}, 1).visual.to_vector<float>() != a.visual.to_vector<float>());
      for (int64_t i = 0; i < 3; ++i) CHECK(a.label.to_vector<int64_t>()[i] == index.train[i].label);
      // Evaluation frames do not depend on the epoch.
      CHECK(make_batch(test, {0}, 0).visual.to_vector<float>() == make_batch(test, {0}, 5).visual.to_vector<float>());
    }
  }
}

TEST_CASE("split files with a byte-order mark, CRLF endings, tabs and quotes read as plain ones", "[unit][data]") {
  const std::string root = temp_dir("quirky_csv");
  fs::copy(synth_dir(), root, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const DatasetIndex plain = index_dataset("cremad", synth_dir(), "frames");
  std::ifstream in(fs::path(synth_dir()) / "train.csv");
  std::ostringstream quirky;
  quirky << "\xEF\xBB\xBFname,label\r\n";
  std::string clip, label;
  while (std::getline(std::getline(in, clip, ','), label)) quirky << "\"" << clip << "\",\t" << label << " \r\n";
  std::ofstream(fs::path(root) / "train.csv", std::ios::trunc) << quirky.str();
  const DatasetIndex read = index_dataset("cremad", root, "frames");
  REQUIRE(read.train.size() == plain.train.size());
  for (size_t i = 0; i < read.train.size(); ++i) {
    CHECK(read.train[i].name == plain.train[i].name);
    CHECK(read.train[i].label == plain.train[i].label);
  }
}

TEST_CASE("the threaded loader gives the batches of the synchronous one", "[unit][threads][data]") {
  const std::string cache = temp_dir("cache_loader");
  prepare_cache(index_dataset("cremad", synth_dir()), cache, quiet_prepare());
  const CacheDataset data(cache, CacheReadOptions{});
  auto epoch_batches = [&](int workers) {
    LoaderOptions o;
    o.batch_size = 3;
    o.workers = workers;
    o.seed = 4;
    DataLoader loader(data, o);
    std::vector<Batch> out;
    loader.start_epoch(1);
    for (Batch b; loader.next(b);) out.push_back(b);
    return out;
  };
  const auto sync = epoch_batches(0), threaded = epoch_batches(2);
  REQUIRE(sync.size() == static_cast<size_t>((data.size() + 2) / 3));  // a last partial batch included
  REQUIRE(threaded.size() == sync.size());
  for (size_t i = 0; i < sync.size(); ++i) {
    CHECK(sync[i].label.to_vector<int64_t>() == threaded[i].label.to_vector<int64_t>());
    CHECK(sync[i].visual.to_vector<float>() == threaded[i].visual.to_vector<float>());
  }
}

TEST_CASE("batches staged through device slots, as for CUDA, equal the loader's own", "[unit][threads][data]") {
  // The upload thread, the two slots and their events run on the CPU when asked
  // (LoaderOptions::stage): the CUDA path's logic with memcpy for the copies.
  const std::string cache = temp_dir("cache_staged");
  prepare_cache(index_dataset("cremad", synth_dir()), cache, quiet_prepare());
  const CacheDataset data(cache, CacheReadOptions{});
  auto run = [&](bool stage, int workers) {
    LoaderOptions o;
    o.batch_size = 5;  // 6 training samples: a full batch and a partial one
    o.workers = workers;
    o.seed = 2;
    o.stage = stage;
    DataLoader loader(data, o);
    std::vector<std::vector<float>> seen;  // read at delivery: a staged batch lives until the next one
    auto take = [&](int epoch, int count) {
      loader.start_epoch(epoch);
      Batch b;
      for (int i = 0; (count < 0 || i < count) && loader.next(b); ++i) {
        std::vector<float> values = b.visual.to_vector<float>();
        const auto audio = b.audio.to_vector<float>();
        values.insert(values.end(), audio.begin(), audio.end());
        for (int64_t y : b.label.to_vector<int64_t>()) values.push_back(static_cast<float>(y));
        seen.push_back(std::move(values));
      }
    };
    take(0, -1);
    take(1, 1);  // abandoned after one batch: its uploads in flight are dropped
    take(2, -1);
    take(3, -1);
    return seen;
  };
  const auto plain = run(false, 0);
  REQUIRE(plain.size() == 2 + 1 + 2 + 2);
  CHECK(plain[0].size() > plain[1].size());  // the partial batch is smaller
  for (int workers : {0, 1, 3}) {
    INFO(workers << " workers");
    CHECK(run(true, workers) == plain);
  }
}

TEST_CASE("a cache copied to another folder is the same data: a run on it resumes", "[unit][data]") {
  const std::string dir = temp_dir("cache_copied");
  prepare_cache(index_dataset("cremad", synth_dir()), dir + "/a", quiet_prepare());
  fs::copy(dir + "/a", dir + "/b", fs::copy_options::recursive);
  CacheReadOptions test_split;
  test_split.split = "test";
  test_split.augment = false;
  const CacheDataset train_a(dir + "/a", CacheReadOptions{}), train_b(dir + "/b", CacheReadOptions{}),
      test_a(dir + "/a", test_split), test_b(dir + "/b", test_split);
  CHECK(train_a.name() != train_b.name());
  CHECK(train_a.identity() == train_b.identity());
  CHECK(train_a.identity() != test_a.identity());
  CacheReadOptions three_frames;
  three_frames.frames = 3;
  CHECK(CacheDataset(dir + "/a", three_frames).identity() != train_a.identity());

  TrainOptions o;
  o.method = "uniform";
  o.epochs = 1;
  o.batch_size = 3;
  o.out_dir = dir + "/runs";
  o.progress = false;
  AVClassifierConfig config;
  config.width = 2;
  config.classes = train_a.classes();
  Generator gen(0);
  AVClassifier model(config, gen);
  const TrainResult first = train(model, train_a, test_a, o);
  o.resume = true;  // the finished run, found on the copy: nothing left to train, no refusal
  const TrainResult again = train(model, train_b, test_b, o);
  CHECK(again.steps == first.steps);
  CHECK(again.epochs.size() == 1);
}

TEST_CASE("the batch stager hands over each batch in its slot, a partial one as a view", "[unit][threads][data]") {
  BatchStager stager(Device::cpu());
  auto batch = [](int64_t b, float value) {
    return Batch{full({b, 1, 2, 3}, value), full({b, 1, 3, 4, 4}, value + 1), full({b}, value, DType::I64)};
  };
  const int s0 = stager.upload(batch(4, 1));
  const Batch first = stager.take(s0);
  const int s1 = stager.upload(batch(4, 2));
  CHECK(s1 != s0);
  CHECK_THROWS_WITH(stager.upload(batch(4, 9)), Contains("slot in use"));  // batch 1 not taken yet
  const Batch second = stager.take(s1);
  CHECK(first.audio.to_vector<float>() == std::vector<float>(24, 1.0f));
  CHECK(second.visual.to_vector<float>() == std::vector<float>(4 * 48, 3.0f));
  const int s2 = stager.upload(batch(3, 5));  // into the first slot, a partial batch
  CHECK(s2 == s0);
  const Batch third = stager.take(s2);
  CHECK(third.audio.shape() == Shape{3, 1, 2, 3});
  CHECK(third.audio.storage() == first.audio.storage());  // the slot's memory, reused
  CHECK(third.label.to_vector<int64_t>() == std::vector<int64_t>{5, 5, 5});
  stager.reset();
  CHECK(stager.take(stager.upload(batch(2, 7))).visual.to_vector<float>() == std::vector<float>(2 * 48, 8.0f));
}

TEST_CASE("a sample that fails: the loader gives the batches before it, then its error", "[unit][threads][data]") {
  const std::string cache = temp_dir("cache_loader_failure");
  prepare_cache(index_dataset("cremad", synth_dir()), cache, quiet_prepare());
  const CacheDataset data(cache, CacheReadOptions{});
  // Batches of one sample; with workers, four built ahead, and time to build them before
  // the first is asked for, so that the failing third one is ready before the first two
  // are taken. Returns how many batches came before next() threw.
  auto batches_before_failure = [&](int64_t bad, int workers, bool stage) {
    const FailingSample failing(data, bad);
    LoaderOptions o;
    o.batch_size = 1;
    o.workers = workers;
    o.prefetch = 4;
    o.stage = stage;
    DataLoader loader(failing, o);
    loader.start_epoch(0);
    if (workers > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    int delivered = 0;
    try {
      for (Batch b; loader.next(b);) ++delivered;
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Contains("sample " + std::to_string(bad) + " is unreadable"));
      return delivered;
    }
    FAIL("no error from the loader");
    return -1;
  };
  int64_t third = -1;  // the sample the shuffled order puts third
  for (int64_t i = 0; i < data.size() && third < 0; ++i)
    if (batches_before_failure(i, 0, false) == 2) third = i;
  REQUIRE(third >= 0);
  CHECK(batches_before_failure(third, 2, false) == 2);
  CHECK(batches_before_failure(third, 2, true) == 2);  // through the upload thread, as on CUDA
}

TEST_CASE("bad media files give clear errors; prepare skips or stops and resumes", "[unit][data]") {
  const std::string root = temp_dir("bad_dataset");
  fs::copy(synth_dir(), root, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const auto wavs = files_in(fs::path(root) / "AudioWAV");
  // Truncated to a third, garbage, empty, missing.
  fs::resize_file(wavs[1], fs::file_size(wavs[1]) / 3);
  std::ofstream(wavs[2], std::ios::trunc) << "this is not a wav file at all, just text pretending to be one";
  std::ofstream(wavs[3], std::ios::trunc).close();
  fs::remove(wavs[4]);
  CHECK_THROWS_WITH(decode_audio(wavs[1], 16000), Contains(wavs[1]) && Contains("truncated"));
  CHECK_THROWS_WITH(decode_audio(wavs[3], 16000), Contains(wavs[3]) && Contains("empty file"));
  CHECK_THROWS_WITH(decode_audio(wavs[4], 16000), Contains(wavs[4]) && Contains("no such file"));
  CHECK_THROWS_WITH(decode_audio(wavs[2], 16000), Contains(wavs[2]));
  CHECK_THROWS_WITH(load_image(wavs[0]), Contains("cannot decode the image"));
  // A truncated JPEG frame fails (libjpeg would fill the rest with grey), naming the file.
  const auto frames = files_in(fs::path(root) / "Image-01-FPS" / fs::path(wavs[0]).stem());
  fs::resize_file(frames[0], fs::file_size(frames[0]) / 2);
  CHECK_THROWS_WITH(load_image(frames[0]), Contains(frames[0]) && Contains("cannot decode the image"));
  std::ofstream(frames[1], std::ios::trunc).close();
  CHECK_THROWS_WITH(load_image(frames[1]), Contains(frames[1]) && Contains("empty file"));
  CHECK_THROWS_WITH(load_image(frames[1] + ".missing.jpg"), Contains("no such file"));
  CHECK_THROWS_WITH(load_image(root), Contains(root) && Contains("not a file"));
  CHECK_THROWS_WITH(decode_audio(root, 16000), Contains(root) && Contains("not a file"));

  // Fail: stops at a bad sample, writes no cache, keeps what it finished.
  const std::string cache = temp_dir("bad_cache");
  const DatasetIndex index = index_dataset("cremad", root, "video");
  PrepareOptions o = quiet_prepare();
  o.workers = 1;
  CHECK_THROWS_WITH(prepare_cache(index, cache, o), Contains("sample") && Contains("a rerun resumes"));
  CHECK_FALSE(fs::exists(fs::path(cache) / "manifest.json"));
  // Records are kept by position: resuming with another sample list is refused.
  DatasetIndex reordered = index;
  std::reverse(reordered.train.begin(), reordered.train.end());
  CHECK_THROWS_WITH(prepare_cache(reordered, cache, o), Contains("other options or samples"));
  // Skip: resumes the finished samples and leaves out the bad ones, saying why.
  o.skip_bad_samples = true;
  const PrepareReport r = prepare_cache(index, cache, o);
  CHECK(r.resumed >= 1);
  CHECK(r.skipped.size() >= 4);
  for (const auto& [name, reason] : r.skipped) CHECK_FALSE(reason.empty());
  // The cache holds exactly the training samples that were not skipped.
  int64_t skipped_train = 0;
  for (const auto& [name, reason] : r.skipped)
    for (const auto& s : index.train) skipped_train += s.name == name;
  const CacheDataset data(cache, CacheReadOptions{});
  CHECK(data.size() == static_cast<int64_t>(index.train.size()) - skipped_train);
  CHECK_THROWS_WITH(CacheDataset(temp_dir("not_a_cache"), CacheReadOptions{}), Contains("not a prepared cache"));
  CHECK(prepare_cache(index, cache, o).already_complete);
  CHECK_THROWS_WITH(prepare_cache(reordered, cache, o), Contains("other options or samples"));
  // A cache whose frames were cut short is refused when opened, not an epoch later.
  const std::string cut = temp_dir("cut_cache");
  fs::copy(cache, cut, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  fs::resize_file(fs::path(cut) / "frames.bin", fs::file_size(fs::path(cut) / "frames.bin") / 2);
  CHECK_THROWS_WITH(CacheDataset(cut, CacheReadOptions{}), Contains("frames.bin") && Contains("truncated"));
}

TEST_CASE("a damaged manifest or record is refused when read: the error names the damage", "[unit][data]") {
  namespace fs = std::filesystem;
  using json = nlohmann::json;
  const std::string cache = temp_dir("damaged_cache");
  prepare_cache(index_dataset("cremad", synth_dir()), cache, quiet_prepare());
  const std::string original = read_text(cache + "/manifest.json");
  // Each damage is found when the cache is opened, not by a loader thread an epoch later.
  const auto opened_with = [&](const std::function<void(json&)>& damage) {
    json manifest = json::parse(original);
    damage(manifest);
    std::ofstream(cache + "/manifest.json") << manifest.dump();
    try {
      CacheDataset{cache, CacheReadOptions{}};
    } catch (const mmp::Error& e) {
      return std::string(e.what());
    }
    return std::string("opened");
  };
  CHECK_THAT(opened_with([](json& m) { m["samples"][0]["label"] = 99; }), Contains("sample 0: label 99 is not one of the 6"));
  CHECK_THAT(opened_with([](json& m) { m["samples"][1]["frames"][0] = "x"; }),
             Contains("sample 1: a frame is not [offset, bytes, width, height]"));
  CHECK_THAT(opened_with([](json& m) { m["samples"][0]["frames"][0][2] = -3; }), Contains("a frame of -3x"));
  CHECK_THAT(opened_with([](json& m) { m["splits"]["train"][0] = 100000; }), Contains("names sample 100000"));
  CHECK_THAT(opened_with([](json& m) { m["audio"]["shape"] = {257}; }), Contains("is not two sizes"));
  CHECK_THAT(opened_with([](json& m) { m = json::array(); }), Contains("not the manifest of an mmp cache"));
  CHECK(opened_with([](json&) {}) == "opened");

  // A record's counts are checked against its bytes before anything is allocated.
  Record record;
  record.label = 3;
  record.audio = {1.f, 2.f, 3.f};
  record.frames.push_back({2, 1, {9, 8, 7, 6, 5, 4}});
  const std::string bytes = serialize(record);
  const Record back = deserialize(bytes, "r.rec");
  CHECK((back.label == 3 && back.audio == record.audio && back.frames[0].bytes == record.frames[0].bytes));
  std::string huge = bytes;
  const int64_t count = int64_t{1} << 40;
  std::memcpy(huge.data() + 12, &count, 8);  // the audio count, after the magic and the label
  CHECK_THROWS_WITH(deserialize(huge, "r.rec"), Contains("r.rec: audio value count 1099511627776 does not fit"));
  CHECK_THROWS_WITH(deserialize(bytes.substr(0, bytes.size() - 1), "r.rec"), Contains("does not fit in the record"));
  CHECK_THROWS_WITH(deserialize(bytes.substr(0, 10), "r.rec"), Contains("truncated record"));
  CHECK_THROWS_WITH(deserialize(bytes + "x", "r.rec"), Contains("1 bytes after the record's end"));
}

TEST_CASE("mmp synth, prepare, features and train on the cache from the command line", "[unit][cli]") {
  const std::string dir = temp_dir("cli_data");
  CommandResult r = run_mmp("synth --out " + dir + "/raw --clips-per-class 2");
  REQUIRE(r.exit_code == 0);
  r = run_mmp("prepare --root " + dir + "/raw --out " + dir + "/cache --no-progress");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("12 prepared now"));
  r = run_mmp("features --kind fbank " + dir + "/raw/AudioWAV/1001_DFA_NEU_XX.wav --out " + dir + "/f.safetensors");
  REQUIRE(r.exit_code == 0);
  CHECK(load_safetensors(dir + "/f.safetensors").find("feature")->shape() == Shape{1024, 128});
  // Training from a cache needs no FFmpeg: here the media plugin cannot be found.
  const std::string no_plugin = "MMP_MEDIA_LIBRARY=" + dir + "/absent/libmmp-media.so";
  r = run_mmp("train --data " + dir + "/cache --method uniform --epochs 1 --width 2 --batch 4 --quiet --out ''",
              no_plugin);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("uniform    |"));
  // The commands that decode say what is missing and what to do.
  for (const std::string& decoding : {"synth --out " + dir + "/raw2",
                                      "features " + dir + "/raw/AudioWAV/1001_DFA_NEU_XX.wav --out " + dir + "/f2"}) {
    r = run_mmp(decoding, no_plugin);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("cannot load " + dir + "/absent/libmmp-media.so") && Contains("FFmpeg") &&
                             Contains("training from a cache needs neither"));
  }
  r = run_mmp("prepare --root " + dir + "/missing --out " + dir + "/c2");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("no such dataset folder"));
}

TEST_CASE("split lists cannot name files outside the dataset; a symlink loop is reported", "[unit][data]") {
  namespace fs = std::filesystem;
  const std::string dir = temp_dir("dataset_paths");
  const CommandResult synth = run_mmp("synth --out " + dir + "/raw --clips-per-class 2");
  REQUIRE(synth.exit_code == 0);
  const std::string csv = dir + "/raw/train.csv";
  const std::string original = read_text(csv);
  for (const char* clip : {"../../etc/passwd", "/etc/passwd", "a/../../b"}) {
    INFO(clip);
    std::ofstream(csv) << original << clip << ",NEU\n";
    const CommandResult r = run_mmp("prepare --root " + dir + "/raw --out " + dir + "/cache --no-progress");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("train.csv:7: clip '" + std::string(clip) + "' is not a name inside the dataset"));
  }
  std::ofstream(csv) << original;
  // A frame folder that is a link to itself: an error naming it, not an endless walk.
  const fs::path frames = fs::path(dir) / "raw" / "Image-01-FPS";
  const std::string first = fs::directory_iterator(frames)->path().filename().string();
  fs::remove_all(frames / first);
  fs::create_directory_symlink(first, frames / first);
  const CommandResult loop = run_mmp("prepare --root " + dir + "/raw --out " + dir + "/cache --no-progress");
  INFO(loop.output);
  CHECK(loop.exit_code == 1);
  CHECK_THAT(loop.output, Contains(first) && Contains("Too many levels of symbolic links"));
}
