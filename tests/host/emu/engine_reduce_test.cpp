// SPDX-License-Identifier: MIT
// The REDUCE kernel against a reference that walks x's elements by their
// multi-index: every function, axis sets, layouts, dtypes, empty slices.
#include <cmath>
#include <limits>
#include <map>

#include "engine_fixture.h"

namespace npu::emu::test
{
namespace
{

using EngineReduceTest = EngineKernelTest;

// y's shape for x's shape and an axis set.
std::vector<std::uint32_t> reduced_shape(const std::vector<std::uint32_t> &shape,
					 std::uint32_t axes)
{
	std::vector<std::uint32_t> out = shape;
	for (std::size_t d = 0; d < shape.size(); d++)
		if ((axes >> d) & 1)
			out[d] = 1;
	return out;
}

// Groups x's row-major elements by the row-major index of their y element.
std::vector<std::vector<double>>
slices_of(const std::vector<double> &x, const std::vector<std::uint32_t> &shape, std::uint32_t axes)
{
	std::vector<std::uint32_t> ys = reduced_shape(shape, axes);
	std::size_t y_count = 1;
	for (auto e : ys)
		y_count *= e;
	std::vector<std::vector<double>> slices(y_count);
	std::vector<std::uint32_t> index(shape.size(), 0);
	for (double v : x) {
		std::size_t flat = 0;
		for (std::size_t d = 0; d < shape.size(); d++)
			flat = flat * ys[d] + (((axes >> d) & 1) ? 0 : index[d]);
		slices[flat].push_back(v);
		for (std::size_t d = shape.size(); d-- > 0;) {
			if (++index[d] < shape[d])
				break;
			index[d] = 0;
		}
	}
	return slices;
}

double reference_reduce(std::uint32_t fn, const std::vector<double> &s)
{
	double acc = 0;
	switch (fn) {
	case NPU_RED_SUM:
	case NPU_RED_MEAN:
	case NPU_RED_LOG_SUM:
		for (double v : s)
			acc += v;
		if (fn == NPU_RED_MEAN)
			return acc / static_cast<double>(s.size());
		return fn == NPU_RED_LOG_SUM ? std::log(acc) : acc;
	case NPU_RED_MAX:
		acc = -HUGE_VAL;
		for (double v : s)
			acc = std::isnan(v) || std::isnan(acc) ? NAN : std::max(acc, v);
		return acc;
	case NPU_RED_MIN:
		acc = HUGE_VAL;
		for (double v : s)
			acc = std::isnan(v) || std::isnan(acc) ? NAN : std::min(acc, v);
		return acc;
	case NPU_RED_PROD:
		acc = 1;
		for (double v : s)
			acc *= v;
		return acc;
	case NPU_RED_SUM_SQUARE:
	case NPU_RED_L2:
		for (double v : s)
			acc += v * v;
		return fn == NPU_RED_L2 ? std::sqrt(acc) : acc;
	case NPU_RED_L1:
		for (double v : s)
			acc += std::fabs(v);
		return acc;
	case NPU_RED_LOG_SUM_EXP:
		for (double v : s)
			acc += std::exp(v);
		return std::log(acc);
	default:
		return NAN;
	}
}

TEST_F(EngineReduceTest, EveryFloatFunctionOverEveryAxisSet)
{
	// x [3, 4, 5] stored transposed (memory [5][4][3]), values in (-2, 2.5).
	const std::vector<std::uint32_t> shape = {3, 4, 5};
	std::vector<double> logical(60);
	std::vector<float> memory(60);
	for (unsigned i = 0; i < 3; i++)
		for (unsigned j = 0; j < 4; j++)
			for (unsigned k = 0; k < 5; k++) {
				float v = static_cast<float>((i * 7 + j * 5 + k * 3) % 18) / 4 - 2;
				logical[(i * 4 + j) * 5 + k] = v;
				memory[(k * 4 + j) * 3 + i] = v;
			}
	std::uint64_t xa = put(memory, false, true);
	auto x = make_tensor(xa, NPU_DTYPE_F32, shape, {1, 3, 12});
	std::uint64_t ya = out<float>(60);
	for (std::uint32_t axes = 0; axes < 8; axes++) {
		auto ys = reduced_shape(shape, axes);
		auto slices = slices_of(logical, shape, axes);
		for (std::uint32_t fn = NPU_RED_SUM; fn <= NPU_RED_LOG_SUM_EXP; fn++) {
			auto p = reduce_packet(fn, axes, x, make_tensor(ya, NPU_DTYPE_F32, ys));
			ASSERT_EQ(run(p), kOk) << fn << " axes " << axes;
			auto y = get<float>(ya, slices.size());
			for (std::size_t j = 0; j < slices.size(); j++)
				EXPECT_TRUE(close_f32(y[j], reference_reduce(fn, slices[j])))
					<< "fn " << fn << " axes " << axes << " y " << j;
		}
	}
}

TEST_F(EngineReduceTest, LongAndShortSlicesInTiles)
{
	// 5000 x 3: axis 0 gives three long strided slices, axis 1 5000 short
	// ones (several per read); each computed in two tiles.
	const unsigned rows = 5000;
	std::vector<float> xs(rows * 3);
	for (unsigned i = 0; i < xs.size(); i++)
		xs[i] = static_cast<float>(i % 97) - 40;
	std::uint64_t xa = put(xs, false, true);
	auto x = make_tensor(xa, NPU_DTYPE_F32, {rows, 3});
	std::uint64_t ya = out<float>(rows);
	auto p = reduce_packet(NPU_RED_SUM, 1, x, make_tensor(ya, NPU_DTYPE_F32, {1, 3}));
	ASSERT_EQ(run(p, 0, 1), kOk);
	ASSERT_EQ(run(p, 1, 3), kOk);
	auto y = get<float>(ya, 3);
	for (unsigned c = 0; c < 3; c++) {
		double want = 0;
		for (unsigned r = 0; r < rows; r++)
			want += xs[r * 3 + c];
		EXPECT_EQ(y[c], want) << c;
	}
	p = reduce_packet(NPU_RED_MAX, 2, x, make_tensor(ya, NPU_DTYPE_F32, {rows, 1}));
	ASSERT_EQ(run(p, 0, 777), kOk);
	ASSERT_EQ(run(p, 777, rows), kOk);
	y = get<float>(ya, rows);
	for (unsigned r = 0; r < rows; r++)
		ASSERT_EQ(y[r], std::max({xs[r * 3], xs[r * 3 + 1], xs[r * 3 + 2]})) << r;
}

TEST_F(EngineReduceTest, ArgMaxArgMinWithTiesAndNaN)
{
	// Rows with ties; the last row holds NaNs (they win both ways, first
	// or last by the flag).
	const std::vector<float> xs = {3,    1,	 3,    0,     1, //
				       -1,   -1, -2,   -2,    5, //
				       7,    7,	 7,    7,     7, //
				       kNaN, 2,	 kNaN, -kInf, kInf};
	std::uint64_t xa = put(xs);
	auto x = make_tensor(xa, NPU_DTYPE_F32, {4, 5});
	std::uint64_t ya = out<std::int64_t>(5);
	struct Case {
		std::uint32_t fn, flags;
		std::vector<std::int64_t> want;
	};
	const Case along_rows[] = {
		{NPU_RED_ARGMAX, 0, {0, 4, 0, 0}},
		{NPU_RED_ARGMAX, NPU_RED_SELECT_LAST, {2, 4, 4, 2}},
		{NPU_RED_ARGMIN, 0, {3, 2, 0, 0}},
		{NPU_RED_ARGMIN, NPU_RED_SELECT_LAST, {3, 3, 4, 2}},
	};
	for (const Case &c : along_rows) {
		ASSERT_EQ(run(reduce_packet(c.fn, 2, x, make_tensor(ya, NPU_DTYPE_I64, {4, 1}),
					    c.flags)),
			  kOk);
		EXPECT_EQ(get<std::int64_t>(ya, 4), c.want) << c.fn << " flags " << c.flags;
	}
	// Down the columns into I32 (rows 0..2 only: no NaN).
	auto top = make_tensor(xa, NPU_DTYPE_F32, {3, 5});
	ASSERT_EQ(run(reduce_packet(NPU_RED_ARGMAX, 1, top, make_tensor(ya, NPU_DTYPE_I32, {1, 5}),
				    NPU_RED_SELECT_LAST)),
		  kOk);
	EXPECT_EQ(get<std::int32_t>(ya, 5), (std::vector<std::int32_t>{2, 2, 2, 2, 2}));
	ASSERT_EQ(
		run(reduce_packet(NPU_RED_ARGMIN, 1, top, make_tensor(ya, NPU_DTYPE_I32, {1, 5}))),
		kOk);
	EXPECT_EQ(get<std::int32_t>(ya, 5), (std::vector<std::int32_t>{1, 1, 1, 1, 0}));
	// Integers and bools.
	std::uint64_t ia = put(std::vector<std::int8_t>{-5, 9, 9, -128, 127, 127});
	ASSERT_EQ(run(reduce_packet(NPU_RED_ARGMAX, 1, make_tensor(ia, NPU_DTYPE_I8, {6}),
				    make_tensor(ya, NPU_DTYPE_I64, {1}), NPU_RED_SELECT_LAST)),
		  kOk);
	EXPECT_EQ(get<std::int64_t>(ya, 1)[0], 5);
	std::uint64_t ba = put(std::vector<std::uint8_t>{0, 0, 1, 0, 1});
	ASSERT_EQ(run(reduce_packet(NPU_RED_ARGMAX, 1, make_tensor(ba, NPU_DTYPE_BOOL, {5}),
				    make_tensor(ya, NPU_DTYPE_I64, {1}))),
		  kOk);
	EXPECT_EQ(get<std::int64_t>(ya, 1)[0], 2);
	// Exactly one axis, an index dtype for y.
	EXPECT_EQ(run(reduce_packet(NPU_RED_ARGMAX, 3, x, make_tensor(ya, NPU_DTYPE_I64, {1, 1}))),
		  kBadTask);
	EXPECT_EQ(run(reduce_packet(NPU_RED_ARGMAX, 0, x, make_tensor(ya, NPU_DTYPE_I64, {4, 5}))),
		  kBadTask);
	EXPECT_EQ(run(reduce_packet(NPU_RED_ARGMAX, 1, x, make_tensor(ya, NPU_DTYPE_F32, {1, 5}))),
		  kBadTask);
}

template <typename T> void check_integer_reduce(EngineReduceTest &t, std::uint32_t dtype)
{
	// [4, 9]: the samples (extremes, signs) in rows.
	std::vector<T> samples = int_samples<T>();
	samples.resize(36, static_cast<T>(3));
	std::uint64_t xa = t.put(samples);
	auto x = make_tensor(xa, dtype, {4, 9});
	std::uint64_t ya = t.template out<T>(4);
	for (std::uint32_t fn : {NPU_RED_SUM, NPU_RED_MEAN, NPU_RED_MAX, NPU_RED_MIN, NPU_RED_PROD,
				 NPU_RED_SUM_SQUARE, NPU_RED_L1}) {
		ASSERT_EQ(t.run(reduce_packet(fn, 2, x, make_tensor(ya, dtype, {4, 1}))), kOk)
			<< fn;
		auto y = t.template get<T>(ya, 4);
		for (unsigned r = 0; r < 4; r++) {
			// Sums exact in 128 bits, then wrapped; MEAN truncates.
			__int128 sum = 0, l1 = 0;
			unsigned __int128 sq = 0; // only its low 64 bits matter
			std::uint64_t prod = 1;
			__int128 mx = std::numeric_limits<T>::min(),
				 mn = std::numeric_limits<T>::max();
			for (unsigned c = 0; c < 9; c++) {
				__int128 v = samples[r * 9 + c];
				sum += v;
				sq += static_cast<unsigned __int128>(v * v);
				l1 += v < 0 ? -v : v;
				prod *= static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
				mx = std::max(mx, v);
				mn = std::min(mn, v);
			}
			__int128 want = fn == NPU_RED_SUM	   ? sum
					: fn == NPU_RED_MEAN	   ? sum / 9
					: fn == NPU_RED_MAX	   ? mx
					: fn == NPU_RED_MIN	   ? mn
					: fn == NPU_RED_PROD	   ? __int128(std::int64_t(prod))
					: fn == NPU_RED_SUM_SQUARE ? __int128(std::uint64_t(sq))
								   : l1;
			EXPECT_EQ(y[r], static_cast<T>(static_cast<std::uint64_t>(want)))
				<< "dtype " << dtype << " fn " << fn << " row " << r;
		}
	}
	for (std::uint32_t fn : {NPU_RED_L2, NPU_RED_LOG_SUM, NPU_RED_LOG_SUM_EXP})
		EXPECT_EQ(t.run(reduce_packet(fn, 2, x, make_tensor(ya, dtype, {4, 1}))), kBadTask);
	EXPECT_EQ(t.run(reduce_packet(
			  NPU_RED_SUM, 2, x,
			  make_tensor(ya, dtype == NPU_DTYPE_I64 ? NPU_DTYPE_I32 : NPU_DTYPE_I64,
				      {4, 1}))),
		  kBadTask);
}

TEST_F(EngineReduceTest, IntegersAreExact)
{
	check_integer_reduce<std::int8_t>(*this, NPU_DTYPE_I8);
	check_integer_reduce<std::uint8_t>(*this, NPU_DTYPE_U8);
	check_integer_reduce<std::int32_t>(*this, NPU_DTYPE_I32);
	check_integer_reduce<std::int64_t>(*this, NPU_DTYPE_I64);
	// The mean of large I64 values does not overflow on the way.
	const std::int64_t big = std::int64_t(1) << 62;
	std::uint64_t xa = put(std::vector<std::int64_t>{big, big + 2, big + 7});
	std::uint64_t ya = out<std::int64_t>(1);
	ASSERT_EQ(run(reduce_packet(NPU_RED_MEAN, 1, make_tensor(xa, NPU_DTYPE_I64, {3}),
				    make_tensor(ya, NPU_DTYPE_I64, {1}))),
		  kOk);
	EXPECT_EQ(get<std::int64_t>(ya, 1)[0], big + 3);
	std::uint64_t na = put(std::vector<std::int32_t>{-7, 0});
	ASSERT_EQ(run(reduce_packet(NPU_RED_MEAN, 1, make_tensor(na, NPU_DTYPE_I32, {2}),
				    make_tensor(ya, NPU_DTYPE_I32, {1}))),
		  kOk);
	EXPECT_EQ(get<std::int32_t>(ya, 1)[0], -3); // truncated toward zero
}

TEST_F(EngineReduceTest, BoolAnyAll)
{
	std::uint64_t xa = put(std::vector<std::uint8_t>{0, 0, 0, 1, 1, 1, 0, 1, 0});
	auto x = make_tensor(xa, NPU_DTYPE_BOOL, {3, 3});
	std::uint64_t ya = out<std::uint8_t>(3);
	ASSERT_EQ(run(reduce_packet(NPU_RED_MAX, 2, x, make_tensor(ya, NPU_DTYPE_BOOL, {3, 1}))),
		  kOk);
	EXPECT_EQ(get<std::uint8_t>(ya, 3), (std::vector<std::uint8_t>{0, 1, 1}));
	ASSERT_EQ(run(reduce_packet(NPU_RED_MIN, 2, x, make_tensor(ya, NPU_DTYPE_BOOL, {3, 1}))),
		  kOk);
	EXPECT_EQ(get<std::uint8_t>(ya, 3), (std::vector<std::uint8_t>{0, 1, 0}));
	EXPECT_EQ(run(reduce_packet(NPU_RED_SUM, 2, x, make_tensor(ya, NPU_DTYPE_BOOL, {3, 1}))),
		  kBadTask);
}

TEST_F(EngineReduceTest, EmptySlicesGiveTheIdentity)
{
	// x [3, 0]: y [3, 1] reduces nothing per element (x has no memory).
	auto xf = make_tensor(0x5000'0000, NPU_DTYPE_F32, {3, 0});
	std::uint64_t ya = out<std::int64_t>(3);
	auto yf = make_tensor(ya, NPU_DTYPE_F32, {3, 1});
	auto first = [&](std::uint32_t fn, const npu_tensor &x, const npu_tensor &y) {
		EXPECT_EQ(run(reduce_packet(fn, 2, x, y)), kOk) << fn;
		return get<float>(ya, 3);
	};
	EXPECT_EQ(first(NPU_RED_SUM, xf, yf)[2], 0);
	EXPECT_EQ(first(NPU_RED_PROD, xf, yf)[1], 1);
	EXPECT_EQ(first(NPU_RED_MAX, xf, yf)[0], -kInf);
	EXPECT_EQ(first(NPU_RED_MIN, xf, yf)[0], kInf);
	EXPECT_EQ(first(NPU_RED_LOG_SUM_EXP, xf, yf)[0], -kInf);
	EXPECT_TRUE(std::isnan(first(NPU_RED_MEAN, xf, yf)[0]));
	auto xi = make_tensor(0x5000'0000, NPU_DTYPE_I32, {3, 0});
	auto yi = make_tensor(ya, NPU_DTYPE_I32, {3, 1});
	auto first_int = [&](std::uint32_t fn) {
		EXPECT_EQ(run(reduce_packet(fn, 2, xi, yi)), kOk) << fn;
		return get<std::int32_t>(ya, 3)[0];
	};
	EXPECT_EQ(first_int(NPU_RED_MAX), std::numeric_limits<std::int32_t>::min());
	EXPECT_EQ(first_int(NPU_RED_MIN), std::numeric_limits<std::int32_t>::max());
	EXPECT_EQ(first_int(NPU_RED_PROD), 1);
	EXPECT_EQ(first_int(NPU_RED_MEAN), 0);
	// ... but there is no index of the extreme of nothing.
	EXPECT_EQ(run(reduce_packet(NPU_RED_ARGMAX, 2, xi, make_tensor(ya, NPU_DTYPE_I64, {3, 1}))),
		  kBadTask);
}

TEST_F(EngineReduceTest, NoAxesAndMalformedPackets)
{
	std::uint64_t xa = put(std::vector<float>{-3, 4, 0.5f});
	auto x = make_tensor(xa, NPU_DTYPE_F32, {3});
	std::uint64_t ya = out<float>(3);
	ASSERT_EQ(run(reduce_packet(NPU_RED_L2, 0, x, make_tensor(ya, NPU_DTYPE_F32, {3}))), kOk);
	EXPECT_EQ(get<float>(ya, 3), (std::vector<float>{3, 4, 0.5f}));
	ASSERT_EQ(
		run(reduce_packet(NPU_RED_LOG_SUM_EXP, 0, x, make_tensor(ya, NPU_DTYPE_F32, {3}))),
		kOk);
	for (unsigned i = 0; i < 3; i++)
		EXPECT_TRUE(close_f32(get<float>(ya, 3)[i], std::vector<double>{-3, 4, 0.5}[i]));
	// A scalar reduces to itself.
	ASSERT_EQ(run(reduce_packet(NPU_RED_SUM, 0, make_tensor(xa, NPU_DTYPE_F32, {}),
				    make_tensor(ya, NPU_DTYPE_F32, {}))),
		  kOk);
	EXPECT_EQ(get<float>(ya, 1)[0], -3);

	auto y1 = make_tensor(ya, NPU_DTYPE_F32, {1});
	EXPECT_EQ(run(reduce_packet(NPU_RED_SUM, 2, x, y1)), kBadTask); // axis beyond the rank
	EXPECT_EQ(run(reduce_packet(NPU_RED_SUM, 1, x, make_tensor(ya, NPU_DTYPE_F32, {3}))),
		  kBadTask); // reduced extent must be 1
	EXPECT_EQ(run(reduce_packet(NPU_RED_SUM, 1, x, make_tensor(ya, NPU_DTYPE_F32, {}))),
		  kBadTask); // y keeps x's rank
	EXPECT_EQ(run(reduce_packet(NPU_RED_SUM, 1, x, make_tensor(ya, NPU_DTYPE_F16, {1}))),
		  kBadTask);
	EXPECT_EQ(run(reduce_packet(NPU_RED_LAST + 1, 1, x, y1)), kBadTask);
	EXPECT_EQ(run(reduce_packet(NPU_RED_SUM, 1, x, y1), 0, 2), kBadTask); // tile past y
}

} // namespace
} // namespace npu::emu::test
