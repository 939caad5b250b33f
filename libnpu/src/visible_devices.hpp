// NPU_VISIBLE_DEVICES: which devices a process sees, in which order (as
// CUDA_VISIBLE_DEVICES does for GPUs). Shared by Device::enumerate() and
// mgmt::System::devices(), so libnpu and npu-smi number devices alike.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace npu::detail {

// The positions (into the full, PCI-ordered list of `count` devices) that
// `spec` selects, in the order it names them. `spec` is a comma-separated
// list of indices into the full list, UUIDs (`uuid_of(i)`, compared
// case-insensitively) or PCI addresses (`pci_of(i)`); entries that match no
// device and repeats are ignored; an empty spec selects nothing; no spec
// (nullopt) selects every device in order.
std::vector<size_t>
visible_devices(const std::optional<std::string>& spec, size_t count,
                const std::function<std::optional<std::string>(size_t)>& uuid_of,
                const std::function<std::string(size_t)>& pci_of);

// The environment's NPU_VISIBLE_DEVICES (nullopt when unset).
std::optional<std::string> visible_devices_env();

// The UUID sysfs reports for the PCI function at `pci_address` under `root`
// ("" = the real system), nullopt if there is none.
std::optional<std::string> sysfs_uuid(const std::string& root, const std::string& pci_address);

} // namespace npu::detail
