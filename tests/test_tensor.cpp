// Tensors: storage, views, copies, conversions and the errors of bad use.
#include <catch2/catch.hpp>

#include "engine/ops.h"

using namespace mmp;
using Catch::Matchers::Contains;

TEST_CASE("factories and host round trips", "[unit][tensor]") {
  const Tensor t = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.strides() == Strides{3, 1});
  CHECK(t.is_contiguous());
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(zeros({2, 2}).to_vector<float>() == std::vector<float>(4, 0.0f));
  CHECK(full({3}, 2.5, DType::F64).to_vector<double>() == std::vector<double>(3, 2.5));
  CHECK(arange(4, DType::I64).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(scalar_tensor(4.25).item() == 4.25);
  CHECK_THROWS_WITH(t.item(), Contains("6 elements"));
}

TEST_CASE("views share storage and copy_ writes through them", "[unit][tensor]") {
  const Tensor base = zeros({4, 5});
  const Tensor column = slice(base, 1, 2, 3);  // [4, 1]
  CHECK(column.storage() == base.storage());
  CHECK_FALSE(column.is_contiguous());
  column.copy_(full({4, 1}, 7.0));
  const auto v = base.to_vector<float>();
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 5; ++c) CHECK(v[r * 5 + c] == (c == 2 ? 7.0f : 0.0f));
}

TEST_CASE("permute, transpose and contiguous", "[unit][tensor]") {
  const Tensor t = from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  const Tensor tt = transpose(t, 0, 1);
  CHECK(tt.shape() == Shape{3, 2});
  CHECK(tt.strides() == Strides{1, 3});
  CHECK(tt.storage() == t.storage());
  CHECK_FALSE(tt.is_contiguous());
  const Tensor c = tt.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.storage() != t.storage());
  CHECK(c.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(tt.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  const Tensor p = permute(reshape(arange(24), {2, 3, 4}), {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.contiguous().to_vector<float>()[1] == 4.0f);  // p[0,0,1] = x[0,1,0]
}

TEST_CASE("reshape views contiguous tensors and copies the rest", "[unit][tensor]") {
  const Tensor t = arange(12);
  const Tensor r = reshape(t, {3, -1});
  CHECK(r.shape() == Shape{3, 4});
  CHECK(r.storage() == t.storage());
  const Tensor tr = transpose(r, 0, 1);
  const Tensor flat = reshape(tr, {12});
  CHECK(flat.storage() != t.storage());
  CHECK(flat.to_vector<float>()[1] == 4.0f);
  CHECK_THROWS_WITH(reshape(t, {5, -1}), Contains("reshape: cannot view f32[12] on cpu as [5, -1]"));
  CHECK_THROWS_WITH(reshape(t, {-1, -1}), Contains("more than one -1"));
}

TEST_CASE("expand, slice with step, select, cat", "[unit][tensor]") {
  const Tensor col = from_vector<float>({1, 2, 3}, {3, 1});
  const Tensor e = expand(col, {2, 3, 4});
  CHECK(e.strides()[0] == 0);
  CHECK(e.strides()[2] == 0);
  CHECK(e.contiguous().to_vector<float>()[5] == 2.0f);
  const Tensor s = slice(arange(10), 0, 1, 10, 3);  // 1, 4, 7
  CHECK(s.to_vector<float>() == std::vector<float>{1, 4, 7});
  CHECK(select(reshape(arange(6), {2, 3}), 0, 1).to_vector<float>() == std::vector<float>{3, 4, 5});
  const Tensor joined = cat({reshape(arange(4), {2, 2}), full({2, 1}, 9)}, 1);
  CHECK(joined.to_vector<float>() == std::vector<float>{0, 1, 9, 2, 3, 9});
}

TEST_CASE("dtype conversions", "[unit][tensor]") {
  const Tensor f = from_vector<float>({-1.5f, 0.25f, 2.75f}, {3});
  CHECK(f.to(DType::F64).to_vector<double>() == std::vector<double>{-1.5, 0.25, 2.75});
  CHECK(f.to(DType::I64).to_vector<int64_t>() == std::vector<int64_t>{-1, 0, 2});
  CHECK(from_vector<int32_t>({3, 4}, {2}).to(DType::F32).to_vector<float>() == std::vector<float>{3, 4});
  CHECK_THROWS_WITH(f.data<double>(), Contains("f32[3] on cpu"));
}

TEST_CASE("bad shapes and devices give clear errors", "[unit][tensor]") {
  const Tensor a = zeros({2, 3}), b = zeros({4});
  CHECK_THROWS_WITH(add(a, b), Contains("add: f32[2, 3] on cpu and f32[4] on cpu do not broadcast"));
  CHECK_THROWS_WITH(matmul(a, a), Contains("matmul: inner sizes differ: f32[2, 3] on cpu · f32[2, 3] on cpu"));
  CHECK_THROWS_WITH(add(a, zeros({2, 3}, DType::F64)), Contains("different dtypes"));
  CHECK_THROWS_WITH(parse_device("gpu"), Contains("bad device 'gpu'"));
  CHECK(parse_device("cuda:3") == Device::cuda(3));
  CHECK_THROWS_WITH(sum(a, {2}), Contains("sum: dim 2 out of range"));
  if (!cuda_available())
    CHECK_THROWS_WITH(zeros({2}, DType::F32, Device::cuda(0)), Contains("cuda:0"));
}

TEST_CASE("same memory order: strides of dims of one element do not matter", "[unit][tensor]") {
  const Shape one_by_one{8, 16, 1, 1};
  CHECK(same_memory_order(one_by_one, contiguous_strides(one_by_one), channels_last_strides(one_by_one)));
  CHECK(empty_channels_last(one_by_one).is_contiguous());  // why the kernels may see either strides
  const Shape maps{8, 16, 4, 4};
  CHECK_FALSE(same_memory_order(maps, contiguous_strides(maps), channels_last_strides(maps)));
  CHECK(same_memory_order(maps, channels_last_strides(maps), channels_last_strides(maps)));
  const Shape one_channel{2, 1, 3, 5};  // NCHW and NHWC coincide with a single channel
  CHECK(same_memory_order(one_channel, contiguous_strides(one_channel), channels_last_strides(one_channel)));
  CHECK_FALSE(same_memory_order(maps, contiguous_strides(maps), {256, 16, 4}));  // another rank
}
