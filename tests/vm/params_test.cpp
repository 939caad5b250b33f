// GET_PARAM: every parameter answers with a value that matches the device,
// and malformed requests are refused.
#include <xf86drm.h>

#include <set>

#include "engine_work.h"
#include "npu_hw.h"
#include "npu_test.h"

namespace npu_test
{
namespace
{

using Params = NpuTest;

TEST_F(Params, DeviceIdsMatchPciConfig)
{
	auto nodes = FindNpuNodes();
	ASSERT_FALSE(nodes.empty());
	Device dev(nodes[0].dev_path);
	EXPECT_EQ(dev.Param(DRM_NPU_PARAM_DEVICE_ID),
		  ReadSysfsNumber(nodes[0].sysfs_pci + "/device"));
	EXPECT_EQ(dev.Param(DRM_NPU_PARAM_DEVICE_ID), uint64_t(NPU_PCI_DEVICE_ID));
	EXPECT_EQ(dev.Param(DRM_NPU_PARAM_REVISION),
		  ReadSysfsNumber(nodes[0].sysfs_pci + "/revision"));
}

TEST_F(Params, VersionsMatchHardwareAndFirmwareAbi)
{
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_HW_VERSION), uint64_t(NPU_HW_VERSION));
	EXPECT_NE(s->dev().Param(DRM_NPU_PARAM_FW_VERSION), 0u);
	EXPECT_LT(s->dev().Param(DRM_NPU_PARAM_FW_VERSION), 1ull << 24)
		<< "major << 16 | minor << 8 | patch";
	uint64_t abi = s->dev().Param(DRM_NPU_PARAM_FW_ABI);
	EXPECT_EQ(abi >> 16, uint64_t(NPU_FW_ABI_MAJOR));
	EXPECT_GE(abi & 0xffff, 1u) << "the driver runs no firmware without tensor engines";
}

TEST_F(Params, WhatTheDeviceComputes)
{
	uint64_t ops = s->dev().Param(DRM_NPU_PARAM_OP_MASK);
	for (uint32_t op = NPU_OP_NOP; op <= NPU_OP_DATA_LAST; op++)
		EXPECT_TRUE(ops & (1ull << op)) << "data-movement opcode " << op;
	for (uint32_t op = NPU_OP_GEMM; op <= NPU_OP_LAST; op++)
		EXPECT_TRUE(ops & (1ull << op)) << "operation opcode 0x" << std::hex << op;
	EXPECT_FALSE(ops & (1ull << (NPU_OP_DATA_LAST + 1))) << "opcode after CALL is no packet";

	uint64_t dtypes = s->dev().Param(DRM_NPU_PARAM_DTYPE_MASK);
	for (uint32_t dtype = NPU_DTYPE_F32; dtype <= NPU_DTYPE_LAST; dtype++)
		EXPECT_TRUE(dtypes & (1ull << dtype)) << "dtype " << dtype;
	EXPECT_FALSE(dtypes & (1ull << NPU_DTYPE_NONE)) << "NONE is no element type";
	EXPECT_LT(dtypes, 1ull << 32);

	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_PACKET_VERSION), uint64_t(NPU_PACKET_VERSION));
	EXPECT_GT(s->dev().Param(DRM_NPU_PARAM_ENGINE_MEM_SIZE), 0u);
	EXPECT_LE(s->dev().Param(DRM_NPU_PARAM_ENGINE_COUNT), uint64_t(NPU_MAX_ENGINES));
}

TEST_F(Params, DevicesReportTheSameCapabilities)
{
	auto nodes = FindNpuNodes();
	for (const auto &n : nodes) {
		Device other(n.dev_path);
		for (uint32_t param : {DRM_NPU_PARAM_OP_MASK, DRM_NPU_PARAM_DTYPE_MASK,
				       DRM_NPU_PARAM_PACKET_VERSION})
			EXPECT_EQ(other.Param(param), s->dev().Param(param))
				<< n.dev_path << " param " << param << ": same firmware";
	}
}

// OPS_DONE counts operation packets, not data-movement ones.
TEST_F(Params, OpsDoneCountsOperationPackets)
{
	GemmOperands gemm(*s, 32);
	uint64_t before = s->dev().Param(DRM_NPU_PARAM_OPS_DONE);
	Commands cmds;
	cmds.Fill(s->scratch().addr(), 1, 64);
	gemm.Append(cmds);
	cmds.Nop();
	gemm.Append(cmds);
	SubmitOptions opts = UsingBos(gemm.handles());
	opts.extra_bos.push_back(s->scratch().handle());
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds, opts)), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(gemm.Submit()), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_OPS_DONE), before + 3)
		<< "two GEMMs in the first job, one in the second";
	EXPECT_FLOAT_EQ(gemm.Y(5, 7), gemm.Expected(5, 7));
}

TEST_F(Params, ResourceCounts)
{
	EXPECT_GT(s->dev().Param(DRM_NPU_PARAM_DEVMEM_SIZE), 0u);
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_DEVMEM_SIZE) % kPageSize, 0u);
	EXPECT_GE(s->dev().Param(DRM_NPU_PARAM_ENGINE_COUNT), 1u);
	EXPECT_GE(s->dev().Param(DRM_NPU_PARAM_QUEUE_COUNT), 1u);
	EXPECT_LE(s->dev().Param(DRM_NPU_PARAM_QUEUE_COUNT), uint64_t(NPU_MAX_QUEUES));
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_VA_SIZE), 1ull << 39);
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_MAX_CMD_SIZE), 65536u);
}

TEST_F(Params, SerialIsStableAndUniquePerDevice)
{
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_SERIAL), s->dev().Param(DRM_NPU_PARAM_SERIAL));
	std::set<uint64_t> serials;
	auto nodes = FindNpuNodes();
	for (const auto &n : nodes)
		serials.insert(Device(n.dev_path).Param(DRM_NPU_PARAM_SERIAL));
	EXPECT_EQ(serials.size(), nodes.size()) << "two devices share a serial number";
}

TEST_F(Params, ContextIdIsPerFile)
{
	Device other(s->dev().path());
	uint64_t mine = s->dev().Param(DRM_NPU_PARAM_CONTEXT_ID);
	EXPECT_EQ(mine, s->dev().Param(DRM_NPU_PARAM_CONTEXT_ID));
	EXPECT_NE(mine, other.Param(DRM_NPU_PARAM_CONTEXT_ID));
}

TEST_F(Params, DrmVersionNamesTheDriver)
{
	drmVersionPtr v = drmGetVersion(s->dev().fd());
	ASSERT_NE(v, nullptr) << "DRM_IOCTL_VERSION failed";
	EXPECT_STREQ(v->name, "npu");
	drmFreeVersion(v);
}

TEST_F(Params, UnknownParamIsInvalid)
{
	for (uint32_t param : {uint32_t(DRM_NPU_PARAM_UQUEUE_COUNT + 1), 0x1000u, ~0u}) {
		drm_npu_get_param args{param, 0, 0};
		EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_GET_PARAM, &args), EINVAL)
			<< "param " << param;
	}
}

TEST_F(Params, NonZeroPadIsInvalid)
{
	drm_npu_get_param args{DRM_NPU_PARAM_DEVICE_ID, 1, 0};
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_GET_PARAM, &args), EINVAL);
}

TEST_F(Params, BadArgumentPointerFaults)
{
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_GET_PARAM, reinterpret_cast<void *>(8)),
		  EFAULT);
}

} // namespace
} // namespace npu_test
