#include "visible_devices.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

namespace npu::detail {

namespace {

std::string trimmed_lower(std::string text) {
    text.erase(0, text.find_first_not_of(" \t"));
    text.erase(text.find_last_not_of(" \t") + 1);
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

std::optional<size_t> match(const std::string& entry, size_t count,
                            const std::function<std::optional<std::string>(size_t)>& uuid_of,
                            const std::function<std::string(size_t)>& pci_of) {
    if (entry.empty())
        return std::nullopt;
    if (entry.size() < 10 &&
        std::all_of(entry.begin(), entry.end(), [](unsigned char c) { return std::isdigit(c); })) {
        const size_t index = std::stoul(entry);
        return index < count ? std::optional(index) : std::nullopt;
    }
    // Slurm and nvidia-smi style prefixes: "NPU-<uuid>".
    const std::string bare = entry.starts_with("npu-") ? entry.substr(4) : entry;
    for (size_t i = 0; i < count; ++i) {
        const auto uuid = uuid_of(i);
        if (uuid && trimmed_lower(*uuid) == bare)
            return i;
        const std::string pci = pci_of(i);
        if (pci == entry || pci == "0000:" + entry)
            return i;
    }
    return std::nullopt;
}

} // namespace

std::vector<size_t>
visible_devices(const std::optional<std::string>& spec, size_t count,
                const std::function<std::optional<std::string>(size_t)>& uuid_of,
                const std::function<std::string(size_t)>& pci_of) {
    std::vector<size_t> chosen;
    if (!spec) {
        for (size_t i = 0; i < count; ++i)
            chosen.push_back(i);
        return chosen;
    }
    size_t start = 0;
    while (start <= spec->size()) {
        size_t end = spec->find(',', start);
        if (end == std::string::npos)
            end = spec->size();
        const auto position =
            match(trimmed_lower(spec->substr(start, end - start)), count, uuid_of, pci_of);
        if (position && std::find(chosen.begin(), chosen.end(), *position) == chosen.end())
            chosen.push_back(*position);
        start = end + 1;
    }
    return chosen;
}

std::optional<std::string> visible_devices_env() {
    const char* value = std::getenv("NPU_VISIBLE_DEVICES");
    return value ? std::optional<std::string>(value) : std::nullopt;
}

std::optional<std::string> sysfs_uuid(const std::string& root, const std::string& pci_address) {
    std::ifstream file(root + "/sys/bus/pci/devices/" + pci_address + "/uuid");
    std::string uuid;
    if (!file || !std::getline(file, uuid) || uuid.empty())
        return std::nullopt;
    return uuid;
}

} // namespace npu::detail
