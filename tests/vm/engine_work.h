// Tensor-engine work for the uapi suite's telemetry and recovery tests: an
// f32 GEMM packet over row-major matrices encoded by hand from
// uapi/drm/npu_packet.h (no libnpu, like the rest of the suite), and a load
// that keeps the engines busy with such jobs.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "npu_test.h"

namespace npu_test
{

inline uint32_t F32Bits(float value)
{
	uint32_t bits;
	std::memcpy(&bits, &value, sizeof(bits));
	return bits;
}

// An f32 matrix stored row-major at addr.
inline npu_tensor RowMajorF32(uint64_t addr, uint32_t rows, uint32_t cols)
{
	npu_tensor t{};
	t.addr = addr;
	t.dtype = NPU_DTYPE_F32;
	t.rank = 2;
	t.shape[0] = rows;
	t.shape[1] = cols;
	t.stride[0] = cols;
	t.stride[1] = 1;
	return t;
}

// Appends y[m x n] = a[m x k] x b[k x n] (f32, row-major, no bias, no
// activation); returns the packet's byte offset.
inline uint32_t AppendGemmF32(Commands &cmds, uint64_t a, uint64_t b, uint64_t y, uint32_t m,
			      uint32_t k, uint32_t n)
{
	npu_pkt_gemm pkt{};
	pkt.header = NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS);
	pkt.alpha = F32Bits(1.0f);
	pkt.beta = F32Bits(0.0f);
	pkt.a = RowMajorF32(a, m, k);
	pkt.b = RowMajorF32(b, k, n);
	pkt.y = RowMajorF32(y, m, n);
	std::vector<uint32_t> words(sizeof(pkt) / 4);
	std::memcpy(words.data(), &pkt, sizeof(pkt));
	return cmds.Raw(words[0], std::vector<uint32_t>(words.begin() + 1, words.end()));
}

// Square f32 matrices a, b (filled with small values) and y in their own
// buffer objects of one session, for GEMM jobs of size x size x size.
class GemmOperands
{
public:
	GemmOperands(Session &session, uint32_t size) : session_(session), size_(size)
	{
		const uint64_t bytes = uint64_t(size) * size * sizeof(float);
		a_ = std::make_unique<Bo>(session.dev(), bytes);
		b_ = std::make_unique<Bo>(session.dev(), bytes);
		y_ = std::make_unique<Bo>(session.dev(), bytes);
		for (uint64_t i = 0; i < uint64_t(size) * size; i++) {
			a_->at<float>(0)[i] = float(i % 7) - 3.0f;
			b_->at<float>(0)[i] = float(i % 5) * 0.25f;
		}
	}

	// Appends the GEMM to cmds; returns its byte offset.
	uint32_t Append(Commands &cmds) const
	{
		return AppendGemmF32(cmds, a_->addr(), b_->addr(), y_->addr(), size_, size_, size_);
	}
	std::vector<uint32_t> handles() const { return {a_->handle(), b_->handle(), y_->handle()}; }
	// A job of one GEMM after `nops` NOP packets.
	uint64_t Submit(uint32_t nops = 0, uint32_t queue_id = 0)
	{
		Commands cmds;
		for (uint32_t i = 0; i < nops; i++)
			cmds.Nop();
		Append(cmds);
		SubmitOptions opts = UsingBos(handles());
		opts.queue_id = queue_id;
		return session_.Submit(cmds, opts);
	}
	// y[row][col], as the host reads it back.
	float Y(uint32_t row, uint32_t col)
	{
		return y_->at<float>(0)[uint64_t(row) * size_ + col];
	}
	// The same element computed on the host.
	float Expected(uint32_t row, uint32_t col)
	{
		float sum = 0;
		for (uint32_t i = 0; i < size_; i++)
			sum += a_->at<float>(0)[uint64_t(row) * size_ + i] *
			       b_->at<float>(0)[uint64_t(i) * size_ + col];
		return sum;
	}

private:
	Session &session_;
	uint32_t size_;
	std::unique_ptr<Bo> a_, b_, y_;
};

// Keeps `depth` GEMM jobs in flight on its own context until destroyed;
// Pump() tops the window up, waiting for the oldest job when it is full.
class GemmLoad
{
public:
	GemmLoad(const std::string &node, uint32_t size, unsigned depth = 3)
	    : session_(std::make_unique<Device>(node)), operands_(session_, size), depth_(depth)
	{
	}
	~GemmLoad() { Drain(); }

	void Pump()
	{
		while (inflight_.size() >= depth_) {
			EXPECT_JOB_STATUS(session_.WaitStatus(inflight_.front(), 20000),
					  DRM_NPU_JOB_STATUS_OK);
			inflight_.pop_front();
		}
		while (inflight_.size() < depth_)
			inflight_.push_back(operands_.Submit());
	}
	void Drain()
	{
		for (uint64_t seqno : inflight_)
			EXPECT_JOB_STATUS(session_.WaitStatus(seqno, 20000), DRM_NPU_JOB_STATUS_OK);
		inflight_.clear();
	}

private:
	Session session_;
	GemmOperands operands_;
	unsigned depth_;
	std::deque<uint64_t> inflight_;
};

} // namespace npu_test
