#pragma once
// A threaded data loader: shuffles by seed, batches, and builds the batches (decoding
// and augmenting the samples) on worker threads ahead of the consumer, in order. For a
// CUDA device the batches are built in page-locked memory and an upload thread copies
// each to the device (BatchStager) as soon as it is built, while the consumer's
// previous step runs.
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/batch_stager.h"
#include "data/dataset.h"

namespace mmp {

// The CPU cores this process may run on (its affinity mask: what Slurm or taskset
// gave it), at least 1.
int available_cores();

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;  // drop a last partial batch (torch's DataLoader default: keep it)
  uint64_t seed = 0;
  int workers = -1;        // threads building batches; -1: available_cores(); 0: the caller of next() builds them
  int prefetch = 0;        // batches built ahead of the consumer; 0: one per worker, at least 2, at most 2 GiB
  Device device = Device::cpu();  // where next() delivers the batches
  // Stage batches through a BatchStager and its upload thread: always on CUDA devices;
  // on the CPU only when asked (tests run the CUDA path's logic there this way).
  bool stage = false;
  // Data parallel: every rank draws the same permutation and the same global batches of
  // batch_size samples, and takes its share of each (rank r of `ranks`: the r-th of
  // near-equal contiguous parts, the first `batch % ranks` parts one sample larger).
  int rank = 0, ranks = 1;
};

// The samples [begin, end) of a global batch of `size` that rank `rank` of `ranks` takes.
std::pair<int64_t, int64_t> rank_share(int64_t size, int rank, int ranks);

class DataLoader {
 public:
  DataLoader(const Dataset& data, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts an epoch (its own shuffle); what is left of the previous one is dropped.
  void start_epoch(int epoch);
  // The next batch of the epoch, in order, on the loader's device; false at its end. On
  // a CUDA device the batch is valid until the next call of next() or start_epoch():
  // its memory is refilled then (after the work queued with it has run).
  bool next(Batch& out);
  int64_t batches_per_epoch() const;
  int workers() const { return static_cast<int>(workers_.size()); }

 private:
  Batch build(int64_t batch_index, int epoch, const std::vector<int64_t>& order) const;
  bool current(uint64_t generation) const { return generation == generation_; }
  void work();
  void upload();

  const Dataset& data_;
  LoaderOptions options_;
  std::unique_ptr<BatchStager> stager_;  // for a CUDA device
  std::vector<std::thread> workers_;
  std::thread uploader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  int epoch_ = -1;
  uint64_t generation_ = 0;  // counts start_epoch calls: work begun before the last one is stale
  std::shared_ptr<const std::vector<int64_t>> order_;
  int64_t claimed_ = 0;    // batches a worker has started building
  int64_t built_taken_ = 0;  // built batches taken on (by the uploader, or by next() without one)
  int64_t uploaded_ = 0, consumed_ = 0;
  std::map<int64_t, Batch> ready_;     // built, on the host
  std::map<int64_t, int> staged_;      // uploaded: batch index -> stager slot
  std::string failure_;  // the error of the first batch that failed, rethrown by next() in its turn
  int64_t failed_batch_ = -1;
};

}  // namespace mmp
