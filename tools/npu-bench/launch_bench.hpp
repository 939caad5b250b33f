// launch_floor: how far one eager launch is from the raw round trip.
// launch_breakdown: where one job's round trip goes, hop by hop.
#pragma once

#include "npu/npu.hpp"
#include "result.hpp"

namespace npu::bench {

// The median round trip of an empty launch (an event recorded on an idle
// stream and synchronised: one job, no packet work) against the median of
// the driver's raw doorbell -> firmware -> interrupt round trip (debugfs
// "ping", root only), both in microseconds.
Result launch_floor(const Device& device, Stream& stream, const Options& opt);

// Empty jobs (one NOP packet) submitted one at a time with DRM_IOCTL_NPU_SUBMIT
// and waited for with DRM_IOCTL_NPU_WAIT; each job's hop times come from
// debugfs "hops" (driver/npu_hops.c, root only), the device-clock ones
// converted by the driver. Details: the median of every hop ("hops"), from
// the previous hop, on one clock (CLOCK_MONOTONIC). Baseline: the raw round
// trip, as for launch_floor.
Result launch_breakdown(const Device& device, Stream& stream, const Options& opt);

} // namespace npu::bench
