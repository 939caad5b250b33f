// graph_launch: the host cost per operation of a graph launch against one
// submission per operation.
#pragma once

#include "npu/npu.hpp"
#include "result.hpp"

namespace npu::bench {

Result graph_launch(const npu::Device& device, npu::Stream& stream, const Options& opt);

} // namespace npu::bench
