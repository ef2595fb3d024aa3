#include "data/loader.h"

#include <algorithm>
#include <numeric>

#include "engine/ops.h"

namespace mmp {

DataLoader::DataLoader(const Dataset& data, LoaderOptions options) : data_(data), options_(options) {
  MMP_CHECK(options_.batch_size >= 1, "loader: batch size must be positive, got ", options_.batch_size);
  MMP_CHECK(options_.workers >= 0 && options_.prefetch >= 1, "loader: bad worker or prefetch count");
  MMP_CHECK(batches_per_epoch() > 0, data.name(), ": ", data.size(), " samples make no batch of ", options_.batch_size);
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : workers_) t.join();
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
    order_ = std::move(order);
    claimed_ = consumed_ = 0;
    ready_.clear();
    failure_.clear();
    failed_batch_ = -1;
  }
  changed_.notify_all();
}

Batch DataLoader::build(int64_t batch_index, int epoch, const std::vector<int64_t>& order) const {
  const int64_t begin = batch_index * options_.batch_size;
  const int64_t end = std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(order.size()));
  const std::vector<int64_t> indices(order.begin() + begin, order.begin() + end);
  return make_batch(data_, indices, epoch, options_.pin_memory);
}

void DataLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] {
      return stopping_ || (epoch_ >= 0 && claimed_ < batches_per_epoch() && claimed_ < consumed_ + options_.prefetch);
    });
    if (stopping_) return;
    const int64_t b = claimed_++;
    const int epoch = epoch_;
    const std::vector<int64_t> order = order_;  // a copy: start_epoch may replace it meanwhile
    lock.unlock();
    Batch batch;
    std::string error;
    try {
      batch = build(b, epoch, order);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    if (epoch != epoch_) continue;  // a batch of an abandoned epoch
    if (error.empty()) {
      ready_[b] = std::move(batch);
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
    lock.unlock();
    out = build(b, epoch_, order_);
    return true;
  }
  // Batches come in order, and so does a failure: the batches before the failing one
  // are delivered (workers go on building them), as without worker threads.
  changed_.wait(lock, [&] { return ready_.count(consumed_) > 0 || (!failure_.empty() && failed_batch_ <= consumed_); });
  MMP_CHECK(ready_.count(consumed_) > 0, failure_);
  out = std::move(ready_.at(consumed_));
  ready_.erase(consumed_++);
  changed_.notify_all();
  return true;
}

}  // namespace mmp
