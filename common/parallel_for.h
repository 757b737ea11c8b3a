// Runs f(0) .. f(n-1) on up to the machine's cores: the calling thread and
// short-lived helpers, each taking the next index. For CPU-bound loops
// whose steps are independent and cost far more than starting a thread
// (~30 us), such as checking the signatures of an inbound transaction.
// Returns when every step has run; `f` must be safe to call concurrently.
// An exception from a step (on any thread) stops the steps not yet taken
// and is rethrown here, as if the loop had run on the calling thread; if
// no helper thread can be started, the caller runs every step itself.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace hearth {

template <typename F>
void ParallelFor(size_t n, F f, size_t min_steps_per_thread = 8) {
  size_t cores = std::max(1u, std::thread::hardware_concurrency());
  size_t threads =
      std::min(cores, std::max<size_t>(1, n / min_steps_per_thread));
  std::atomic<size_t> next{0};
  std::mutex error_mu;
  std::exception_ptr error;
  auto run = [&] {
    try {
      for (size_t i; (i = next.fetch_add(1)) < n;) f(i);
    } catch (...) {
      next = n;  // the others stop after their current step
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(run);
    } catch (const std::system_error&) {
      break;  // out of threads: fewer helpers
    }
  }
  run();
  for (auto& h : helpers) h.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace hearth
