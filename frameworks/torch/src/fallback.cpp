// The boxed CPU fallback for every operator without a device kernel, with
// a counter per operator name (npu_torch.fallback_counts()).
#include "common.hpp"

#include <ATen/native/CPUFallback.h>
#include <torch/library.h>

#include <map>
#include <mutex>

namespace npu_torch {
namespace {

std::mutex counts_lock; // protects counts
std::map<std::string, int64_t> counts;

void npu_fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
    const auto& name = op.schema().operator_name();
    count_fallback(name.overload_name.empty() ? name.name : name.name + "." + name.overload_name);
    at::native::cpu_fallback(op, stack);
}

} // namespace

void count_fallback(const std::string& name) {
    std::lock_guard g(counts_lock);
    ++counts[name];
}

std::vector<std::string> fallback_names() {
    std::lock_guard g(counts_lock);
    std::vector<std::string> out;
    for (auto& [k, v] : counts)
        out.push_back(k);
    return out;
}

std::vector<int64_t> fallback_values() {
    std::lock_guard g(counts_lock);
    std::vector<int64_t> out;
    for (auto& [k, v] : counts)
        out.push_back(v);
    return out;
}

void fallback_reset() {
    std::lock_guard g(counts_lock);
    counts.clear();
}

} // namespace npu_torch

TORCH_LIBRARY_IMPL(_, PrivateUse1, m) {
    m.fallback(torch::CppFunction::makeFromBoxedFunction<&npu_torch::npu_fallback>());
}
