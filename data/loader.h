#pragma once
// A threaded data loader: shuffles by seed, batches, and builds the batches (decoding
// and augmenting the samples) on worker threads ahead of the consumer, in order. With
// CUDA, batches land in pinned host memory for fast transfers.
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "data/dataset.h"

namespace mmp {

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;  // drop a last partial batch (torch's DataLoader default: keep it)
  uint64_t seed = 0;
  int workers = 1;         // 0: batches are built by the caller of next()
  int prefetch = 2;        // batches built ahead of the consumer
  bool pin_memory = false; // page-locked host memory (when a CUDA device is present)
};

class DataLoader {
 public:
  DataLoader(const Dataset& data, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts an epoch (its own shuffle); what is left of the previous one is dropped.
  void start_epoch(int epoch);
  // The next batch of the epoch, in order; false at its end.
  bool next(Batch& out);
  int64_t batches_per_epoch() const;

 private:
  Batch build(int64_t batch_index, int epoch, const std::vector<int64_t>& order) const;
  void work();

  const Dataset& data_;
  LoaderOptions options_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  int epoch_ = -1;
  std::vector<int64_t> order_;
  int64_t claimed_ = 0, consumed_ = 0;
  std::map<int64_t, Batch> ready_;
  std::string failure_;  // the error of the first batch that failed, rethrown by next() in its turn
  int64_t failed_batch_ = -1;
};

}  // namespace mmp
