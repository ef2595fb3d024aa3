#include "mmpareto/integrator.h"

#include <cmath>

#include "engine/backend.h"

namespace mmp {

double GroupReport::norm(size_t k) const { return std::sqrt(std::max(gram[k][k], 0.0)); }

double GroupReport::cosine(size_t i, size_t j) const {
  const double denominator = norm(i) * norm(j);
  return denominator > 0 ? gram[i][j] / denominator : 0.0;
}

GroupReport start_report(const GroupGradients& group) {
  const size_t k = group.gradients.size();
  std::vector<Tensor> left, right;
  for (size_t i = 0; i < k; ++i)
    for (size_t j = i; j < k; ++j) {
      left.push_back(group.gradients[i]);
      right.push_back(group.gradients[j]);
    }
  const std::vector<double> d = dots(left, right).to_vector<double>();
  Gram gram(k, std::vector<double>(k, 0.0));
  size_t at = 0;
  for (size_t i = 0; i < k; ++i)
    for (size_t j = i; j < k; ++j) gram[i][j] = gram[j][i] = d[at++];
  return report_from_gram(group, std::move(gram));
}

GroupReport report_from_gram(const GroupGradients& group, Gram gram) {
  GroupReport r;
  r.group = group.group;
  r.objectives = group.objectives;
  r.gram = std::move(gram);
  const size_t k = r.gram.size();
  double sum = 0;
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j) {
      sum += r.gram[i][j];
      if (i < j && r.gram[i][j] < 0) r.conflict = true;
    }
  r.norm_sum = std::sqrt(std::max(sum, 0.0));
  return r;
}

void write_combination(const std::vector<Tensor>& gradients, const std::vector<double>& weights, const Tensor& out) {
  MMP_CHECK(gradients.size() == weights.size() && !gradients.empty(), "write_combination: ", gradients.size(),
            " gradients, ", weights.size(), " weights");
  Tensor acc = mul_scalar(gradients[0], weights[0]);
  for (size_t i = 1; i < gradients.size(); ++i) acc = add_scaled(acc, gradients[i], weights[i]);
  out.copy_(acc);
}

Tensor segment(const Tensor& flat, const GroupGradients& group, size_t i) {
  const Shape& shape = group.shapes[i];
  return flat.as_strided(shape, contiguous_strides(shape), flat.offset() + group.offsets[i]);
}

std::vector<Gram> segment_grams(const GroupGradients& group) {
  const size_t k = group.gradients.size(), n = group.shapes.size();
  std::vector<Tensor> left, right;
  for (size_t s = 0; s < n; ++s)
    for (size_t i = 0; i < k; ++i)
      for (size_t j = i; j < k; ++j) {
        left.push_back(segment(group.gradients[i], group, s));
        right.push_back(segment(group.gradients[j], group, s));
      }
  const std::vector<double> d = dots(left, right).to_vector<double>();
  std::vector<Gram> grams(n, Gram(k, std::vector<double>(k, 0.0)));
  size_t at = 0;
  for (size_t s = 0; s < n; ++s)
    for (size_t i = 0; i < k; ++i)
      for (size_t j = i; j < k; ++j) grams[s][i][j] = grams[s][j][i] = d[at++];
  return grams;
}

Gram sum_grams(const std::vector<Gram>& grams) {
  Gram total = grams.at(0);
  for (size_t s = 1; s < grams.size(); ++s)
    for (size_t i = 0; i < total.size(); ++i)
      for (size_t j = 0; j < total.size(); ++j) total[i][j] += grams[s][i][j];
  return total;
}

std::vector<double> segment_squared_norms(const Tensor& flat, const GroupGradients& group) {
  std::vector<Tensor> parts;
  for (size_t i = 0; i < group.shapes.size(); ++i) parts.push_back(segment(flat, group, i));
  return squared_norms(parts).to_vector<double>();
}

void scale_segments(const Tensor& flat, const GroupGradients& group, const std::vector<double>& factors) {
  MMP_CHECK(flat.is_contiguous() && factors.size() == group.shapes.size(), "scale_segments: ", factors.size(),
            " factors for ", group.shapes.size(), " tensors");
  std::vector<int64_t> offsets, counts;
  for (size_t i = 0; i < group.shapes.size(); ++i) {
    offsets.push_back(group.offsets[i]);
    counts.push_back(numel(group.shapes[i]));
  }
  backend(flat.device()).scale_segments(flat, offsets, counts, factors);
  flat.storage()->bump_version();
}

}  // namespace mmp
