// SPDX-License-Identifier: MIT
// GEMM on a tensor engine: y = act(alpha * (a x b) + beta * c) for the
// rows (over batch * M) and columns of one tile. Operands are staged into
// the engine's local memory as dense matrices; floats and 8-bit integers
// multiply with oneDNN on the engine's thread, I32/I64 with exact loops.
//
// Local memory (the firmware's tile plan assumes the same): a tile of r rows
// and c columns stages r x K of a, K x c of b (one batch's matrix at a
// time) and r x c of c and of the result, each element 4 bytes wide (8 for
// I64): e * (r*K + K*c + 2*r*c) bytes.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>

#include "npu_engine_kernels.h"
#include "npu_engine_state.h"

namespace npu::emu
{

namespace
{

using dt = dnnl::memory::data_type;
using fmt = dnnl::memory::format_tag;

enum class GemmKind { Float, Int8, Integer };

struct Geometry {
	std::uint64_t batch = 1, M = 0, K = 0, N = 0;
	bool b_shared = true; // every batch index reads the same b matrix
	std::uint64_t row0 = 0, row1 = 0, col0 = 0, col1 = 0;
	std::uint64_t rows() const { return row1 - row0; }
	std::uint64_t cols() const { return col1 - col0; }
};

// The part of a tile's rows inside one batch matrix: tile-relative rows
// [first, first + count) of batch index batch.
struct BatchSegment {
	std::uint64_t batch, first, count;
};

Geometry geometry(const npu_pkt_gemm &p, const npu_engine_task &task)
{
	const npu_tensor &y = p.y;
	bool has_c = p.c.dtype != NPU_DTYPE_NONE;
	unsigned r = y.rank;
	require(r >= 2 && r <= NPU_MAX_RANK && p.a.rank == r && p.b.rank == r &&
		(!has_c || p.c.rank == r));
	Geometry g;
	for (unsigned d = 0; d + 2 < r; d++) {
		require(p.a.shape[d] == y.shape[d] && p.b.shape[d] == y.shape[d] &&
			(!has_c || p.c.shape[d] == y.shape[d]));
		g.batch = checked_mul(g.batch, y.shape[d]);
		if (y.shape[d] > 1 && p.b.stride[d] != 0)
			g.b_shared = false;
	}
	g.M = y.shape[r - 2];
	g.N = y.shape[r - 1];
	g.K = p.a.shape[r - 1];
	require(p.a.shape[r - 2] == g.M && p.b.shape[r - 2] == g.K && p.b.shape[r - 1] == g.N);
	if (has_c)
		require(p.c.shape[r - 2] == g.M && p.c.shape[r - 1] == g.N);
	require(task.end[0] <= checked_mul(g.batch, g.M) && task.end[1] <= g.N);
	g.row0 = task.begin[0];
	g.row1 = task.end[0];
	g.col0 = task.begin[1];
	g.col1 = task.end[1];
	return g;
}

GemmKind kind_of(const npu_pkt_gemm &p)
{
	auto is_8bit = [](std::uint32_t t) { return t == NPU_DTYPE_I8 || t == NPU_DTYPE_U8; };
	std::uint32_t a = p.a.dtype, b = p.b.dtype, c = p.c.dtype, y = p.y.dtype;
	bool has_c = c != NPU_DTYPE_NONE;
	bool int_act = p.act.fn == NPU_FN_IDENTITY || p.act.fn == NPU_FN_RELU;
	if (dtype_is_float(a) && dtype_is_float(b)) {
		require(dtype_is_float(y) && (!has_c || dtype_is_float(c)));
		return GemmKind::Float;
	}
	if (is_8bit(a) && is_8bit(b)) {
		require(y == NPU_DTYPE_I32 || y == NPU_DTYPE_F32 || is_8bit(y));
		require(!has_c || c == (y == NPU_DTYPE_F32 ? NPU_DTYPE_F32 : NPU_DTYPE_I32));
		require(y != NPU_DTYPE_I32 || int_act);
		return GemmKind::Int8;
	}
	require((a == NPU_DTYPE_I32 || a == NPU_DTYPE_I64) && b == a && y == a &&
		(!has_c || c == a) && int_act);
	return GemmKind::Integer;
}

// Rows of the tile split at batch boundaries (one segment when b is shared:
// then a x b is one product whatever the batch).
std::vector<BatchSegment> segments(const Geometry &g)
{
	std::vector<BatchSegment> out;
	if (g.b_shared) {
		out.push_back({0, 0, g.rows()});
		return out;
	}
	for (std::uint64_t row = g.row0; row < g.row1;) {
		std::uint64_t batch = row / g.M;
		std::uint64_t end = std::min(g.row1, (batch + 1) * g.M);
		out.push_back({batch, row - g.row0, end - row});
		row = end;
	}
	return out;
}

void check_local_memory(const Geometry &g, std::uint64_t elem, const EngineScratch &scratch)
{
	Footprint fp;
	fp.add(g.rows(), g.K, elem);
	fp.add(g.K, g.cols(), elem);
	fp.add(g.rows(), g.cols(), 2 * elem);
	fp.check(scratch);
}

// Row-major index in a [batch..., rows, cols] tensor.
std::uint64_t flat(std::uint64_t row, std::uint64_t col, std::uint64_t cols)
{
	return row * cols + col;
}

// Reads rows [row0, row1) x columns [col0, col1) of a [.., rows, n] tensor
// (rows flattened over batch) into a dense matrix of elem-byte entries.
template <typename Read>
void read_block(std::uint64_t row0, std::uint64_t row1, std::uint64_t col0, std::uint64_t col1,
		std::uint64_t n, std::size_t elem, std::byte *out, Read read)
{
	std::uint64_t cols = col1 - col0;
	if (cols == n) {
		read(flat(row0, 0, n), (row1 - row0) * n, out);
		return;
	}
	for (std::uint64_t r = row0; r < row1; r++)
		read(flat(r, col0, n), cols, out + (r - row0) * cols * elem);
}

template <typename Write>
void write_block(std::uint64_t row0, std::uint64_t row1, std::uint64_t col0, std::uint64_t col1,
		 std::uint64_t n, std::size_t elem, const std::byte *in, Write write)
{
	std::uint64_t cols = col1 - col0;
	if (cols == n) {
		write(flat(row0, 0, n), (row1 - row0) * n, in);
		return;
	}
	for (std::uint64_t r = row0; r < row1; r++)
		write(flat(r, col0, n), cols, in + (r - row0) * cols * elem);
}

// Stages a's rows of the tile (reused by the next tile with the same rows).
template <typename Read>
std::byte *stage_a(EngineScratch::State &st, const Geometry &g, std::size_t elem, Read read)
{
	StagingBuffer &buf = st.buffer(Slot::A);
	auto *a = buf.get<std::byte>(g.rows() * g.K * elem);
	StagingBuffer::Tag tag{1, g.row0, g.row1, elem};
	if (!buf.holds(tag)) {
		read_block(g.row0, g.row1, 0, g.K, g.K, elem, a, read);
		buf.set_tag(tag);
	}
	return a;
}

// Stages b's K x cols block of one batch index (reused by the next tile
// with the same columns and batch matrix).
template <typename Read, typename Prepare>
std::byte *stage_b(EngineScratch::State &st, const Geometry &g, std::uint64_t batch,
		   std::size_t elem, Read read, Prepare prepare)
{
	StagingBuffer &buf = st.buffer(Slot::B);
	auto *b = buf.get<std::byte>(g.K * g.cols() * elem);
	std::uint64_t matrix = g.b_shared ? 0 : batch;
	StagingBuffer::Tag tag{2, matrix, g.col0, g.col1, elem};
	if (!buf.holds(tag)) {
		read_block(matrix * g.K, (matrix + 1) * g.K, g.col0, g.col1, g.N, elem, b, read);
		prepare(b);
		buf.set_tag(tag);
	}
	return b;
}

// dst (m x n, f32 or s32) = src (m x k) x weights (k x n), dense row-major.
// With b_tag (the staged weights' identity), the weights are packed once
// into oneDNN's preferred layout and reused by later tiles of the operation:
// without that, every tile of a few rows would repack all of b.
void matmul(EngineScratch::State &st, std::uint64_t m, std::uint64_t k, std::uint64_t n,
	    dt src_type, const void *src, dt wei_type, const void *wei, dt dst_type, void *dst,
	    const StagingBuffer::Tag *b_tag = nullptr)
{
	auto dim = [](std::uint64_t v) { return static_cast<dnnl::memory::dim>(v); };
	dnnl::memory::desc src_md({dim(m), dim(k)}, src_type, fmt::ab);
	dnnl::memory::desc wei_md({dim(k), dim(n)}, wei_type, fmt::ab);
	dnnl::memory::desc dst_md({dim(m), dim(n)}, dst_type, fmt::ab);
	std::vector<std::int64_t> key{1,
				      dim(m),
				      dim(k),
				      dim(n),
				      static_cast<std::int64_t>(src_type),
				      static_cast<std::int64_t>(wei_type),
				      static_cast<std::int64_t>(dst_type),
				      b_tag != nullptr};
	// A copy (shared handles): the reorder below may clear the cache.
	const CachedPrimitive cached = st.primitive(key, [&] {
		dnnl::memory::desc wei_want =
			b_tag ? dnnl::memory::desc({dim(k), dim(n)}, wei_type, fmt::any) : wei_md;
		dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, wei_want, dst_md),
						st.cpu);
		return CachedPrimitive{dnnl::matmul(pd), src_md, pd.weights_desc(), dst_md};
	});
	dnnl::memory src_mem(src_md, st.cpu, const_cast<void *>(src));
	dnnl::memory wei_mem(wei_md, st.cpu, const_cast<void *>(wei));
	dnnl::memory dst_mem(dst_md, st.cpu, dst);
	if (cached.weights != wei_md) {
		StagingBuffer &buf = st.buffer(Slot::Extra1);
		dnnl::memory packed(cached.weights, st.cpu,
				    buf.get<std::byte>(cached.weights.get_size()));
		if (!buf.holds(*b_tag) || st.packed_weights != cached.weights) {
			buf.forget();
			reorder(st, key, 2, wei_mem, packed);
			buf.set_tag(*b_tag);
			st.packed_weights = cached.weights;
		}
		wei_mem = packed;
	}
	cached.prim.execute(
		st.stream,
		{{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DST, dst_mem}});
	st.stream.wait();
}

float f32_param(std::uint32_t bits)
{
	return std::bit_cast<float>(bits);
}

// ---- float -----------------------------------------------------------------

void gemm_float(ContextMemory &mem, const npu_pkt_gemm &p, const Geometry &g,
		EngineScratch &scratch)
{
	EngineScratch::State &st = scratch.state();
	TensorRef a(mem, p.a), b(mem, p.b), y(mem, p.y);
	std::optional<TensorRef> c;
	if (p.c.dtype != NPU_DTYPE_NONE)
		c.emplace(mem, p.c);
	check_local_memory(g, 4, scratch);

	// BF16 x BF16 multiplies in bf16 with f32 accumulation; everything else
	// (F16 included) in f32.
	bool bf16 =
		a.dtype() == NPU_DTYPE_BF16 && b.dtype() == NPU_DTYPE_BF16 && onednn_bf16_native();
	std::size_t elem = bf16 ? 2 : 4;
	dt in_type = bf16 ? dt::bf16 : dt::f32;
	auto reader = [bf16](TensorRef &t) {
		return [&t, bf16](std::uint64_t first, std::uint64_t count, std::byte *out) {
			if (bf16)
				t.read_raw(first, count, out);
			else
				t.read_f32(first, count, reinterpret_cast<float *>(out));
		};
	};
	std::byte *a_rows = stage_a(st, g, elem, reader(a));
	float *acc = st.buffer(Slot::Acc).get<float>(g.rows() * g.cols());
	for (const BatchSegment &seg : segments(g)) {
		std::byte *b_block = stage_b(st, g, seg.batch, elem, reader(b), [](std::byte *) {});
		float *dst = acc + seg.first * g.cols();
		if (g.K == 0) {
			std::fill(dst, dst + seg.count * g.cols(), 0.0f);
			continue;
		}
		const StagingBuffer::Tag b_tag{2, g.b_shared ? 0 : seg.batch, g.col0, g.col1, elem,
					       0};
		mem.release(); // staged operands only: no invalidate waits for the product
		matmul(st, seg.count, g.K, g.cols(), in_type, a_rows + seg.first * g.K * elem,
		       in_type, b_block, dt::f32, dst, &b_tag);
	}

	float alpha = f32_param(p.alpha), beta = f32_param(p.beta);
	bool has_act = p.act.fn != NPU_FN_IDENTITY;
	std::uint64_t cells = g.rows() * g.cols();
	if (c) {
		float *c_block = st.buffer(Slot::C).get<float>(cells);
		read_block(g.row0, g.row1, g.col0, g.col1, g.N, 4,
			   reinterpret_cast<std::byte *>(c_block),
			   [&](std::uint64_t first, std::uint64_t count, std::byte *out) {
				   c->read_f32(first, count, reinterpret_cast<float *>(out));
			   });
		for (std::uint64_t i = 0; i < cells; i++)
			acc[i] = alpha * acc[i] + beta * c_block[i];
	} else if (alpha != 1.0f) {
		for (std::uint64_t i = 0; i < cells; i++)
			acc[i] *= alpha;
	}
	if (has_act) {
		for (std::uint64_t i = 0; i < cells; i++)
			acc[i] = static_cast<float>(apply_fn(p.act, acc[i]));
	}
	write_block(g.row0, g.row1, g.col0, g.col1, g.N, 4, reinterpret_cast<std::byte *>(acc),
		    [&](std::uint64_t first, std::uint64_t count, const std::byte *in) {
			    y.write_f32(first, count, reinterpret_cast<const float *>(in));
		    });
}

// ---- 8-bit -----------------------------------------------------------------

// acc (m x n) = sum over k of (a - a_zero) * (b - b_zero), int32 with
// wrap-around; a is U8 or I8 (a_unsigned), b already signed (I8 values).
void int8_product(EngineScratch::State &st, std::uint64_t m, std::uint64_t k, std::uint64_t n,
		  const std::uint8_t *a, bool a_unsigned, const std::int8_t *b, std::int32_t a_zero,
		  std::int32_t b_zero, std::int32_t *acc, const StagingBuffer::Tag &b_tag)
{
	auto a_value = [&](std::uint64_t i) -> std::uint32_t {
		return a_unsigned ? a[i]
				  : static_cast<std::uint32_t>(static_cast<std::int8_t>(a[i]));
	};
	if (!onednn_int8_exact()) {
		// Without VNNI oneDNN may saturate pairs of products to int16.
		auto *out = reinterpret_cast<std::uint32_t *>(acc);
		std::fill(out, out + m * n, 0u);
		for (std::uint64_t i = 0; i < m; i++)
			for (std::uint64_t kk = 0; kk < k; kk++) {
				std::uint32_t av =
					a_value(i * k + kk) - static_cast<std::uint32_t>(a_zero);
				const std::int8_t *brow = b + kk * n;
				std::uint32_t *orow = out + i * n;
				for (std::uint64_t j = 0; j < n; j++)
					orow[j] += av * (static_cast<std::uint32_t>(brow[j]) -
							 static_cast<std::uint32_t>(b_zero));
			}
		return;
	}
	matmul(st, m, k, n, a_unsigned ? dt::u8 : dt::s8, a, dt::s8, b, dt::s32, acc, &b_tag);
	if (a_zero == 0 && b_zero == 0)
		return;
	// sum (a - za)(b - zb) = sum ab - zb sum a - za sum b + k za zb
	std::vector<std::uint32_t> row_sum(m, 0), col_sum(n, 0);
	for (std::uint64_t i = 0; i < m; i++)
		for (std::uint64_t kk = 0; kk < k; kk++)
			row_sum[i] += a_value(i * k + kk);
	for (std::uint64_t kk = 0; kk < k; kk++)
		for (std::uint64_t j = 0; j < n; j++)
			col_sum[j] += static_cast<std::uint32_t>(b[kk * n + j]);
	auto za = static_cast<std::uint32_t>(a_zero), zb = static_cast<std::uint32_t>(b_zero);
	std::uint32_t constant = static_cast<std::uint32_t>(k) * za * zb;
	auto *out = reinterpret_cast<std::uint32_t *>(acc);
	for (std::uint64_t i = 0; i < m; i++)
		for (std::uint64_t j = 0; j < n; j++)
			out[i * n + j] += constant - zb * row_sum[i] - za * col_sum[j];
}

void gemm_int8(ContextMemory &mem, const npu_pkt_gemm &p, const Geometry &g, EngineScratch &scratch)
{
	EngineScratch::State &st = scratch.state();
	TensorRef a(mem, p.a), b(mem, p.b), y(mem, p.y);
	std::optional<TensorRef> c;
	if (p.c.dtype != NPU_DTYPE_NONE)
		c.emplace(mem, p.c);
	check_local_memory(g, 4, scratch);

	bool a_unsigned = a.dtype() == NPU_DTYPE_U8;
	bool b_unsigned = b.dtype() == NPU_DTYPE_U8;
	// oneDNN wants signed weights: b - zb = (b - 128) - (zb - 128).
	std::int32_t b_zero = p.quant.b_zero - (b_unsigned ? 128 : 0);
	auto raw = [](TensorRef &t) {
		return [&t](std::uint64_t first, std::uint64_t count, std::byte *out) {
			t.read_raw(first, count, out);
		};
	};
	auto to_signed = [&](std::byte *block) {
		if (!b_unsigned)
			return;
		for (std::uint64_t i = 0; i < g.K * g.cols(); i++)
			block[i] ^= std::byte{0x80};
	};
	const auto *a_rows = reinterpret_cast<const std::uint8_t *>(stage_a(st, g, 1, raw(a)));
	auto *acc = st.buffer(Slot::Acc).get<std::int32_t>(g.rows() * g.cols());
	for (const BatchSegment &seg : segments(g)) {
		const auto *b_block = reinterpret_cast<const std::int8_t *>(
			stage_b(st, g, seg.batch, 1, raw(b), to_signed));
		std::int32_t *dst = acc + seg.first * g.cols();
		if (g.K == 0) {
			std::fill(dst, dst + seg.count * g.cols(), 0);
			continue;
		}
		const StagingBuffer::Tag b_tag{2, g.b_shared ? 0 : seg.batch, g.col0, g.col1, 1, 0};
		mem.release(); // staged operands only: no invalidate waits for the product
		int8_product(st, seg.count, g.K, g.cols(), a_rows + seg.first * g.K, a_unsigned,
			     b_block, p.quant.a_zero, b_zero, dst, b_tag);
	}

	std::uint64_t cells = g.rows() * g.cols();
	auto write = [&](const void *block, std::size_t elem, auto &&store) {
		write_block(g.row0, g.row1, g.col0, g.col1, g.N, elem,
			    static_cast<const std::byte *>(block), store);
	};
	auto read_c = [&](std::size_t elem, void *out) {
		read_block(g.row0, g.row1, g.col0, g.col1, g.N, elem, static_cast<std::byte *>(out),
			   [&](std::uint64_t first, std::uint64_t count, std::byte *o) {
				   c->read_raw(first, count, o);
			   });
	};

	if (y.dtype() == NPU_DTYPE_F32) {
		// alpha * acc + beta * c, then act: in double, rounded once.
		double alpha = f32_param(p.alpha), beta = f32_param(p.beta);
		float *c_block = nullptr;
		if (c) {
			c_block = st.buffer(Slot::C).get<float>(cells);
			read_c(4, c_block);
		}
		float *out = st.buffer(Slot::Extra0).get<float>(cells);
		for (std::uint64_t i = 0; i < cells; i++) {
			double v = alpha * acc[i];
			if (c_block)
				v += beta * c_block[i];
			out[i] = static_cast<float>(apply_fn(p.act, v));
		}
		write(out, 4, [&](std::uint64_t first, std::uint64_t count, const std::byte *in) {
			y.write_raw(first, count, in);
		});
		return;
	}

	if (c) {
		auto *c_block = st.buffer(Slot::C).get<std::uint32_t>(cells);
		read_c(4, c_block);
		auto *out = reinterpret_cast<std::uint32_t *>(acc);
		for (std::uint64_t i = 0; i < cells; i++)
			out[i] += c_block[i];
	}
	if (y.dtype() == NPU_DTYPE_I32) {
		if (p.act.fn == NPU_FN_RELU)
			for (std::uint64_t i = 0; i < cells; i++)
				acc[i] = std::max(acc[i], 0);
		write(acc, 4, [&](std::uint64_t first, std::uint64_t count, const std::byte *in) {
			y.write_raw(first, count, in);
		});
		return;
	}
	// I8/U8: saturate(round_half_even(act(acc + c) * y_scale) + y_zero).
	auto *out = st.buffer(Slot::Extra0).get<std::uint8_t>(cells);
	double y_scale = f32_param(p.quant.y_scale);
	bool y_unsigned = y.dtype() == NPU_DTYPE_U8;
	for (std::uint64_t i = 0; i < cells; i++)
		out[i] = requantize(apply_fn(p.act, acc[i]), y_scale, p.quant.y_zero, y_unsigned);
	write(out, 1, [&](std::uint64_t first, std::uint64_t count, const std::byte *in) {
		y.write_raw(first, count, in);
	});
}

// ---- I32 / I64 -------------------------------------------------------------

// Exact integer product with two's complement wrap-around (T unsigned).
template <typename T>
void gemm_integer(ContextMemory &mem, const npu_pkt_gemm &p, const Geometry &g,
		  EngineScratch &scratch)
{
	EngineScratch::State &st = scratch.state();
	TensorRef a(mem, p.a), b(mem, p.b), y(mem, p.y);
	std::optional<TensorRef> c;
	if (p.c.dtype != NPU_DTYPE_NONE)
		c.emplace(mem, p.c);
	check_local_memory(g, sizeof(T), scratch);

	auto raw = [](TensorRef &t) {
		return [&t](std::uint64_t first, std::uint64_t count, std::byte *out) {
			t.read_raw(first, count, out);
		};
	};
	const T *a_rows = reinterpret_cast<const T *>(stage_a(st, g, sizeof(T), raw(a)));
	std::uint64_t n = g.cols(), cells = g.rows() * n;
	T *acc = st.buffer(Slot::Acc).get<T>(cells);
	std::fill(acc, acc + cells, T{0});
	for (const BatchSegment &seg : segments(g)) {
		const T *b_block = reinterpret_cast<const T *>(
			stage_b(st, g, seg.batch, sizeof(T), raw(b), [](std::byte *) {}));
		mem.release(); // staged operands only: no invalidate waits for the product
		for (std::uint64_t i = seg.first; i < seg.first + seg.count; i++)
			for (std::uint64_t k = 0; k < g.K; k++) {
				T av = a_rows[i * g.K + k];
				const T *brow = b_block + k * n;
				T *orow = acc + i * n;
				for (std::uint64_t j = 0; j < n; j++)
					orow[j] += av * brow[j];
			}
	}
	if (c) {
		T *c_block = st.buffer(Slot::C).get<T>(cells);
		read_block(g.row0, g.row1, g.col0, g.col1, g.N, sizeof(T),
			   reinterpret_cast<std::byte *>(c_block),
			   [&](std::uint64_t first, std::uint64_t count, std::byte *o) {
				   c->read_raw(first, count, o);
			   });
		for (std::uint64_t i = 0; i < cells; i++)
			acc[i] += c_block[i];
	}
	if (p.act.fn == NPU_FN_RELU) {
		using S = std::make_signed_t<T>;
		for (std::uint64_t i = 0; i < cells; i++)
			if (static_cast<S>(acc[i]) < 0)
				acc[i] = 0;
	}
	write_block(g.row0, g.row1, g.col0, g.col1, g.N, sizeof(T),
		    reinterpret_cast<const std::byte *>(acc),
		    [&](std::uint64_t first, std::uint64_t count, const std::byte *in) {
			    y.write_raw(first, count, in);
		    });
}

} // namespace

void run_gemm(ContextMemory &mem, const npu_pkt_gemm &p, const npu_engine_task &task,
	      EngineScratch &scratch)
{
	Geometry g = geometry(p, task);
	switch (kind_of(p)) {
	case GemmKind::Float:
		gemm_float(mem, p, g, scratch);
		break;
	case GemmKind::Int8:
		gemm_int8(mem, p, g, scratch);
		break;
	case GemmKind::Integer:
		if (p.y.dtype == NPU_DTYPE_I64)
			gemm_integer<std::uint64_t>(mem, p, g, scratch);
		else
			gemm_integer<std::uint32_t>(mem, p, g, scratch);
		break;
	}
}

} // namespace npu::emu
