#include "engine/distributed.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "engine/autograd.h"
#include "engine/mpi_plugin_abi.h"
#include "engine/nccl_plugin_abi.h"
#include "engine/ops.h"
#include "engine/plugin.h"

#ifdef MMP_HAVE_CUDA
#include "engine/cuda/nccl_reduction.h"
#include "engine/cuda/runtime.h"
#endif

namespace mmp {
namespace {

int environment_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* name : names)
    if (const char* v = std::getenv(name); v && *v) return std::atoi(v);
  return fallback;
}

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "1 process"; }
  void all_reduce_sum(const Tensor&) override {}
  std::vector<uint64_t> all_gather(uint64_t value) override { return {value}; }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "mmp: error: %s\n", message.c_str());
    std::exit(1);
  }
};

void check_dense_float(const Tensor& t) {
  MMP_CHECK(t.is_contiguous() && (t.dtype() == DType::F32 || t.dtype() == DType::F64),
            "all-reduce: needs a dense f32 or f64 tensor, got ", t.str());
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(int launched_ranks) {
    const std::string path = plugin_path("libmmp-mpi.so", "MMP_MPI_LIBRARY");
    std::string error;
    mpi_ = static_cast<const MmpMpiPlugin*>(open_plugin(path, MMP_MPI_PLUGIN_ENTRY, error));
    MMP_CHECK(mpi_ != nullptr, "this process was launched as one of ", launched_ranks,
              " ranks (mpirun or srun), but ", path, " cannot be loaded (", error,
              "): install the MPI mmp was built with (Debian: libopenmpi3) or name the plugin in MMP_MPI_LIBRARY; "
              "a single process needs no MPI");
    MMP_CHECK(mpi_->abi == MMP_MPI_PLUGIN_ABI, path, " is an MPI plugin of another mmp");
    char version[256] = {};
    call(mpi_->init(&rank_, &size_, version, sizeof version, error_, sizeof error_));
    version_ = version;
    // An MPI that does not see the launcher's ranks (another MPI's mpirun, srun without
    // PMI) would make each process a job of its own, all writing the same files.
    MMP_CHECK(size_ == launched_ranks, "the launcher started ", launched_ranks, " ranks, but MPI (", version_,
              ") sees ", size_, ": launch with the mpirun of the MPI mmp was built with (or srun --mpi=pmix)");
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  bool data_parallel() const override { return true; }
  std::string describe() const override {
    std::string text = str(size_, size_ == 1 ? " rank, " : " ranks, ", version_);
    if (nccl_) text += str(", NCCL ", nccl_version_ / 10000, ".", nccl_version_ / 100 % 100, ".", nccl_version_ % 100);
    return text;
  }

  void all_reduce_sum(const Tensor& t) override {
    check_dense_float(t);
    if (t.numel() == 0) return;
#ifdef MMP_HAVE_CUDA
    if (t.device().is_cuda() && use_nccl(t.device().index)) return nccl_reduction_->all_reduce_sum(t);
#endif
    all_reduce_through_host(t);
  }

  void all_reduce_sum_async(const Tensor& t) override {
    check_dense_float(t);
    if (t.numel() == 0) return;
#ifdef MMP_HAVE_CUDA
    if (t.device().is_cuda() && use_nccl(t.device().index)) return nccl_reduction_->all_reduce_sum_async(t);
#endif
    all_reduce_through_host(t);
  }

  void finish_reductions() override {
#ifdef MMP_HAVE_CUDA
    if (nccl_reduction_) nccl_reduction_->finish();
#endif
  }

  std::vector<uint64_t> all_gather(uint64_t value) override {
    std::vector<uint64_t> out(static_cast<size_t>(size_));
    call(mpi_->all_gather_u64(value, out.data(), error_, sizeof error_));
    return out;
  }

  void barrier() override { call(mpi_->barrier(error_, sizeof error_)); }

  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "mmp: error on rank %d of %d: %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    mpi_->abort(1);
    std::exit(1);  // MPI_Abort does not return; this is for the compiler
  }

  void finish() {
#ifdef MMP_HAVE_CUDA
    nccl_reduction_.reset();
#endif
    if (nccl_comm_) nccl_->destroy(nccl_comm_);
    nccl_comm_ = nullptr;
    mpi_->finalize();
  }

 private:
  void call(int status) { MMP_CHECK(status == 0, error_); }

  // MPI over host memory: host tensors, and CUDA tensors where NCCL is not there.
  void all_reduce_through_host(const Tensor& t) {
    const bool is_double = t.dtype() == DType::F64;
    if (t.device().is_cpu()) {
      call(mpi_->all_reduce_sum(t.raw_data(), static_cast<size_t>(t.numel()), is_double, error_, sizeof error_));
      return;
    }
    const Tensor host = t.to(Device::cpu());
    call(mpi_->all_reduce_sum(host.raw_data(), static_cast<size_t>(host.numel()), is_double, error_, sizeof error_));
    t.copy_(host);
  }

#ifdef MMP_HAVE_CUDA
  // NCCL for CUDA tensors, set up on first use: rank 0's id reaches the others through
  // MPI. Without the plugin (or NCCL), host staging, said once.
  bool use_nccl(int device) {
    if (!nccl_tried_) {
      nccl_tried_ = true;
      std::string error;
      const std::string path = plugin_path("libmmp-nccl.so", "MMP_NCCL_LIBRARY");
      nccl_ = static_cast<const MmpNcclPlugin*>(open_plugin(path, MMP_NCCL_PLUGIN_ENTRY, error));
      if (nccl_ && nccl_->abi != MMP_NCCL_PLUGIN_ABI) {
        error = "an NCCL plugin of another mmp";
        nccl_ = nullptr;
      }
      // NCCL for all ranks or for none: a node without it makes every rank stage.
      const Tensor available = from_vector<double>({nccl_ ? 1.0 : 0.0}, {1});
      call(mpi_->all_reduce_sum(available.raw_data(), 1, 1, error_, sizeof error_));
      const int with_nccl = static_cast<int>(available.item());
      if (nccl_ && with_nccl < size_) {
        error = str("only ", with_nccl, " of the ", size_, " ranks can load it");
        nccl_ = nullptr;
      }
      if (nccl_) {
        unsigned char id[MMP_NCCL_ID_BYTES] = {};
        if (rank_ == 0) call(nccl_->unique_id(id, error_, sizeof error_));
        call(mpi_->broadcast(id, sizeof id, 0, error_, sizeof error_));
        {
          const cuda::DeviceGuard current(device);  // NCCL's communicator is on the current device
          call(nccl_->init(&nccl_comm_, rank_, size_, id, error_, sizeof error_));
        }
        call(nccl_->version(&nccl_version_, error_, sizeof error_));
        nccl_device_ = device;
        nccl_reduction_ = std::make_unique<NcclReduction>(*nccl_, nccl_comm_, Device::cuda(device));
      } else if (rank_ == 0) {
        std::fprintf(stderr, "mmp: %s cannot be loaded (%s): CUDA gradients are summed through host memory and MPI "
                     "(slower; install NCCL, e.g. a PyTorch wheel's nvidia/nccl, for GPU-to-GPU sums)\n",
                     path.c_str(), error.c_str());
      }
    }
    if (nccl_) MMP_CHECK(device == nccl_device_, "all-reduce: NCCL was set up on cuda:", nccl_device_, ", not cuda:", device);
    return nccl_ != nullptr;
  }
#endif

  const MmpMpiPlugin* mpi_ = nullptr;
  int rank_ = 0, size_ = 1;
  std::string version_;
  char error_[1024] = {};
  bool nccl_tried_ = false;
  const MmpNcclPlugin* nccl_ = nullptr;
  void* nccl_comm_ = nullptr;
  int nccl_device_ = -1, nccl_version_ = 0;
#ifdef MMP_HAVE_CUDA
  std::unique_ptr<NcclReduction> nccl_reduction_;
#endif
};

std::unique_ptr<Communicator>& world_storage() {
  static std::unique_ptr<Communicator> instance;
  return instance;
}

thread_local Communicator* t_sync_group = nullptr;

}  // namespace

Launch launch_from_environment() {
  Launch l;
  // Open MPI's mpirun, MPICH's (and Slurm's PMI), srun's job step.
  l.ranks = std::max(1, environment_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}, 1));
  l.local_rank = std::max(0, environment_int({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}, 0));
  l.distributed = l.ranks > 1 || environment_int({"MMP_DISTRIBUTED"}, 0) == 1;
  return l;
}

Communicator& world() {
  static std::once_flag once;
  std::call_once(once, [] {
    const Launch launch = launch_from_environment();
    if (launch.distributed) {
      world_storage() = std::make_unique<MpiCommunicator>(launch.ranks);
    } else {
      world_storage() = std::make_unique<SingleProcess>();
    }
  });
  return *world_storage();
}

void finish_world() {
  if (auto* mpi = dynamic_cast<MpiCommunicator*>(world_storage().get())) mpi->finish();
}

SyncBatchNormScope::SyncBatchNormScope(Communicator& group) : previous_(t_sync_group) { t_sync_group = &group; }
SyncBatchNormScope::~SyncBatchNormScope() { t_sync_group = previous_; }
Communicator* sync_batch_norm_group() { return t_sync_group; }

Tensor all_reduce_sum(const Tensor& x, Communicator& group) {
  Tensor out = x.detach().contiguous().clone();
  group.all_reduce_sum(out);
  if (!grad_mode_enabled() || !x.requires_grad()) return out;
  return record("all_reduce_sum", {x}, out, [&group](const Tensor& g, const std::vector<bool>&) {
    Tensor summed = g.contiguous().clone();
    group.all_reduce_sum(summed);
    return std::vector<Tensor>{summed};
  });
}

}  // namespace mmp
