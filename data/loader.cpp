#include "data/loader.h"

#include <sched.h>

#include <algorithm>
#include <numeric>

#include "engine/ops.h"

// GCC 12's libstdc++ gives condition_variable::wait a new symbol version (3.4.30) that
// GCC 11's (RHEL 9, Rocky 9) lacks; the older version of the same function is in both.
// Binding to it keeps mmp running on GCC 11 runtimes (test_binary_dependencies.cpp).
__asm__(".symver _ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE,"
        "_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.11");

namespace mmp {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

DataLoader::DataLoader(const Dataset& data, LoaderOptions options) : data_(data), options_(options) {
  MMP_CHECK(options_.batch_size >= 1, "loader: batch size must be positive, got ", options_.batch_size);
  MMP_CHECK(options_.workers >= -1 && options_.prefetch >= 0, "loader: bad worker count (", options_.workers,
            ") or prefetch count (", options_.prefetch, ")");
  MMP_CHECK(options_.ranks >= 1 && options_.rank >= 0 && options_.rank < options_.ranks, "loader: rank ",
            options_.rank, " of ", options_.ranks);
  MMP_CHECK(batches_per_epoch() > 0, data.name(), ": ", data.size(), " samples make no batch of ", options_.batch_size);
  if (options_.workers < 0) options_.workers = available_cores();
  if (options_.prefetch == 0) {
    // A batch per worker, so that every core has one to build; but not more than 2 GiB
    // of batches waiting (page-locked memory for a GPU is held for the whole run).
    const double batch_bytes = 4.0 * static_cast<double>(options_.batch_size) *
                               static_cast<double>(numel(data.audio_shape()) + numel(data.visual_shape()));
    const int fitting = static_cast<int>(std::min(1e6, 2.0 * (1 << 30) / std::max(batch_bytes, 1.0)));
    options_.prefetch = std::max(2, std::min(options_.workers, fitting));
  }
  if (options_.device.is_cuda() || options_.stage) stager_ = std::make_unique<BatchStager>(options_.device);
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
  if (stager_ && options_.workers > 0) uploader_ = std::thread([this] { upload(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : workers_) t.join();
  if (uploader_.joinable()) uploader_.join();
}

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = data_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::start_epoch(int epoch) {
  std::vector<int64_t> order(data_.size());
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) {
    // A permutation per (seed, epoch): sort by Philox keys.
    Generator gen(options_.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    const std::vector<double> keys = rand({data_.size()}, gen, DType::F64).to_vector<double>();
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    epoch_ = epoch;
    ++generation_;
    order_ = std::make_shared<const std::vector<int64_t>>(std::move(order));
    claimed_ = built_taken_ = uploaded_ = consumed_ = 0;
    ready_.clear();
    staged_.clear();
    failure_.clear();
    failed_batch_ = -1;
    if (stager_) stager_->reset();  // waits for an upload of the old epoch in flight
  }
  changed_.notify_all();
}

std::pair<int64_t, int64_t> rank_share(int64_t size, int rank, int ranks) {
  const int64_t base = size / ranks, extra = size % ranks;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

Batch DataLoader::build(int64_t batch_index, int epoch, const std::vector<int64_t>& order) const {
  const int64_t global_begin = batch_index * options_.batch_size;
  const int64_t global_end = std::min<int64_t>(global_begin + options_.batch_size, static_cast<int64_t>(order.size()));
  const auto [from, to] = rank_share(global_end - global_begin, options_.rank, options_.ranks);
  const int64_t begin = global_begin + from, end = global_begin + to;
  const std::vector<int64_t> indices(order.begin() + begin, order.begin() + end);
  return make_batch(data_, indices, epoch, options_.device);
}

void DataLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] {
      return stopping_ ||
             (epoch_ >= 0 && claimed_ < batches_per_epoch() && claimed_ < built_taken_ + options_.prefetch);
    });
    if (stopping_) return;
    const int64_t b = claimed_++;
    const int epoch = epoch_;
    const uint64_t generation = generation_;
    const auto order = order_;  // kept: start_epoch may replace it meanwhile
    lock.unlock();
    Batch batch;
    std::string error;
    try {
      batch = build(b, epoch, *order);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    if (!current(generation)) continue;  // a batch of an abandoned epoch
    if (error.empty()) {
      ready_[b] = std::move(batch);
    } else if (failure_.empty() || b < failed_batch_) {
      failure_ = error;
      failed_batch_ = b;
    }
    changed_.notify_all();
  }
}

void DataLoader::upload() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // One batch uploaded ahead of the one in use: the stager has two slots.
    changed_.wait(lock, [&] {
      return stopping_ || (epoch_ >= 0 && uploaded_ <= consumed_ && ready_.count(uploaded_) > 0);
    });
    if (stopping_) return;
    const int64_t b = uploaded_++;
    const uint64_t generation = generation_;
    Batch host = std::move(ready_.at(b));
    ready_.erase(b);
    ++built_taken_;
    changed_.notify_all();  // a worker may build the next one
    lock.unlock();
    int slot = -1;
    std::string error;
    try {
      slot = stager_->upload(std::move(host));
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    if (!current(generation)) continue;  // start_epoch reset the stager meanwhile
    if (error.empty()) {
      staged_[b] = slot;
    } else if (failure_.empty() || b < failed_batch_) {
      failure_ = error;
      failed_batch_ = b;
    }
    changed_.notify_all();
  }
}

bool DataLoader::next(Batch& out) {
  std::unique_lock<std::mutex> lock(mutex_);
  MMP_CHECK(epoch_ >= 0, "loader: next() before start_epoch()");
  if (consumed_ >= batches_per_epoch()) return false;
  if (workers_.empty()) {
    const int64_t b = consumed_++;
    ++built_taken_;
    Batch host = build(b, epoch_, *order_);
    out = stager_ ? stager_->take(stager_->upload(std::move(host))) : std::move(host);
    return true;
  }
  // Batches come in order, and so does a failure: the batches before the failing one
  // are delivered (workers go on building them), as without worker threads.
  const auto available = [&] { return stager_ ? staged_.count(consumed_) > 0 : ready_.count(consumed_) > 0; };
  changed_.wait(lock, [&] { return available() || (!failure_.empty() && failed_batch_ <= consumed_); });
  MMP_CHECK(available(), failure_);
  if (stager_) {
    // Taken under the lock: the uploader refills the previous batch's slot only after
    // take() has marked that batch done with on the compute queue.
    out = stager_->take(staged_.at(consumed_));
    staged_.erase(consumed_);
  } else {
    out = std::move(ready_.at(consumed_));
    ready_.erase(consumed_);
    ++built_taken_;
  }
  ++consumed_;
  changed_.notify_all();
  return true;
}

}  // namespace mmp
