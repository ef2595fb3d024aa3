#include "engine/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"

namespace mmp {
namespace {

using json = nlohmann::json;

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::BF16: return "BF16";
  }
  return "?";
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      uint32_t m = mantissa;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400u) == 0);
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ffu) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

const Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MMP_CHECK(in.good(), path, ": cannot open (", std::strerror(errno), ")");
  in.seekg(0, std::ios::end);
  const int64_t file_size = in.tellg();
  in.seekg(0);
  MMP_CHECK(file_size >= 0, path, ": cannot read its size");
  std::vector<char> bytes(static_cast<size_t>(file_size));
  in.read(bytes.data(), file_size);
  MMP_CHECK(in.good() || file_size == 0, path, ": read failed (", std::strerror(errno), ")");
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

SafetensorsFile parse_safetensors(const char* bytes, size_t size, const std::string& path) {
  const int64_t file_size = static_cast<int64_t>(size);
  MMP_CHECK(file_size >= 8, path, ": not a safetensors file (", file_size, " bytes, shorter than its header length)");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes, 8);
  MMP_CHECK(header_size <= static_cast<uint64_t>(file_size - 8), path, ": header of ", header_size,
            " bytes does not fit in a ", file_size, "-byte file (truncated or not safetensors)");
  json meta;
  try {
    meta = json::parse(bytes + 8, bytes + 8 + header_size);
  } catch (const json::exception& e) {
    MMP_THROW(path, ": malformed safetensors header: ", e.what());
  }
  MMP_CHECK(meta.is_object(), path, ": safetensors header is not a JSON object");
  const char* data = bytes + 8 + header_size;
  const int64_t data_size = file_size - 8 - static_cast<int64_t>(header_size);

  SafetensorsFile file;
  // Tensors in the order of their data, as written.
  struct Entry {
    int64_t begin, end;
    std::string name, dtype;
    Shape shape;
  };
  std::vector<Entry> entries;
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    const json& e = it.value();
    if (it.key() == "__metadata__") {
      MMP_CHECK(e.is_object(), path, ": __metadata__ is not a JSON object");
      for (auto m = e.begin(); m != e.end(); ++m)
        file.metadata[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
      continue;
    }
    const std::string& name = it.key();
    MMP_CHECK(e.is_object() && e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"), path,
              ": entry '", name, "' lacks dtype, shape or data_offsets");
    const json &dtype = e["dtype"], &shape = e["shape"], &offsets = e["data_offsets"];
    MMP_CHECK(dtype.is_string(), path, ": tensor '", name, "' has dtype ", dtype.dump(), ", not a string");
    MMP_CHECK(shape.is_array(), path, ": tensor '", name, "' has shape ", shape.dump(), ", not a list");
    MMP_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_integer() &&
                  offsets[1].is_number_integer(),
              path, ": tensor '", name, "' has data_offsets ", offsets.dump(), ", not two integers");
    Entry entry{offsets[0].get<int64_t>(), offsets[1].get<int64_t>(), name, dtype.get<std::string>(), {}};
    for (const auto& d : shape) {
      MMP_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, path, ": tensor '", name, "' has a bad shape ",
                shape.dump());
      entry.shape.push_back(d.get<int64_t>());
    }
    MMP_CHECK(0 <= entry.begin && entry.begin <= entry.end && entry.end <= data_size, path, ": tensor '", name,
              "' has data offsets [", entry.begin, ", ", entry.end, ") outside the ", data_size,
              " data bytes (truncated file?)");
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });

  for (const Entry& e : entries) {
    const int64_t bytes_given = e.end - e.begin;
    const char* src = data + e.begin;
    // The shape's size times the element's, checked against the bytes given before
    // anything is allocated: a shape of 10^18 elements is an error, not an allocation.
    auto expect_bytes = [&](int64_t element) {
      int64_t expected = element;
      bool overflow = false;
      for (const int64_t d : e.shape) overflow = overflow || __builtin_mul_overflow(expected, d, &expected);
      MMP_CHECK(!overflow && expected == bytes_given, path, ": tensor '", e.name, "' of shape ", shape_str(e.shape),
                " and dtype ", e.dtype, " has ", bytes_given, " bytes, expected ",
                overflow ? std::string("more than 2^63") : std::to_string(expected));
    };
    Tensor t;
    if (e.dtype == "F16" || e.dtype == "BF16") {
      expect_bytes(2);
      t = Tensor::empty(e.shape, DType::F32);
      float* out = t.data<float>();
      const int64_t count = bytes_given / 2;
      for (int64_t i = 0; i < count; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        out[i] = e.dtype == "F16" ? half_to_float(v) : bfloat16_to_float(v);
      }
    } else {
      DType dt;
      if (e.dtype == "F32") dt = DType::F32;
      else if (e.dtype == "F64") dt = DType::F64;
      else if (e.dtype == "I64") dt = DType::I64;
      else if (e.dtype == "I32") dt = DType::I32;
      else if (e.dtype == "U8") dt = DType::U8;
      else MMP_THROW(path, ": tensor '", e.name, "' has dtype ", e.dtype, ", which mmp does not read");
      expect_bytes(static_cast<int64_t>(dtype_size(dt)));
      t = Tensor::empty(e.shape, dt);
      if (bytes_given > 0) std::memcpy(t.raw_data(), src, bytes_given);
    }
    file.tensors.emplace_back(e.name, t);
  }
  return file;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  std::vector<Tensor> host;
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    MMP_CHECK(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
    MMP_CHECK(!header.contains(name), "save_safetensors: tensor name '", name, "' appears twice");
    const Tensor h = t.detach().to(Device::cpu()).contiguous();
    const int64_t bytes = h.numel() * static_cast<int64_t>(dtype_size(h.dtype()));
    header[name] = {{"dtype", safetensors_dtype(h.dtype())}, {"shape", h.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    host.push_back(h);
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned, as the reference writer does

  write_file_atomically(path, [&](std::FILE* f) {
    const uint64_t header_size = text.size();
    bool ok = std::fwrite(&header_size, 8, 1, f) == 1 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
    // The header's keys come out sorted; the data follows the order of `tensors`, and
    // each entry's offsets say where its bytes lie.
    for (const Tensor& h : host) {
      const size_t bytes = h.numel() * dtype_size(h.dtype());
      ok = ok && (bytes == 0 || std::fwrite(h.raw_data(), 1, bytes, f) == bytes);
    }
    return ok;
  });
}

}  // namespace mmp
