// safetensors: round trips, conversions on load, atomic writes, and clear errors.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/atomic_file.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "tests/support/cli.h"

using namespace mmp;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) {
  static const std::string dir = mmp::testing::temp_dir("safetensors");
  return (fs::path(dir) / name).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string raw_file(const std::string& header, const std::string& data) {
  const uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}

}  // namespace

TEST_CASE("safetensors round-trips every dtype with metadata", "[unit][io]") {
  const std::string path = temp_path("roundtrip.safetensors");
  Generator gen(1);
  const NamedTensors tensors{{"b.weight", randn({3, 4}, gen)},
                             {"a.f64", randn({2}, gen, DType::F64)},
                             {"labels", from_vector<int64_t>({1, -2}, {2})},
                             {"i32", from_vector<int32_t>({7}, {1})},
                             {"pixels", from_vector<uint8_t>({0, 255, 9}, {3})},
                             {"scalar", scalar_tensor(2.5)},
                             {"empty", zeros({0, 3})},
                             {"strided", transpose(randn({2, 3}, gen), 0, 1)}};
  save_safetensors(path, tensors, {{"note", "hello"}});
  const SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.tensors.size() == tensors.size());
  CHECK(f.metadata.at("note") == "hello");
  for (const auto& [name, t] : tensors) {
    INFO(name);
    const Tensor* got = f.find(name);
    REQUIRE(got != nullptr);
    CHECK(got->shape() == t.shape());
    CHECK(got->dtype() == t.dtype());
    CHECK(got->to_vector<double>() == t.to_vector<double>());
  }
  // Written atomically: no temporary file is left beside it.
  for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path()))
    CHECK(entry.path().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("F16 and BF16 are converted to F32 on load", "[unit][io]") {
  const std::string path = temp_path("half.safetensors");
  // 1.0, -2.0, 0.5 and a subnormal (2^-24) in IEEE half; 1.0 and -3.0 in bfloat16.
  const uint16_t half[] = {0x3c00, 0xc000, 0x3800, 0x0001};
  const uint16_t bf16[] = {0x3f80, 0xc040};
  const std::string header =
      R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})";
  write_bytes(path, raw_file(header, std::string(reinterpret_cast<const char*>(half), 8) +
                                         std::string(reinterpret_cast<const char*>(bf16), 4)));
  const SafetensorsFile f = load_safetensors(path);
  CHECK(f.find("h")->dtype() == DType::F32);
  CHECK(f.find("h")->to_vector<float>() == std::vector<float>{1.0f, -2.0f, 0.5f, 5.9604645e-08f});
  CHECK(f.find("b")->to_vector<float>() == std::vector<float>{1.0f, -3.0f});
}

TEST_CASE("bad safetensors files give errors naming the file and the problem", "[unit][io]") {
  const std::string path = temp_path("bad.safetensors");
  CHECK_THROWS_WITH(load_safetensors(temp_path("does-not-exist.safetensors")),
                    Contains("does-not-exist.safetensors: cannot open"));
  write_bytes(path, "abc");
  CHECK_THROWS_WITH(load_safetensors(path), Contains("bad.safetensors: not a safetensors file"));
  write_bytes(path, raw_file("{not json", ""));
  CHECK_THROWS_WITH(load_safetensors(path), Contains("malformed safetensors header"));
  write_bytes(path, std::string("\xff\xff\xff\x00\x00\x00\x00\x00", 8) + "{}");
  CHECK_THROWS_WITH(load_safetensors(path), Contains("does not fit"));
  write_bytes(path, raw_file(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0')));
  CHECK_THROWS_WITH(load_safetensors(path), Contains("tensor 'x' has data offsets [0, 16) outside the 8 data bytes"));
  write_bytes(path, raw_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')));
  CHECK_THROWS_WITH(load_safetensors(path), Contains("has 8 bytes, expected 12"));
  write_bytes(path, raw_file(R"({"x":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0')));
  CHECK_THROWS_WITH(load_safetensors(path), Contains("dtype C64"));
  // A header of the wrong JSON types, and a shape whose size overflows, are refused
  // with mmp's error before anything is allocated.
  const auto refused = [&](const std::string& header) {
    const std::string bytes = raw_file(header, std::string(8, '\0'));
    CHECK_THROWS_AS(parse_safetensors(bytes.data(), bytes.size(), "h.safetensors"), mmp::Error);
  };
  refused(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":"0-8"}})");
  refused(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})");
  refused(R"({"x":{"dtype":5,"shape":[2],"data_offsets":[0,8]}})");
  refused(R"({"x":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})");
  refused(R"({"__metadata__":[1,2]})");
  const std::string huge =
      raw_file(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})", std::string(8, '\0'));
  CHECK_THROWS_WITH(parse_safetensors(huge.data(), huge.size(), "h.safetensors"), Contains("expected more than 2^63"));
  CHECK_THROWS_WITH(save_safetensors(temp_path("no-such-dir/x.safetensors"), {{"a", zeros({1})}}),
                    Contains("cannot write"));
}

TEST_CASE("bytes from a file reach messages escaped, never raw", "[unit][io]") {
  // A header that is not UTF-8 and holds a terminal escape (ESC [2J clears the screen).
  const std::string path = temp_path("hostile.safetensors");
  write_bytes(path, raw_file("{\"ab\xff\xfe\x1b[2J\": 1", ""));
  std::string message;
  try {
    load_safetensors(path);
  } catch (const Error& e) {
    message = e.what();
  }
  INFO(message);
  CHECK_THAT(message, Contains("hostile.safetensors: malformed safetensors header"));
  CHECK(message.find('\x1b') == std::string::npos);
  CHECK(message.find('\xff') == std::string::npos);
  CHECK_THAT(message, Contains("\\xff") || Contains("<FF>"));  // ours, or the JSON parser's own escape
  // A tensor name with a control character, in valid JSON.
  write_bytes(path, raw_file("{\"a\\u0007b\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", std::string(8, '\0')));
  CHECK_THROWS_WITH(load_safetensors(path), Contains("tensor 'a\\x07b' has dtype C64"));
}

TEST_CASE("printable keeps UTF-8 and escapes control characters and broken sequences", "[unit][io]") {
  CHECK(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\nnext\tline") ==
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\nnext\tline");
  CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable("\x1b[31m") == "\\x1b[31m");
  CHECK(printable("\xc0\x80") == "\\xc0\\x80");          // overlong NUL
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  CHECK(printable("\xe2\x82") == "\\xe2\\x82");          // cut short
  CHECK(printable("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
}

TEST_CASE("temporary files of writes a kill interrupted are removed; a live writer's stay", "[unit][io]") {
  const std::string dir = mmp::testing::temp_dir("interrupted_writes");
  const std::string dead = dir + "/last.safetensors.tmp.999999999", live = dir + "/best.safetensors.tmp." +
                                                                           std::to_string(::getpid());
  write_bytes(dead, "half");
  write_bytes(live, "half");
  write_bytes(dir + "/metrics.jsonl", "{}\n");
  remove_interrupted_writes(dir);
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));
  CHECK(fs::exists(dir + "/metrics.jsonl"));
}
