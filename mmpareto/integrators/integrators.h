#pragma once
// Constructors of the integrators, one file each; make_integrator() picks by name.
#include <memory>

#include "mmpareto/integrator.h"

namespace mmp::integrators {

std::unique_ptr<Integrator> one_joint(const IntegratorOptions& options);
std::unique_ptr<Integrator> uniform();
std::unique_ptr<Integrator> mmpareto(const IntegratorOptions& options);
std::unique_ptr<Integrator> mgda(const IntegratorOptions& options);
std::unique_ptr<Integrator> pcgrad();
std::unique_ptr<Integrator> cagrad(const IntegratorOptions& options);
std::unique_ptr<Integrator> ogm_ge(const IntegratorOptions& options);

// Weights on the simplex minimising the min-norm problem of a Gram matrix: the closed
// form for two objectives, Frank-Wolfe beyond (shared by mmpareto and mgda).
std::vector<double> min_norm_weights(const Gram& gram, const IntegratorOptions& options, bool official_two);

}  // namespace mmp::integrators
