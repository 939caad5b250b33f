// SPDX-License-Identifier: MIT
// Just enough of an RV64 assembler to write the tiny control-core programs
// the tests run instead of (or before) the real firmware.
#pragma once

#include <cstdint>

namespace npu::emu::test::rv
{

enum Reg : std::uint32_t { zero = 0, t0 = 5, t1 = 6, t2 = 7, a0 = 10, a1 = 11, a2 = 12 };

constexpr std::uint32_t lui(Reg rd, std::uint32_t imm20)
{
	return (imm20 << 12) | (rd << 7) | 0x37;
}
constexpr std::uint32_t addi(Reg rd, Reg rs1, std::int32_t imm)
{
	return ((std::uint32_t(imm) & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13;
}
constexpr std::uint32_t load(std::uint32_t funct3, Reg rd, Reg rs1, std::int32_t imm)
{
	return ((std::uint32_t(imm) & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) |
	       0x03;
}
constexpr std::uint32_t store(std::uint32_t funct3, Reg rs2, Reg rs1, std::int32_t imm)
{
	auto u = std::uint32_t(imm);
	return (((u >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) |
	       ((u & 0x1f) << 7) | 0x23;
}
constexpr std::uint32_t lw(Reg rd, Reg rs1, std::int32_t imm)
{
	return load(2, rd, rs1, imm);
}
constexpr std::uint32_t ld(Reg rd, Reg rs1, std::int32_t imm)
{
	return load(3, rd, rs1, imm);
}
constexpr std::uint32_t sw(Reg rs2, Reg rs1, std::int32_t imm)
{
	return store(2, rs2, rs1, imm);
}
constexpr std::uint32_t sd(Reg rs2, Reg rs1, std::int32_t imm)
{
	return store(3, rs2, rs1, imm);
}
// jal x0, offset (bytes, multiple of 2, +-1 MiB)
constexpr std::uint32_t j(std::int32_t off)
{
	auto u = std::uint32_t(off);
	return (((u >> 20) & 1) << 31) | (((u >> 1) & 0x3ff) << 21) | (((u >> 11) & 1) << 20) |
	       (((u >> 12) & 0xff) << 12) | 0x6f;
}
constexpr std::uint32_t illegal = 0;

static_assert(j(0) == 0x6f);
static_assert(addi(a0, zero, 1) == 0x00100513);
static_assert(sw(t0, a0, 0x18) == 0x00552c23);

} // namespace npu::emu::test::rv
