// DRM client usage stats in /proc/self/fdinfo (driver/npu_fdinfo.c,
// Documentation/gpu/drm-usage-stats.rst): the common keys, the file's
// memory and the device time of its jobs, per file.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "engine_work.h"
#include "npu_test.h"

namespace npu_test
{
namespace
{

// key -> value (the unit, if any, left in the value: "12 ns").
std::map<std::string, std::string> ReadFdinfo(int fd)
{
	std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
	std::map<std::string, std::string> keys;
	std::string line;
	while (std::getline(in, line)) {
		const auto colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		const auto start = line.find_first_not_of(" \t", colon + 1);
		keys[line.substr(0, colon)] = start == std::string::npos ? "" : line.substr(start);
	}
	return keys;
}

uint64_t Number(const std::map<std::string, std::string> &keys, const std::string &key)
{
	const auto it = keys.find(key);
	if (it == keys.end()) {
		ADD_FAILURE() << "no " << key;
		return 0;
	}
	return std::stoull(it->second);
}

class Fdinfo : public NpuTest
{
};

TEST_F(Fdinfo, CommonKeys)
{
	const auto keys = ReadFdinfo(s->dev().fd());
	EXPECT_EQ(keys.count("drm-driver") ? keys.at("drm-driver") : "", "npu");
	ASSERT_TRUE(keys.count("drm-client-id"));
	ASSERT_TRUE(keys.count("drm-pdev"));
	EXPECT_EQ(keys.at("drm-pdev"), FindNpuNodes().at(0).pci_bdf);
	Session other(std::make_unique<Device>(s->dev().path()));
	EXPECT_NE(ReadFdinfo(other.dev().fd()).at("drm-client-id"), keys.at("drm-client-id"))
		<< "each file is a client of its own";
}

TEST_F(Fdinfo, MemoryOfTheFilesBos)
{
	const auto before = ReadFdinfo(s->dev().fd());
	const uint64_t total = Number(before, "drm-total-system");
	EXPECT_EQ(Number(before, "drm-resident-system"), total) << "BOs are pinned";
	EXPECT_EQ(Number(before, "drm-memory-system"), total);
	EXPECT_GT(total, 0u) << "the session's command and scratch BOs";

	Session other(std::make_unique<Device>(s->dev().path()));
	const uint64_t other_total = Number(ReadFdinfo(other.dev().fd()), "drm-total-system");
	{
		Bo bo(s->dev(), 3 << 20);
		const auto with = ReadFdinfo(s->dev().fd());
		EXPECT_EQ(Number(with, "drm-total-system"), total + (3 << 20));
		EXPECT_EQ(Number(with, "drm-resident-system"), total + (3 << 20));
		EXPECT_EQ(Number(with, "drm-shared-system"), Number(before, "drm-shared-system"));
		EXPECT_EQ(Number(ReadFdinfo(other.dev().fd()), "drm-total-system"), other_total)
			<< "another file's BO is not ours";
	}
	EXPECT_EQ(Number(ReadFdinfo(s->dev().fd()), "drm-total-system"), total)
		<< "closed BO still counted";
}

TEST_F(Fdinfo, ActiveMemoryWhileAJobRuns)
{
	Bo gate(s->dev(), 4096);
	gate.WriteU64(0, 0);
	Commands cmds;
	cmds.WaitMem(gate.addr(), 1);
	const uint64_t seqno = s->Submit(cmds, UsingBos({gate.handle()}));
	EXPECT_GE(Number(ReadFdinfo(s->dev().fd()), "drm-active-system"), 4096u);
	gate.WriteU64(0, 1);
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(Number(ReadFdinfo(s->dev().fd()), "drm-active-system"), 0u);
}

TEST_F(Fdinfo, EngineTimeOfTheFilesJobs)
{
	const auto before = ReadFdinfo(s->dev().fd());
	ASSERT_TRUE(before.count("drm-engine-npu"));
	EXPECT_NE(before.at("drm-engine-npu").find(" ns"), std::string::npos);
	EXPECT_EQ(Number(before, "drm-engine-npu"), 0u) << "no job ran yet";

	Session idle(std::make_unique<Device>(s->dev().path()));
	GemmOperands gemm(*s, 128);
	uint64_t seqno = 0;
	for (int i = 0; i < 3; i++)
		seqno = gemm.Submit();
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	const uint64_t busy = Number(ReadFdinfo(s->dev().fd()), "drm-engine-npu");
	EXPECT_GT(busy, 0u);
	EXPECT_EQ(Number(ReadFdinfo(idle.dev().fd()), "drm-engine-npu"), 0u)
		<< "another file's jobs are not ours";
	seqno = gemm.Submit();
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_GT(Number(ReadFdinfo(s->dev().fd()), "drm-engine-npu"), busy) << "it only grows";
}

} // namespace
} // namespace npu_test
