// SPDX-License-Identifier: MIT
// TENSOR_COPY (plain, padding, cropping), GATHER (take, elements) and CAST
// against references written from uapi/drm/npu_packet.h.
#include <array>
#include <bit>
#include <cmath>
#include <limits>

#include "engine_fixture.h"

namespace npu::emu::test
{
namespace
{

using EngineCopyTest = EngineKernelTest;

TEST_F(EngineCopyTest, PlainTransposeIntoASubBlock)
{
	// x [4, 5, 6] permuted to y [6, 4, 5], written into the middle of a
	// wider buffer (row pitch 7 instead of 5, a concat-like target).
	std::vector<std::int16_t> xs(120);
	for (unsigned i = 0; i < 120; i++)
		xs[i] = static_cast<std::int16_t>(i * 3 - 100);
	std::uint64_t xa = put(xs, false, true);
	std::uint64_t ya = out<std::uint16_t>(6 * 4 * 7, true);
	auto x = make_tensor(xa, NPU_DTYPE_F16, {6, 4, 5}, {1, 30, 6}); // F16: raw 2-byte moves
	auto y = make_tensor(ya + 2, NPU_DTYPE_F16, {6, 4, 5}, {28, 7, 1});
	auto p = copy_packet(NPU_COPY_PLAIN, x, y);
	ASSERT_EQ(run(p, 0, 50), kOk);
	ASSERT_EQ(run(p, 50, 120), kOk);
	auto got = get<std::uint16_t>(ya, 6 * 4 * 7);
	for (unsigned k = 0; k < 6; k++)
		for (unsigned i = 0; i < 4; i++)
			for (unsigned c = 0; c < 7; c++) {
				std::uint16_t v = got[(k * 4 + i) * 7 + c];
				if (c == 0 || c == 6)
					ASSERT_EQ(v, 0xa5a5) << k << i << c;
				else
					ASSERT_EQ(v, static_cast<std::uint16_t>(
							     xs[(i * 5 + c - 1) * 6 + k]));
			}
	p.y.shape[0] = 5;
	EXPECT_EQ(run(p, 0, 1), kBadTask); // PLAIN needs x's shape
	p = copy_packet(NPU_COPY_PLAIN, x, y);
	p.y.dtype = NPU_DTYPE_BF16;
	EXPECT_EQ(run(p, 0, 1), kBadTask);
	p = copy_packet(NPU_COPY_PAD_EDGE + 1, x, y);
	EXPECT_EQ(run(p, 0, 1), kBadTask);
}

// The padding modes from their definitions: reflection folds back and
// forth at the edges without repeating them.
std::int64_t reference_source(std::uint32_t mode, std::int64_t s, std::int64_t n)
{
	if (s >= 0 && s < n)
		return s;
	if (mode == NPU_COPY_PAD_CONSTANT)
		return -1;
	if (mode == NPU_COPY_PAD_EDGE)
		return s < 0 ? 0 : n - 1;
	while (s < 0 || s >= n)
		s = s < 0 ? -s : 2 * (n - 1) - s;
	return s;
}

TEST_F(EngineCopyTest, PaddingModesWithCrop)
{
	// x [3, 4] (I32) into y [7, 3] with pad_begin {2, -1}: rows padded
	// by 2 before and 2 after, columns cropped by 1 (and the last one
	// past x padded again for the wider y).
	std::vector<std::int32_t> xs(12);
	for (unsigned i = 0; i < 12; i++)
		xs[i] = static_cast<std::int32_t>(10 * (i / 4) + i % 4);
	std::uint64_t xa = put(xs);
	for (std::uint32_t mode :
	     {NPU_COPY_PAD_CONSTANT, NPU_COPY_PAD_REFLECT, NPU_COPY_PAD_EDGE}) {
		for (auto [rows, cols, pr, pc] :
		     {std::tuple{7u, 3u, 2, -1}, std::tuple{11u, 9u, 5, 4},
		      std::tuple{2u, 2u, -1, -2}}) {
			std::uint64_t ya = out<std::int32_t>(rows * cols);
			auto p = copy_packet(mode, make_tensor(xa, NPU_DTYPE_I32, {3, 4}),
					     make_tensor(ya, NPU_DTYPE_I32, {rows, cols}), {pr, pc},
					     0xdeadbeefu);
			ASSERT_EQ(run(p), kOk) << mode;
			auto y = get<std::int32_t>(ya, rows * cols);
			for (unsigned i = 0; i < rows; i++)
				for (unsigned j = 0; j < cols; j++) {
					std::int64_t si =
						reference_source(mode, std::int64_t(i) - pr, 3);
					std::int64_t sj =
						reference_source(mode, std::int64_t(j) - pc, 4);
					std::int32_t want = si < 0 || sj < 0
								    ? std::int32_t(0xdeadbeef)
								    : xs[si * 4 + sj];
					ASSERT_EQ(y[i * cols + j], want)
						<< "mode " << mode << " " << i << "," << j;
				}
		}
	}
}

TEST_F(EngineCopyTest, PadValueTakesTheLowBytesOfYsDtype)
{
	std::uint64_t xa = put(std::vector<std::uint16_t>{f32_to_bf16(1.5f)});
	std::uint64_t ya = out<std::uint16_t>(3);
	auto p = copy_packet(NPU_COPY_PAD_CONSTANT, make_tensor(xa, NPU_DTYPE_BF16, {1}),
			     make_tensor(ya, NPU_DTYPE_BF16, {3}), {1},
			     0xffff0000'0000'0000ull | f32_to_bf16(-2));
	ASSERT_EQ(run(p), kOk);
	EXPECT_EQ(
		get<std::uint16_t>(ya, 3),
		(std::vector<std::uint16_t>{f32_to_bf16(-2), f32_to_bf16(1.5f), f32_to_bf16(-2)}));
	std::uint64_t ia = put(std::vector<std::int64_t>{7});
	std::uint64_t iy = out<std::int64_t>(2);
	p = copy_packet(NPU_COPY_PAD_CONSTANT, make_tensor(ia, NPU_DTYPE_I64, {1}),
			make_tensor(iy, NPU_DTYPE_I64, {2}), {-1}, 0x8000'0000'0000'0001ull);
	ASSERT_EQ(run(p), kOk); // x cropped away entirely
	EXPECT_EQ(get<std::uint64_t>(iy, 2),
		  (std::vector<std::uint64_t>{0x8000'0000'0000'0001ull, 0x8000'0000'0000'0001ull}));
}

TEST_F(EngineCopyTest, ReflectAndEdgeNeedElementsToRepeat)
{
	std::uint64_t xa = put(std::vector<float>{1, 2, 3});
	std::uint64_t ya = out<float>(12);
	// Reflecting a dimension of extent 1 is impossible...
	auto p = copy_packet(NPU_COPY_PAD_REFLECT, make_tensor(xa, NPU_DTYPE_F32, {1, 3}),
			     make_tensor(ya, NPU_DTYPE_F32, {2, 3}), {1, 0});
	EXPECT_EQ(run(p, 0, 1), kBadTask);
	// ... but an extent-1 dimension that is not padded is fine.
	p = copy_packet(NPU_COPY_PAD_REFLECT, make_tensor(xa, NPU_DTYPE_F32, {1, 3}),
			make_tensor(ya, NPU_DTYPE_F32, {1, 7}), {0, 2});
	ASSERT_EQ(run(p), kOk);
	EXPECT_EQ(get<float>(ya, 7), (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
	// Edge padding of an empty x has nothing to repeat; constant does.
	p = copy_packet(NPU_COPY_PAD_EDGE, make_tensor(xa, NPU_DTYPE_F32, {0}),
			make_tensor(ya, NPU_DTYPE_F32, {2}), {1});
	EXPECT_EQ(run(p), kBadTask);
	p.mode = NPU_COPY_PAD_CONSTANT;
	p.pad_value = f32_bits(9);
	ASSERT_EQ(run(p), kOk);
	EXPECT_EQ(get<float>(ya, 2), (std::vector<float>{9, 9}));
	p = copy_packet(NPU_COPY_PAD_EDGE, make_tensor(xa, NPU_DTYPE_F32, {3}),
			make_tensor(ya, NPU_DTYPE_F32, {3, 1}), {0});
	EXPECT_EQ(run(p), kBadTask); // rank mismatch
}

// ---- GATHER -----------------------------------------------------------------

using EngineGatherTest = EngineKernelTest;

TEST_F(EngineGatherTest, TakeAlongEachAxis)
{
	// x [3, 5, 2] (I64 values identify the element), indices [2, 2].
	std::vector<std::int64_t> xs(30);
	for (unsigned i = 0; i < 30; i++)
		xs[i] = 1000 + i;
	std::uint64_t xa = put(xs, false, true);
	auto x = make_tensor(xa, NPU_DTYPE_I64, {3, 5, 2});
	const std::vector<std::int64_t> idx = {4, -1, 0, -5};
	std::uint64_t i64 = put(idx);
	std::vector<std::int32_t> idx32(idx.begin(), idx.end());
	std::uint64_t i32 = put(idx32);
	for (std::uint32_t index_dtype : {NPU_DTYPE_I64, NPU_DTYPE_I32}) {
		auto indices =
			make_tensor(index_dtype == NPU_DTYPE_I64 ? i64 : i32, index_dtype, {2, 2});
		std::uint64_t ya = out<std::int64_t>(3 * 4 * 2);
		auto p = gather_packet(NPU_GATHER_TAKE, 1, x, indices,
				       make_tensor(ya, NPU_DTYPE_I64, {3, 2, 2, 2}));
		ASSERT_EQ(run(p, 0, 5), kOk);
		ASSERT_EQ(run(p, 5, 24), kOk);
		auto y = get<std::int64_t>(ya, 24);
		for (unsigned o = 0; o < 3; o++)
			for (unsigned q = 0; q < 4; q++)
				for (unsigned i = 0; i < 2; i++) {
					std::int64_t e = idx[q] < 0 ? idx[q] + 5 : idx[q];
					ASSERT_EQ(y[(o * 4 + q) * 2 + i], xs[(o * 5 + e) * 2 + i]);
				}
	}
	// Axis 0 with a scalar index: y drops the dimension.
	std::uint64_t one = put(std::vector<std::int32_t>{-2});
	std::uint64_t ya = out<std::int64_t>(10);
	ASSERT_EQ(run(gather_packet(NPU_GATHER_TAKE, 0, x, make_tensor(one, NPU_DTYPE_I32, {}),
				    make_tensor(ya, NPU_DTYPE_I64, {5, 2}))),
		  kOk);
	EXPECT_EQ(get<std::int64_t>(ya, 10),
		  std::vector<std::int64_t>(xs.begin() + 10, xs.begin() + 20));
	// Last axis: one element per index.
	std::uint64_t last = put(std::vector<std::int64_t>{1, 0, 1});
	std::uint64_t yl = out<std::int64_t>(45);
	ASSERT_EQ(run(gather_packet(NPU_GATHER_TAKE, 2, x, make_tensor(last, NPU_DTYPE_I64, {3}),
				    make_tensor(yl, NPU_DTYPE_I64, {3, 5, 3}))),
		  kOk);
	auto y = get<std::int64_t>(yl, 45);
	for (unsigned r = 0; r < 15; r++)
		ASSERT_EQ((std::vector<std::int64_t>{y[r * 3], y[r * 3 + 1], y[r * 3 + 2]}),
			  (std::vector<std::int64_t>{xs[r * 2 + 1], xs[r * 2], xs[r * 2 + 1]}))
			<< r;
}

TEST_F(EngineGatherTest, TakeRejectsBadIndicesAndShapes)
{
	std::uint64_t xa = put(std::vector<float>{1, 2, 3, 4, 5, 6});
	auto x = make_tensor(xa, NPU_DTYPE_F32, {2, 3});
	std::uint64_t ya = out<float>(6);
	auto take = [&](std::vector<std::int64_t> idx, std::uint32_t axis) {
		std::uint64_t ia = put(idx);
		std::uint32_t n = static_cast<std::uint32_t>(idx.size());
		auto y = axis == 0 ? make_tensor(ya, NPU_DTYPE_F32, {n, 3})
				   : make_tensor(ya, NPU_DTYPE_F32, {2, n});
		return run(gather_packet(NPU_GATHER_TAKE, axis, x,
					 make_tensor(ia, NPU_DTYPE_I64, {n}), y));
	};
	EXPECT_EQ(take({1, -2}, 0), kOk);
	EXPECT_EQ(take({2}, 0), kBadTask);
	EXPECT_EQ(take({-3}, 0), kBadTask);
	EXPECT_EQ(take({-3, 2}, 1), kOk);
	EXPECT_EQ(take({3}, 1), kBadTask);
	EXPECT_EQ(take({std::numeric_limits<std::int64_t>::min()}, 1), kBadTask);
	EXPECT_EQ(take({0}, 2), kBadTask); // axis beyond the rank
	std::uint64_t fa = put(std::vector<float>{0});
	EXPECT_EQ(run(gather_packet(NPU_GATHER_TAKE, 0, x, make_tensor(fa, NPU_DTYPE_F32, {1}),
				    make_tensor(ya, NPU_DTYPE_F32, {1, 3}))),
		  kBadTask); // float indices
	std::uint64_t ia = put(std::vector<std::int64_t>{0});
	EXPECT_EQ(run(gather_packet(NPU_GATHER_TAKE, 0, x, make_tensor(ia, NPU_DTYPE_I64, {1}),
				    make_tensor(ya, NPU_DTYPE_F32, {1, 2}))),
		  kBadTask); // y's inner extent is not x's
	EXPECT_EQ(run(gather_packet(NPU_GATHER_TAKE, 0, x, make_tensor(ia, NPU_DTYPE_I64, {1}),
				    make_tensor(ya, NPU_DTYPE_I32, {1, 3}))),
		  kBadTask); // y's dtype is not x's
	EXPECT_EQ(run(gather_packet(NPU_GATHER_ELEMENTS + 1, 0, x,
				    make_tensor(ia, NPU_DTYPE_I64, {1}),
				    make_tensor(ya, NPU_DTYPE_F32, {1, 3}))),
		  kBadTask);
}

TEST_F(EngineGatherTest, ElementsAlongEachAxis)
{
	// x [3, 4] U8; indices [2, 3] (smaller than x outside the axis).
	std::vector<std::uint8_t> xs(12);
	for (unsigned i = 0; i < 12; i++)
		xs[i] = static_cast<std::uint8_t>(10 * (i / 4) + i % 4);
	std::uint64_t xa = put(xs);
	auto x = make_tensor(xa, NPU_DTYPE_U8, {3, 4});
	const std::vector<std::int32_t> idx = {2, -1, 0, 1, -3, 2};
	std::uint64_t ia = put(idx);
	std::uint64_t ya = out<std::uint8_t>(6);
	auto p = gather_packet(NPU_GATHER_ELEMENTS, 0, x, make_tensor(ia, NPU_DTYPE_I32, {2, 3}),
			       make_tensor(ya, NPU_DTYPE_U8, {2, 3}));
	ASSERT_EQ(run(p), kOk);
	auto y = get<std::uint8_t>(ya, 6);
	for (unsigned i = 0; i < 2; i++)
		for (unsigned j = 0; j < 3; j++) {
			std::int64_t e = idx[i * 3 + j];
			e = e < 0 ? e + 3 : e;
			EXPECT_EQ(y[i * 3 + j], xs[e * 4 + j]) << i << "," << j;
		}
	p.axis = 1;
	ASSERT_EQ(run(p, 0, 4), kOk);
	ASSERT_EQ(run(p, 4, 6), kOk);
	y = get<std::uint8_t>(ya, 6);
	for (unsigned i = 0; i < 2; i++)
		for (unsigned j = 0; j < 3; j++) {
			std::int64_t e = idx[i * 3 + j];
			e = e < 0 ? e + 4 : e;
			EXPECT_EQ(y[i * 3 + j], xs[i * 4 + e]) << i << "," << j;
		}
	// An index past the axis, and indices wider than x off the axis.
	std::uint64_t bad = put(std::vector<std::int32_t>{0, 0, 3, 0, 0, 0});
	p.indices.addr = bad;
	p.axis = 0;
	EXPECT_EQ(run(p), kBadTask);
	p.axis = 1;
	EXPECT_EQ(run(p), kOk);
	std::uint64_t wide = out<std::uint8_t>(10);
	p = gather_packet(NPU_GATHER_ELEMENTS, 0, x, make_tensor(ia, NPU_DTYPE_I32, {1, 5}),
			  make_tensor(wide, NPU_DTYPE_U8, {1, 5}));
	EXPECT_EQ(run(p), kBadTask);
	p = gather_packet(NPU_GATHER_ELEMENTS, 0, x, make_tensor(ia, NPU_DTYPE_I32, {6}),
			  make_tensor(wide, NPU_DTYPE_U8, {6}));
	EXPECT_EQ(run(p), kBadTask); // indices need x's rank
}

// ---- CAST -------------------------------------------------------------------

using EngineCastTest = EngineKernelTest;

// One element of a dtype as bytes, from a value given as double (floats)
// or int64 (integers, BOOL).
struct Element {
	bool is_float;
	double f;
	std::int64_t i;
};

// Round an integer to bf16 directly (8 significant bits, ties to even).
std::uint16_t int_to_bf16(std::int64_t v)
{
	unsigned __int128 mag = v < 0 ? -static_cast<__int128>(v) : v;
	int bits = 0;
	while ((mag >> bits) > 0)
		bits++;
	if (bits > 8) {
		int shift = bits - 8;
		unsigned __int128 q = mag >> shift,
				  rem = mag & (((unsigned __int128)1 << shift) - 1);
		unsigned __int128 half = (unsigned __int128)1 << (shift - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++;
		mag = q << shift;
	}
	float f = static_cast<float>(static_cast<double>(mag)); // <= 9 significant bits: exact
	return f32_to_bf16(v < 0 ? -f : f);
}

std::vector<std::uint8_t> encode(std::uint32_t dtype, const Element &e)
{
	std::vector<std::uint8_t> out(dtype_size(dtype));
	auto put_bytes = [&](auto v) { std::memcpy(out.data(), &v, sizeof(v)); };
	if (e.is_float) {
		double v = e.f;
		auto sat = [&](double lo, double hi) {
			return std::isnan(v) ? 0.0 : std::trunc(std::min(std::max(v, lo), hi));
		};
		switch (dtype) {
		case NPU_DTYPE_F32:
			put_bytes(static_cast<float>(v));
			break;
		case NPU_DTYPE_F16:
			put_bytes(f32_to_f16(static_cast<float>(v)));
			break;
		case NPU_DTYPE_BF16:
			put_bytes(f32_to_bf16(static_cast<float>(v)));
			break;
		case NPU_DTYPE_I8:
			put_bytes(static_cast<std::int8_t>(sat(-128, 127)));
			break;
		case NPU_DTYPE_U8:
			put_bytes(static_cast<std::uint8_t>(sat(0, 255)));
			break;
		case NPU_DTYPE_I32:
			put_bytes(static_cast<std::int32_t>(sat(-2147483648.0, 2147483647.0)));
			break;
		case NPU_DTYPE_I64:
			put_bytes(std::isnan(v)	 ? std::int64_t(0)
				  : v >= 0x1p63	 ? std::numeric_limits<std::int64_t>::max()
				  : v <= -0x1p63 ? std::numeric_limits<std::int64_t>::min()
						 : static_cast<std::int64_t>(v));
			break;
		case NPU_DTYPE_BOOL:
			put_bytes(static_cast<std::uint8_t>(v != 0));
			break;
		}
		return out;
	}
	std::int64_t v = e.i;
	switch (dtype) {
	case NPU_DTYPE_F32:
		put_bytes(static_cast<float>(v));
		break;
	case NPU_DTYPE_F16:
		put_bytes(f32_to_f16(static_cast<float>(v)));
		break;
	case NPU_DTYPE_BF16:
		put_bytes(int_to_bf16(v));
		break;
	case NPU_DTYPE_BOOL:
		put_bytes(static_cast<std::uint8_t>(v != 0));
		break;
	default: // two's complement: the low bytes
		std::memcpy(out.data(), &v, out.size());
	}
	return out;
}

// Values of each source dtype (representable in it exactly).
std::vector<Element> samples_of(std::uint32_t dtype)
{
	std::vector<Element> v;
	if (dtype_is_float(dtype)) {
		for (double f : {0.0,	 -0.0,	1.5,   -1.5,	 2.5,	    -2.75,	127.5,
				 -129.0, 255.5, 300.0, 65504.0,	 -65536.0,  3e9,	-3e9,
				 1e19,	 -1e19, 1e-3,  HUGE_VAL, -HUGE_VAL, double(NAN)}) {
			// Round the sample into the source dtype first.
			std::vector<std::uint8_t> b = encode(dtype, {true, f, 0});
			std::uint16_t h = 0;
			float x = 0;
			if (dtype == NPU_DTYPE_F32)
				std::memcpy(&x, b.data(), 4);
			else
				std::memcpy(&h, b.data(), 2),
					x = dtype == NPU_DTYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
			v.push_back({true, x, 0});
		}
		return v;
	}
	if (dtype == NPU_DTYPE_BOOL)
		return {{false, 0, 0}, {false, 0, 1}};
	const std::int64_t ints[] = {0,
				     1,
				     -1,
				     127,
				     -128,
				     255,
				     256,
				     -129,
				     65519,
				     65520,
				     (1 << 24) + (1 << 16) + 1,
				     std::numeric_limits<std::int32_t>::min(),
				     std::numeric_limits<std::int32_t>::max(),
				     (std::int64_t(1) << 53) + 1,
				     std::numeric_limits<std::int64_t>::min(),
				     std::numeric_limits<std::int64_t>::max()};
	for (std::int64_t i : ints) {
		// Wrap into the source dtype.
		std::vector<std::uint8_t> b = encode(dtype, {false, 0, i});
		std::int64_t w = 0;
		switch (dtype) {
		case NPU_DTYPE_I8:
			w = static_cast<std::int8_t>(b[0]);
			break;
		case NPU_DTYPE_U8:
			w = b[0];
			break;
		case NPU_DTYPE_I32:
			w = std::bit_cast<std::int32_t>(
				std::array<std::uint8_t, 4>{b[0], b[1], b[2], b[3]});
			break;
		default:
			w = i;
		}
		v.push_back({false, 0, w});
	}
	return v;
}

TEST_F(EngineCastTest, EveryDtypePair)
{
	for (std::uint32_t from = NPU_DTYPE_F32; from <= NPU_DTYPE_LAST; from++) {
		std::vector<Element> values = samples_of(from);
		const unsigned n = static_cast<unsigned>(values.size());
		std::vector<std::uint8_t> raw;
		for (const Element &e : values) {
			auto b = encode(from, e);
			raw.insert(raw.end(), b.begin(), b.end());
		}
		std::uint64_t xa = put(raw);
		for (std::uint32_t to = NPU_DTYPE_F32; to <= NPU_DTYPE_LAST; to++) {
			std::uint64_t ya = out<std::uint64_t>(n);
			ASSERT_EQ(run(cast_packet(make_tensor(xa, from, {n}),
						  make_tensor(ya, to, {n}))),
				  kOk);
			const std::size_t size = dtype_size(to);
			auto y = get<std::uint8_t>(ya, n * size);
			for (unsigned k = 0; k < n; k++) {
				auto want = encode(to, values[k]);
				std::vector<std::uint8_t> got(y.begin() + k * size,
							      y.begin() + (k + 1) * size);
				bool both_nan = false;
				if (dtype_is_float(to) && values[k].is_float &&
				    std::isnan(values[k].f))
					both_nan = true; // any NaN encoding will do
				if (both_nan)
					continue;
				EXPECT_EQ(got, want)
					<< "from " << from << " to " << to << " value "
					<< (values[k].is_float ? values[k].f : double(values[k].i));
			}
		}
	}
}

TEST_F(EngineCastTest, NaNStaysNaNAndBroadcastSource)
{
	std::uint64_t xa = put(std::vector<float>{kNaN, -kInf});
	std::uint64_t ya = out<std::uint16_t>(6);
	// x's two elements broadcast over three rows.
	ASSERT_EQ(run(cast_packet(make_tensor(xa, NPU_DTYPE_F32, {3, 2}, {0, 1}),
				  make_tensor(ya, NPU_DTYPE_F16, {3, 2}))),
		  kOk);
	auto y = get<std::uint16_t>(ya, 6);
	for (unsigned r = 0; r < 3; r++) {
		EXPECT_TRUE(std::isnan(f16_to_f32(y[r * 2])));
		EXPECT_EQ(y[r * 2 + 1], 0xfc00);
	}
	EXPECT_EQ(run(cast_packet(make_tensor(xa, NPU_DTYPE_F32, {2}),
				  make_tensor(ya, NPU_DTYPE_F16, {1, 2}))),
		  kBadTask);
}

} // namespace
} // namespace npu::emu::test
