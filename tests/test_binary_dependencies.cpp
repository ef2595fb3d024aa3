// What `mmp` needs at run time: a GPU node has a C library, OpenMP's runtime and CUDA's
// libraries, nothing of FFmpeg or libjpeg (docs/gpu-check.md). The media plugin beside
// it holds FFmpeg.
#include <catch2/catch.hpp>
#include <dlfcn.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

using Catch::Matchers::Contains;

namespace {

// The shared libraries `ldd` lists for a file (their names, e.g. libc.so.6).
std::set<std::string> needed_libraries(const std::string& file) {
  std::set<std::string> names;
  FILE* pipe = popen(("ldd " + file + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char line[1024];
  while (std::fgets(line, sizeof line, pipe)) {
    std::string text(line);
    text.erase(0, text.find_first_not_of(" \t"));
    const std::string name = text.substr(0, text.find_first_of(" \t\n"));
    if (!name.empty()) names.insert(std::filesystem::path(name).filename().string());
  }
  pclose(pipe);
  return names;
}

}  // namespace

TEST_CASE("mmp links only the C and C++ runtimes, OpenMP and CUDA's libraries", "[unit][cli]") {
  const std::set<std::string> libraries = needed_libraries(MMP_BINARY);
  REQUIRE(libraries.count("libc.so.6") == 1);
  // glibc's parts (libm, and the libdl/librt/libpthread stubs cuBLAS and cuDNN ask for),
  // the C++ runtime, OpenMP (GCC's libgomp; LLVM's libomp when clang builds), and
  // cuBLAS/cuDNN (and NVRTC, which the cudnn-frontend headers link).
  // A sanitizer build (tools/test.sh --sanitize) adds the sanitizers' runtimes.
  const std::regex allowed(
      "linux-vdso\\.so\\.1|ld-linux-x86-64\\.so\\.2|lib(c|m|dl|rt|pthread)\\.so\\.[0-9]+|libstdc\\+\\+\\.so\\.6|"
      "libgcc_s\\.so\\.1|libgomp\\.so\\.1|libomp\\.so\\.5|libcublas(Lt)?\\.so\\.[0-9]+|libcudnn\\.so\\.[0-9]+|libnvrtc\\.so\\.[0-9]+"
#ifdef MMP_SANITIZED
      "|lib(asan|ubsan|tsan)\\.so\\.[0-9]+"
#endif
  );
  for (const std::string& name : libraries) {
    INFO(name);
    CHECK(std::regex_match(name, allowed));
  }
}

TEST_CASE("mmp asks for no newer glibc than 2.34 and no newer libstdc++ than GCC 11's", "[unit][cli]") {
  // RHEL/Rocky 9 have exactly these; a symbol of a later version stops mmp from starting there.
  FILE* pipe = popen((std::string("objdump -T ") + MMP_BINARY + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  const std::regex version("\\((GLIBC|GLIBCXX)_([0-9]+)\\.([0-9]+)(\\.([0-9]+))?\\)");
  int symbols = 0;
  char line[4096];
  while (std::fgets(line, sizeof line, pipe)) {
    std::cmatch m;
    if (!std::regex_search(line, m, version)) continue;
    ++symbols;
    const int major = std::stoi(m[2]), minor = std::stoi(m[3]), patch = m[5].matched ? std::stoi(m[5]) : 0;
    INFO(line);
    if (m[1] == "GLIBC") CHECK((major == 2 && minor <= 34));
    else CHECK((major == 3 && minor == 4 && patch <= 29));
  }
  pclose(pipe);
  CHECK(symbols > 100);  // objdump ran and listed the dynamic symbols
}

TEST_CASE("FFmpeg is in the media plugin beside mmp", "[unit][cli]") {
  const auto plugin = std::filesystem::path(MMP_BINARY).parent_path() / "libmmp-media.so";
  REQUIRE(std::filesystem::exists(plugin));
  const std::set<std::string> libraries = needed_libraries(plugin.string());
  bool avformat = false;
  for (const std::string& name : libraries) avformat = avformat || name.rfind("libavformat.so.", 0) == 0;
  CHECK(avformat);
}

#if defined(MMP_MPI_PLUGIN_FILE) || defined(MMP_NCCL_PLUGIN_FILE)
TEST_CASE("the MPI and NCCL plugins open with every symbol bound: nothing is left for mmp to provide", "[unit][cli]") {
  // mmp (and this test binary) link the CUDA runtime statically and export none of it, so
  // a plugin that calls the runtime without linking it fails to open on a GPU node, as
  // the NCCL plugin's cudaSetDevice once did there. RTLD_NOW binds every symbol now.
  std::vector<std::string> plugins;
#ifdef MMP_MPI_PLUGIN_FILE
  plugins.push_back(MMP_MPI_PLUGIN_FILE);
#endif
#ifdef MMP_NCCL_PLUGIN_FILE
  plugins.push_back(MMP_NCCL_PLUGIN_FILE);
#endif
  for (const std::string& path : plugins) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    const char* error = handle ? "" : dlerror();
    INFO(path << ": " << error);
    CHECK(handle != nullptr);
    if (handle) dlclose(handle);
  }
}
#endif
