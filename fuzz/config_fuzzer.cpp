// A --config file (TOML) applied to a command's options, and a run folder's config.toml
// compared with another (what --resume does). The options have the kinds mmp train's
// have: integers, unsigned, reals, text, flags, a list.
#include <CLI/CLI.hpp>

#include "fuzz/harness.h"
#include "tools/run_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path path = mmp::fuzz::scratch() / "config.toml";
  mmp::fuzz::write_bytes(path, data, size);
  CLI::App app("fuzz");
  CLI::App* train = app.add_subcommand("train", "");
  int epochs = 1;
  unsigned seed = 0;
  double lr = 0.01;
  std::string method = "mmpareto";
  bool quiet = false;
  std::vector<std::string> compare;
  train->add_option("--epochs", epochs, "")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--seed", seed, "")->capture_default_str();
  train->add_option("--lr", lr, "")->capture_default_str();
  train->add_option("--method", method, "")->capture_default_str()->check(CLI::IsMember({"uniform", "mmpareto"}));
  train->add_option("--compare", compare, "")->delimiter(',');
  train->add_flag("--quiet", quiet, "");
  mmp::fuzz::read_or_refuse([&] {
    mmp::cli::apply_config_file(*train, path.string());
    const std::string resolved = mmp::cli::resolved_config(*train, "# fuzz\n");
    mmp::cli::config_differences(std::string(reinterpret_cast<const char*>(data), size), resolved, {});
  });
  return 0;
}
