// launch_floor: how far one eager launch is from the raw round trip.
#pragma once

#include "npu/npu.hpp"
#include "result.hpp"

namespace npu::bench {

// The median round trip of an empty launch (an event recorded on an idle
// stream and synchronised: one job, no packet work) against the median of
// the driver's raw doorbell -> firmware -> interrupt round trip (debugfs
// "ping", root only), both in microseconds.
Result launch_floor(const Device& device, Stream& stream, const Options& opt);

} // namespace npu::bench
