// Every differentiable op (tests/support/op_cases.cpp) against central finite
// differences in f64, and its f32 forward against its f64 forward.
#include <catch2/catch.hpp>

#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"
#include "tests/support/op_cases.h"

using namespace mmp;
using namespace mmp::testing;

TEST_CASE("every op's gradient matches finite differences in f64", "[unit][autograd][ops]") {
  for (const OpCase& c : op_cases()) {
    DYNAMIC_SECTION(c.name) {
      const GradcheckReport report = gradcheck(c.run, make_inputs(c, 7));
      INFO(c.name << ": " << report.detail << " (excess error " << report.max_error << ")");
      CHECK(report.ok);
    }
  }
}

TEST_CASE("every op's f32 forward agrees with its f64 forward", "[unit][ops]") {
  for (const OpCase& c : op_cases()) {
    DYNAMIC_SECTION(c.name) {
      const std::vector<Tensor> in64 = make_inputs(c, 11);
      std::vector<Tensor> in32;
      for (const auto& t : in64) in32.push_back(t.to(DType::F32));
      const Tensor out64 = c.run(in64);
      const Tensor out32 = c.run(in32);
      REQUIRE(out32.dtype() == DType::F32);
      INFO(c.name);
      CHECK(relative_error(out32, out64) < 1e-6);
    }
  }
}
