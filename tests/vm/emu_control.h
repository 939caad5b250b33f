// Fault-injection and recovery helpers of the VM suite: the emulator's
// control port (tools/npu-vm exports it as $NPU_EMU_CONTROL), the device's
// devcoredumps and its reset uevents.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace npu_test
{

// The emulator's control channel (a virtio-serial port in the guest).
class EmuControl
{
public:
	// nullptr with *why set when $NPU_EMU_CONTROL is unset or unusable.
	static std::unique_ptr<EmuControl> Open(std::string *why);
	~EmuControl();
	EmuControl(const EmuControl &) = delete;
	EmuControl &operator=(const EmuControl &) = delete;

	// Sends one command; returns the reply lines, the last one being
	// "ok" or "error ..." ("error timeout" if none came in 5 s).
	std::vector<std::string> Command(const std::string &line);
	// inject DEVICE FAULT: "ok" or the error line.
	std::string Inject(uint64_t serial, const std::string &fault);
	// The device's status line ("npu0 serial=0x... state=READY ...").
	std::string Status(uint64_t serial);

private:
	explicit EmuControl(int fd) : fd_(fd) {}
	int fd_;
	unsigned next_tag_ = 1;
	std::string pending_;
};

// Value of "key=" in a status line, "" if absent.
std::string StatusField(const std::string &status, const std::string &key);

// devcoredumps whose failing device is the PCI function at sysfs_pci.
std::vector<std::string> DevcoredumpsOf(const std::string &sysfs_pci);
// Frees them all (writes to each data file) and waits until they are gone.
void FreeDevcoredumps(const std::string &sysfs_pci);
// Waits for one, returns its text and frees it (waiting until it is gone);
// nullopt on timeout.
std::optional<std::string> TakeDevcoredump(const std::string &sysfs_pci, int timeout_ms);

// Kernel uevents (netlink), opened before the event to catch.
class UeventListener
{
public:
	UeventListener();
	~UeventListener();
	UeventListener(const UeventListener &) = delete;
	UeventListener &operator=(const UeventListener &) = delete;
	bool ok() const { return fd_ >= 0; }
	// Waits for a CHANGE event of the device (DEVPATH ends in bdf)
	// carrying NPU_RESET=1; returns its KEY=VALUE lines.
	std::optional<std::vector<std::string>> WaitReset(const std::string &bdf, int timeout_ms);

private:
	int fd_ = -1;
};

} // namespace npu_test
