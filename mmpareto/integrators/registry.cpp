#include "mmpareto/integrators/integrators.h"

namespace mmp {

const std::vector<std::string>& integrator_names() {
  static const std::vector<std::string> names{"one-joint", "uniform", "mmpareto", "mgda", "pcgrad", "cagrad", "ogm-ge"};
  return names;
}

std::unique_ptr<Integrator> make_integrator(const std::string& name, const IntegratorOptions& options) {
  if (name == "one-joint") return integrators::one_joint(options);
  if (name == "uniform") return integrators::uniform();
  if (name == "mmpareto") return integrators::mmpareto(options);
  if (name == "mgda") return integrators::mgda(options);
  if (name == "pcgrad") return integrators::pcgrad();
  if (name == "cagrad") return integrators::cagrad(options);
  if (name == "ogm-ge") return integrators::ogm_ge(options);
  MMP_THROW("unknown method '", name, "': expected one of one-joint, uniform, mmpareto, mgda, pcgrad, cagrad, ogm-ge");
}

namespace integrators {

std::vector<double> min_norm_weights(const Gram& gram, const IntegratorOptions& options, bool official_two) {
  if (gram.size() == 1) return {1.0};
  if (gram.size() == 2) {
    const double c = official_two ? min_norm_weight_2_official(gram[0][0], gram[0][1], gram[1][1])
                                  : min_norm_weight_2(gram[0][0], gram[0][1], gram[1][1]);
    return {c, 1.0 - c};
  }
  return min_norm_frank_wolfe(gram, options.max_iterations, options.tolerance).weights;
}

}  // namespace integrators
}  // namespace mmp
