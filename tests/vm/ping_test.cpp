// debugfs "ping" (driver/npu_ping.c): the raw doorbell -> firmware ->
// interrupt round trip, the floor under every job's round trip. The
// firmware answers it whatever else it is doing, jobs waiting on the
// device included. Only behaviour is checked here; its time is npu-bench's.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "npu_test.h"

namespace npu_test
{
namespace
{

class Ping : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		path_ = "/sys/kernel/debug/npu/" + FindNpuNodes().at(0).pci_bdf + "/ping";
	}

	// The statistics line of one batch; fails the test when malformed.
	void ReadBatch(uint64_t *rounds, uint64_t *min, uint64_t *median, uint64_t *mean,
		       uint64_t *max)
	{
		std::ifstream in(path_);
		ASSERT_TRUE(in) << path_ << ": " << std::strerror(errno);
		std::stringstream text;
		text << in.rdbuf();
		ASSERT_FALSE(in.bad()) << path_ << ": read failed";
		std::string line = text.str();
		std::smatch m;
		std::regex re(
			R"(^rounds (\d+) min_ns (\d+) median_ns (\d+) mean_ns (\d+) max_ns (\d+)\n$)");
		ASSERT_TRUE(std::regex_match(line, m, re)) << "ping: " << line;
		*rounds = std::stoull(m[1]);
		*min = std::stoull(m[2]);
		*median = std::stoull(m[3]);
		*mean = std::stoull(m[4]);
		*max = std::stoull(m[5]);
	}

	std::string path_;
};

TEST_F(Ping, ABatchOfRoundTripsIsAnswered)
{
	uint64_t rounds, min, median, mean, max;
	ReadBatch(&rounds, &min, &median, &mean, &max);
	EXPECT_EQ(rounds, 200u);
	EXPECT_GT(min, 0u);
	EXPECT_LE(min, median);
	EXPECT_LE(median, max);
	EXPECT_LE(min, mean);
	EXPECT_LE(mean, max);
}

// The firmware answers between serving queues: a job parked on WAIT_MEM
// neither blocks the answer nor is disturbed by it.
TEST_F(Ping, AnsweredWhileAJobWaitsOnTheDevice)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	cmds.WaitMem(gate.addr(), 1);
	cmds.Fill(out.addr(), 0x5a5a5a5a, kPageSize);
	uint64_t seqno = s->Submit(cmds, UsingBos({gate.handle(), out.handle()}));
	ASSERT_EQ(s->Wait(seqno, 100).err, ETIME) << "the job did not wait on its gate";

	uint64_t rounds, min, median, mean, max;
	ReadBatch(&rounds, &min, &median, &mean, &max);
	EXPECT_EQ(rounds, 200u);

	gate.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(seqno, 20000), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(out.ReadU32(0), 0x5a5a5a5au);
}

} // namespace
} // namespace npu_test
