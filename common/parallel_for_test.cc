#include "common/parallel_for.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace hearth {
namespace {

TEST(ParallelForTest, RunsEveryStepOnce) {
  std::vector<std::atomic<int>> runs(1000);
  ParallelFor(
      runs.size(), [&](size_t i) { ++runs[i]; }, 1);
  for (const auto& r : runs) EXPECT_EQ(r.load(), 1);
}

TEST(ParallelForTest, AThrowingStepIsRethrownOnTheCaller) {
  // Every step throws, so whichever thread runs first throws: a helper's
  // exception must come back here instead of ending the process.
  EXPECT_THROW(ParallelFor(
                   64, [](size_t) { throw std::runtime_error("bad step"); }, 1),
               std::runtime_error);
}

}  // namespace
}  // namespace hearth
