// debugfs "ping" (driver/npu_ping.c): the raw doorbell -> firmware ->
// interrupt round trip, the floor under every job's round trip. The
// firmware answers it whatever else it is doing, jobs waiting on the
// device included. Only behaviour is checked here; its time is npu-bench's.
#include <cerrno>
#include <cstring>
#include <ctime>
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
			R"(^rounds (\d+) min_ns (\d+) median_ns (\d+) mean_ns (\d+) max_ns (\d+) irq_median_ns (\d+)\n$)");
		ASSERT_TRUE(std::regex_match(line, m, re)) << "ping: " << line;
		*rounds = std::stoull(m[1]);
		*min = std::stoull(m[2]);
		*median = std::stoull(m[3]);
		*mean = std::stoull(m[4]);
		*max = std::stoull(m[5]);
		irq_median_ = std::stoull(m[6]);
	}

	std::string path_;
	uint64_t irq_median_ = 0;
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
	// the interrupt handler runs before the thread it wakes
	EXPECT_GT(irq_median_, 0u);
	EXPECT_LE(irq_median_, max);
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

// debugfs "hops" (driver/npu_hops.c): a job waited for with WAIT is in the
// ring, with every hop recorded in the order it happens on the host's
// clock, and the device's pickup before its completion. Jobs that fail
// on the device are logged the same way; jobs never waited for are not.
TEST(Hops, AJobWaitedForHasEveryHopInOrder)
{
	Session s;
	const std::string path = "/sys/kernel/debug/npu/" + FindNpuNodes().at(0).pci_bdf + "/hops";
	const uint64_t context = s.dev().Param(DRM_NPU_PARAM_CONTEXT_ID);
	Commands cmds;
	cmds.Nop();
	// context ids are reused: earlier files' jobs are older than this
	timespec now{};
	clock_gettime(CLOCK_MONOTONIC, &now);
	const uint64_t since = uint64_t(now.tv_sec) * 1000000000u + uint64_t(now.tv_nsec);
	const uint64_t seqno = s.Submit(cmds);
	ASSERT_JOB_STATUS(s.WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	const uint64_t unwaited = s.Submit(cmds);

	std::ifstream in(path);
	ASSERT_TRUE(in) << path << ": " << std::strerror(errno);
	std::string line;
	ASSERT_TRUE(std::getline(in, line));
	std::smatch m;
	ASSERT_TRUE(
		std::regex_match(line, m, std::regex(R"(^clock_offset_ns -?\d+ window_ns (\d+)$)")))
		<< line;
	EXPECT_GT(std::stoull(m[1]), 0u) << "no round trip related the clocks";
	ASSERT_TRUE(std::getline(in, line));
	EXPECT_EQ(line,
		  "context queue seqno ioctl pushed run_job doorbell fw_pickup fw_complete irq "
		  "signal wake");
	bool found = false;
	while (std::getline(in, line)) {
		std::istringstream fields(line);
		uint64_t ctx, queue, seq, hop[9];
		fields >> ctx >> queue >> seq;
		for (auto &h : hop)
			fields >> h;
		ASSERT_TRUE(fields) << line;
		if (ctx != context || queue != 0 || hop[0] < since)
			continue;
		EXPECT_NE(seq, unwaited) << "a job nobody waited for is logged";
		if (seq != seqno)
			continue;
		found = true;
		// ioctl <= pushed <= run_job <= doorbell; irq <= signal <= wake
		EXPECT_LE(hop[0], hop[1]) << line;
		EXPECT_LE(hop[1], hop[2]) << line;
		EXPECT_LE(hop[2], hop[3]) << line;
		EXPECT_LT(hop[3], hop[6]) << line;
		EXPECT_LE(hop[6], hop[7]) << line;
		EXPECT_LE(hop[7], hop[8]) << line;
		// alone on its queue: the device's times are there
		EXPECT_GT(hop[4], 0u) << line;
		EXPECT_LE(hop[4], hop[5]) << line;
	}
	EXPECT_TRUE(found) << "job " << seqno << " of context " << context << " not in " << path;
	ASSERT_JOB_STATUS(s.WaitStatus(unwaited), DRM_NPU_JOB_STATUS_OK);
}

} // namespace
} // namespace npu_test
