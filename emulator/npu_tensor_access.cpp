// SPDX-License-Identifier: MIT
#include "npu_tensor_access.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>

namespace npu::emu
{

void bad_task()
{
	throw EngineFault{NPU_ENG_ST_BAD_TASK, 0};
}

std::size_t dtype_size(std::uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_F32:
	case NPU_DTYPE_I32:
		return 4;
	case NPU_DTYPE_F16:
	case NPU_DTYPE_BF16:
		return 2;
	case NPU_DTYPE_I8:
	case NPU_DTYPE_U8:
	case NPU_DTYPE_BOOL:
		return 1;
	case NPU_DTYPE_I64:
		return 8;
	default:
		return 0;
	}
}

bool dtype_is_float(std::uint32_t dtype)
{
	return dtype == NPU_DTYPE_F32 || dtype == NPU_DTYPE_F16 || dtype == NPU_DTYPE_BF16;
}

bool dtype_is_integer(std::uint32_t dtype)
{
	return dtype == NPU_DTYPE_I8 || dtype == NPU_DTYPE_U8 || dtype == NPU_DTYPE_I32 ||
	       dtype == NPU_DTYPE_I64;
}

// ---- float formats --------------------------------------------------------

float f16_to_f32(std::uint16_t h)
{
	std::uint32_t sign = std::uint32_t(h & 0x8000) << 16;
	std::uint32_t exp = (h >> 10) & 0x1f;
	std::uint32_t mant = h & 0x3ff;
	std::uint32_t bits;
	if (exp == 0x1f) {
		bits = sign | 0x7f800000 | (mant << 13); // inf, NaN keeps its payload
	} else if (exp != 0) {
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	} else if (mant == 0) {
		bits = sign;
	} else {
		// Subnormal: mant * 2^-24, exact in f32.
		float v = std::ldexp(static_cast<float>(mant), -24);
		bits = sign | std::bit_cast<std::uint32_t>(v);
	}
	return std::bit_cast<float>(bits);
}

std::uint16_t f32_to_f16(float f)
{
	std::uint32_t x = std::bit_cast<std::uint32_t>(f);
	auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000);
	x &= 0x7fffffff;
	if (x >= 0x7f800000) { // inf or NaN (kept quiet, top payload bits kept)
		if (x == 0x7f800000)
			return sign | 0x7c00;
		return static_cast<std::uint16_t>(sign | 0x7e00 | ((x >> 13) & 0x3ff));
	}
	if (x >= 0x477ff000) // 65520 and above round to infinity
		return sign | 0x7c00;
	if (x >= 0x38800000) { // normal in f16 (>= 2^-14): rebias, round 13 bits
		std::uint32_t r = x - 0x38000000;
		r = (r + 0xfff + ((r >> 13) & 1)) >> 13;
		return static_cast<std::uint16_t>(sign | r);
	}
	if (x <= 0x33000000) // at most 2^-25: half of the smallest subnormal or less
		return sign;
	// Subnormal in f16: units of 2^-24.
	std::uint32_t exp = x >> 23;
	std::uint32_t mant = (x & 0x7fffff) | 0x800000;
	unsigned shift = 126 - exp; // 14..24
	std::uint32_t r = mant >> shift;
	std::uint32_t rem = mant & ((1u << shift) - 1);
	std::uint32_t half = 1u << (shift - 1);
	if (rem > half || (rem == half && (r & 1)))
		r++;
	return static_cast<std::uint16_t>(sign | r);
}

float bf16_to_f32(std::uint16_t b)
{
	return std::bit_cast<float>(std::uint32_t(b) << 16);
}

std::uint16_t f32_to_bf16(float f)
{
	std::uint32_t x = std::bit_cast<std::uint32_t>(f);
	if ((x & 0x7fffffff) > 0x7f800000)
		return static_cast<std::uint16_t>((x >> 16) | 0x40); // quiet NaN
	x += 0x7fff + ((x >> 16) & 1);
	return static_cast<std::uint16_t>(x >> 16);
}

namespace
{

// Rounds to f32 with "round to odd": an inexact result gets its last bit
// set. Rounding that again to a format at least two bits narrower (f16,
// bf16) gives the correctly rounded result, which rounding twice to
// nearest would not.
float f32_round_odd(double d)
{
	float f = static_cast<float>(d);
	if (std::isnan(d) || static_cast<double>(f) == d)
		return f;
	if (std::fabs(static_cast<double>(f)) > std::fabs(d))
		f = std::nextafter(f, 0.0f);
	return std::bit_cast<float>(std::bit_cast<std::uint32_t>(f) | 1);
}

float f32_round_odd(std::int64_t v)
{
	float f = static_cast<float>(v);
	auto back = static_cast<__int128>(f); // |f| <= 2^63: fits
	if (back == v)
		return f;
	if ((back < 0 ? -back : back) > (v < 0 ? -static_cast<__int128>(v) : v))
		f = std::nextafter(f, 0.0f);
	return std::bit_cast<float>(std::bit_cast<std::uint32_t>(f) | 1);
}

// Float to integer: truncate toward zero, saturate, NaN to 0.
template <typename T> T saturate_to(double v)
{
	if (std::isnan(v))
		return 0;
	double t = std::trunc(v);
	if (t < static_cast<double>(std::numeric_limits<T>::min()))
		return std::numeric_limits<T>::min();
	if (t >= static_cast<double>(std::numeric_limits<T>::max()) + 1.0)
		return std::numeric_limits<T>::max();
	return static_cast<T>(t);
}

// ---- element codecs ------------------------------------------------------

// Each dtype's raw storage and its conversions to and from the compute
// types. Raw words are loaded and stored with relaxed atomics: the guest
// may touch the same memory (the results are then undefined, never UB).
template <std::uint32_t D> struct Codec;

template <> struct Codec<NPU_DTYPE_F32> {
	using Raw = std::uint32_t;
	static double to_f64(Raw r) { return std::bit_cast<float>(r); }
	static float to_f32(Raw r) { return std::bit_cast<float>(r); }
	static std::int64_t to_i64(Raw r) { return saturate_to<std::int64_t>(to_f64(r)); }
	static Raw from_f64(double v) { return std::bit_cast<Raw>(static_cast<float>(v)); }
	static Raw from_f32(float v) { return std::bit_cast<Raw>(v); }
	static Raw from_i64(std::int64_t v) { return std::bit_cast<Raw>(static_cast<float>(v)); }
};

template <> struct Codec<NPU_DTYPE_F16> {
	using Raw = std::uint16_t;
	static double to_f64(Raw r) { return f16_to_f32(r); }
	static float to_f32(Raw r) { return f16_to_f32(r); }
	static std::int64_t to_i64(Raw r) { return saturate_to<std::int64_t>(to_f64(r)); }
	static Raw from_f64(double v) { return f32_to_f16(f32_round_odd(v)); }
	static Raw from_f32(float v) { return f32_to_f16(v); }
	static Raw from_i64(std::int64_t v) { return f32_to_f16(f32_round_odd(v)); }
};

template <> struct Codec<NPU_DTYPE_BF16> {
	using Raw = std::uint16_t;
	static double to_f64(Raw r) { return bf16_to_f32(r); }
	static float to_f32(Raw r) { return bf16_to_f32(r); }
	static std::int64_t to_i64(Raw r) { return saturate_to<std::int64_t>(to_f64(r)); }
	static Raw from_f64(double v) { return f32_to_bf16(f32_round_odd(v)); }
	static Raw from_f32(float v) { return f32_to_bf16(v); }
	static Raw from_i64(std::int64_t v) { return f32_to_bf16(f32_round_odd(v)); }
};

// Integers: Value is the signed/unsigned C++ type of the dtype.
template <typename Value, typename RawT> struct IntCodec {
	using Raw = RawT;
	static std::int64_t to_i64(Raw r) { return static_cast<Value>(r); }
	static double to_f64(Raw r) { return static_cast<double>(to_i64(r)); }
	static float to_f32(Raw r) { return static_cast<float>(to_i64(r)); }
	static Raw from_i64(std::int64_t v) { return static_cast<Raw>(v); } // wraps
	static Raw from_f64(double v) { return static_cast<Raw>(saturate_to<Value>(v)); }
	static Raw from_f32(float v) { return from_f64(v); }
};

template <> struct Codec<NPU_DTYPE_I8> : IntCodec<std::int8_t, std::uint8_t> {
};
template <> struct Codec<NPU_DTYPE_U8> : IntCodec<std::uint8_t, std::uint8_t> {
};
template <> struct Codec<NPU_DTYPE_I32> : IntCodec<std::int32_t, std::uint32_t> {
};
template <> struct Codec<NPU_DTYPE_I64> : IntCodec<std::int64_t, std::uint64_t> {
};

template <> struct Codec<NPU_DTYPE_BOOL> {
	using Raw = std::uint8_t;
	// Any non-zero byte reads as true, so a guest's stray 2 stays a bool.
	static std::int64_t to_i64(Raw r) { return r != 0; }
	static double to_f64(Raw r) { return r != 0; }
	static float to_f32(Raw r) { return r != 0; }
	static Raw from_i64(std::int64_t v) { return v != 0; }
	static Raw from_f64(double v) { return v != 0; }
	static Raw from_f32(float v) { return v != 0; }
};

template <typename Raw> Raw load_guest(const std::uint8_t *p)
{
	return std::atomic_ref<Raw>(*reinterpret_cast<Raw *>(const_cast<std::uint8_t *>(p)))
		.load(std::memory_order_relaxed);
}

template <typename Raw> void store_guest(std::uint8_t *p, Raw v)
{
	std::atomic_ref<Raw>(*reinterpret_cast<Raw *>(p)).store(v, std::memory_order_relaxed);
}

// Calls fn(Codec<dtype>{}) for a known dtype.
template <typename Fn> decltype(auto) with_codec(std::uint32_t dtype, Fn &&fn)
{
	switch (dtype) {
	case NPU_DTYPE_F32:
		return fn(Codec<NPU_DTYPE_F32>{});
	case NPU_DTYPE_F16:
		return fn(Codec<NPU_DTYPE_F16>{});
	case NPU_DTYPE_BF16:
		return fn(Codec<NPU_DTYPE_BF16>{});
	case NPU_DTYPE_I8:
		return fn(Codec<NPU_DTYPE_I8>{});
	case NPU_DTYPE_U8:
		return fn(Codec<NPU_DTYPE_U8>{});
	case NPU_DTYPE_I32:
		return fn(Codec<NPU_DTYPE_I32>{});
	case NPU_DTYPE_I64:
		return fn(Codec<NPU_DTYPE_I64>{});
	case NPU_DTYPE_BOOL:
		return fn(Codec<NPU_DTYPE_BOOL>{});
	default:
		bad_task();
	}
}

// Bulk copies of guest memory. The guest may write it concurrently (the
// values are then undefined); the fences order them against the protocol's
// doorbells like shared_copy's do.
void copy_from_guest(void *dst, const std::uint8_t *src, std::size_t n)
{
	std::atomic_thread_fence(std::memory_order_acquire);
	std::memcpy(dst, src, n);
}

void copy_to_guest(std::uint8_t *dst, const void *src, std::size_t n)
{
	std::memcpy(dst, src, n);
	std::atomic_thread_fence(std::memory_order_release);
}

} // namespace

// ---- ContextMemory ----------------------------------------------------------

ContextMemory::ContextMemory(const DmaEngine &dma, std::uint64_t pt_root,
			     const std::atomic<bool> *cancel)
    : dma_(dma), pt_root_(pt_root), cancel_(cancel), user_(dma.translation_sync()),
      // empty: as good as any generation's
      cache_generation_(dma.translation_sync().generation())
{
}

void ContextMemory::drop_cache(std::uint64_t generation)
{
	std::fill(std::begin(cache_), std::end(cache_), Entry{});
	cache_generation_ = generation;
}

std::uint8_t *ContextMemory::page(std::uint64_t va, bool write)
{
	std::uint64_t vpn = va >> NPU_PAGE_SHIFT;
	std::uint64_t in_page = va & (NPU_PAGE_SIZE - 1);
	Entry &e = cache_[vpn % kEntries];
	check_cancel();
	// One acquire load unless an invalidate came: then the translations
	// cached before it go, and the walk below sees the cleared entries.
	std::uint64_t generation = user_.refresh();
	if (generation != cache_generation_) [[unlikely]]
		drop_cache(generation);
	if (e.page == vpn && (!write || e.writable))
		return e.host + in_page;
	auto window = dma_.translate(NPU_DMA_SPACE_CTX, va - in_page, write, pt_root_);
	// A page cut short by the end of guest RAM is treated as unmapped.
	if (!window || window->length < NPU_PAGE_SIZE)
		throw EngineFault{write ? std::uint32_t(NPU_ENG_ST_FAULT_WRITE)
					: std::uint32_t(NPU_ENG_ST_FAULT_READ),
				  va};
	e.page = vpn;
	e.host = window->ptr;
	e.writable = write;
	return e.host + in_page;
}

void ContextMemory::read(std::uint64_t va, void *dst, std::size_t len)
{
	auto *out = static_cast<std::uint8_t *>(dst);
	while (len) {
		std::size_t chunk =
			std::min<std::size_t>(len, NPU_PAGE_SIZE - (va & (NPU_PAGE_SIZE - 1)));
		copy_from_guest(out, page(va, false), chunk);
		va += chunk, out += chunk, len -= chunk;
	}
}

void ContextMemory::write(std::uint64_t va, const void *src, std::size_t len)
{
	auto *in = static_cast<const std::uint8_t *>(src);
	while (len) {
		std::size_t chunk =
			std::min<std::size_t>(len, NPU_PAGE_SIZE - (va & (NPU_PAGE_SIZE - 1)));
		copy_to_guest(page(va, true), in, chunk);
		va += chunk, in += chunk, len -= chunk;
	}
}

// ---- TensorRef ----------------------------------------------------------

TensorRef::TensorRef(ContextMemory &mem, const npu_tensor &desc) : mem_(mem), desc_(desc)
{
	elem_size_ = dtype_size(desc.dtype);
	if (!elem_size_ || desc.rank > NPU_MAX_RANK)
		bad_task();
	for (unsigned d = desc.rank; d < NPU_MAX_RANK; d++)
		if (desc.shape[d] || desc.stride[d])
			bad_task();
	if (desc.addr % elem_size_)
		bad_task();
	// An empty tensor counts 0 elements however large its other extents.
	elements_ = 1;
	for (unsigned d = 0; d < desc.rank; d++)
		if (!desc.shape[d])
			elements_ = 0;
	if (!elements_)
		return; // nothing reachable; the layout is never walked
	for (unsigned d = 0; d < desc.rank; d++)
		if (__builtin_mul_overflow(elements_, std::uint64_t(desc.shape[d]), &elements_))
			bad_task();

	// Lowest and highest element offsets reached, exactly (|stride| <
	// 2^63 and extent < 2^32 keep every term and sum inside 128 bits).
	__int128 lo = 0, hi = 0;
	for (unsigned d = 0; d < desc.rank; d++) {
		__int128 reach = __int128(desc.shape[d] - 1) * desc.stride[d];
		(reach < 0 ? lo : hi) += reach;
	}
	__int128 first_byte = __int128(desc.addr) + lo * __int128(elem_size_);
	__int128 end_byte = __int128(desc.addr) + (hi + 1) * __int128(elem_size_);
	if (first_byte < 0 || end_byte > (__int128(1) << NPU_VA_BITS))
		bad_task();

	// Collapse: drop extent-1 dimensions, merge a dimension into its inner
	// neighbour when stepping it equals a whole pass over the neighbour.
	// Offsets now fit comfortably in int64 (|offset| < 2^39).
	RunLayout l;
	l.rank = 0;
	for (unsigned d = 0; d < desc.rank; d++) {
		if (desc.shape[d] == 1)
			continue;
		std::uint64_t extent = desc.shape[d];
		std::int64_t stride = desc.stride[d];
		if (l.rank && l.stride[l.rank - 1] == stride * static_cast<std::int64_t>(extent)) {
			l.shape[l.rank - 1] *= extent;
			l.stride[l.rank - 1] = stride;
			continue;
		}
		l.shape[l.rank] = extent;
		l.stride[l.rank] = stride;
		l.rank++;
	}
	if (!l.rank) {
		l.rank = 1;
		l.shape[0] = 1;
		l.stride[0] = 1;
	}
	layout_ = l;
}

std::uint64_t TensorRef::address_of(std::uint64_t flat) const
{
	if (flat >= elements_)
		bad_task();
	std::int64_t offset = 0;
	for (unsigned d = layout_.rank; d-- > 0;) {
		offset += static_cast<std::int64_t>(flat % layout_.shape[d]) * layout_.stride[d];
		flat /= layout_.shape[d];
	}
	return address_at_offset(offset);
}

std::uint64_t TensorRef::address_at(const std::uint64_t *index) const
{
	std::int64_t offset = 0;
	for (unsigned d = 0; d < desc_.rank; d++) {
		if (index[d] >= desc_.shape[d])
			bad_task();
		offset += static_cast<std::int64_t>(index[d]) * desc_.stride[d];
	}
	return address_at_offset(offset);
}

// Visits elements [first, first + count) in row-major order as runs of
// contiguous elements inside one page: visit(host pointer, elements,
// elements visited before). Strided layouts come one element at a time.
template <typename Visit>
void TensorRef::for_each_run(std::uint64_t first, std::uint64_t count, bool write, Visit &&visit)
{
	if (first > elements_ || count > elements_ - first)
		bad_task();
	if (!count)
		return;
	const RunLayout &l = layout_;
	const unsigned inner = l.rank - 1;
	std::uint64_t index[NPU_MAX_RANK];
	std::int64_t offset = 0;
	std::uint64_t rest = first;
	for (unsigned d = l.rank; d-- > 0;) {
		index[d] = rest % l.shape[d];
		rest /= l.shape[d];
		offset += static_cast<std::int64_t>(index[d]) * l.stride[d];
	}
	const std::int64_t step = l.stride[inner];
	std::uint64_t done = 0;
	while (done < count) {
		std::uint64_t n = std::min(l.shape[inner] - index[inner], count - done);
		std::uint64_t addr = address_at_offset(offset);
		if (step == 1) {
			std::uint64_t left = n;
			while (left) {
				std::uint64_t in_page =
					(NPU_PAGE_SIZE - (addr & (NPU_PAGE_SIZE - 1))) / elem_size_;
				std::uint64_t k = std::min(left, in_page);
				visit(mem_.page(addr, write), k, done + (n - left));
				addr += k * elem_size_;
				left -= k;
			}
		} else {
			// Element by element; neighbours on the same page skip the
			// translation cache.
			const std::uint64_t byte_step =
				static_cast<std::uint64_t>(step) * elem_size_;
			std::uint64_t page_va = ~0ull;
			std::uint8_t *page_host = nullptr;
			for (std::uint64_t k = 0; k < n; k++, addr += byte_step) {
				std::uint64_t in_page = addr & (NPU_PAGE_SIZE - 1);
				// A zero or short stride may stay on one page for
				// long: let a reset stop it, and an invalidate
				// have the page translated again.
				if ((k & 4095) == 4095 && mem_.poll())
					page_va = ~0ull;
				if (addr - in_page != page_va) {
					page_host = mem_.page(addr, write) - in_page;
					page_va = addr - in_page;
				}
				visit(page_host + in_page, std::uint64_t(1), done + k);
			}
		}
		done += n;
		index[inner] += n;
		offset += static_cast<std::int64_t>(n) * step;
		for (unsigned d = inner; d > 0 && index[d] == l.shape[d]; d--) {
			offset -= static_cast<std::int64_t>(index[d]) * l.stride[d];
			index[d] = 0;
			index[d - 1]++;
			offset += l.stride[d - 1];
		}
	}
}

double TensorRef::load(std::uint64_t flat)
{
	double v;
	read_f64(flat, 1, &v);
	return v;
}

std::int64_t TensorRef::load_int(std::uint64_t flat)
{
	std::int64_t v;
	read_i64(flat, 1, &v);
	return v;
}

void TensorRef::store(std::uint64_t flat, double v)
{
	write_f64(flat, 1, &v);
}

void TensorRef::store_int(std::uint64_t flat, std::int64_t v)
{
	write_i64(flat, 1, &v);
}

void TensorRef::load_raw_at(std::uint64_t addr, void *out)
{
	const std::uint8_t *p = mem_.page(addr, false);
	with_codec(desc_.dtype, [&](auto codec) {
		using Raw = typename decltype(codec)::Raw;
		Raw r = load_guest<Raw>(p);
		std::memcpy(out, &r, sizeof(r));
	});
}

void TensorRef::store_raw_at(std::uint64_t addr, const void *in)
{
	std::uint8_t *p = mem_.page(addr, true);
	with_codec(desc_.dtype, [&](auto codec) {
		using Raw = typename decltype(codec)::Raw;
		Raw r;
		std::memcpy(&r, in, sizeof(r));
		store_guest<Raw>(p, r);
	});
}

void TensorRef::read_raw(std::uint64_t first, std::uint64_t count, void *out)
{
	auto *bytes = static_cast<std::uint8_t *>(out);
	const std::size_t size = elem_size_;
	with_codec(desc_.dtype, [&](auto codec) {
		using Raw = typename decltype(codec)::Raw;
		for_each_run(first, count, false,
			     [&](const std::uint8_t *p, std::uint64_t n, std::uint64_t at) {
				     if (n == 1) {
					     Raw r = load_guest<Raw>(p);
					     std::memcpy(bytes + at * size, &r, sizeof(r));
				     } else {
					     copy_from_guest(bytes + at * size, p, n * size);
				     }
			     });
	});
}

void TensorRef::write_raw(std::uint64_t first, std::uint64_t count, const void *in)
{
	const auto *bytes = static_cast<const std::uint8_t *>(in);
	const std::size_t size = elem_size_;
	with_codec(desc_.dtype, [&](auto codec) {
		using Raw = typename decltype(codec)::Raw;
		for_each_run(first, count, true,
			     [&](std::uint8_t *p, std::uint64_t n, std::uint64_t at) {
				     if (n == 1) {
					     Raw r;
					     std::memcpy(&r, bytes + at * size, sizeof(r));
					     store_guest<Raw>(p, r);
				     } else {
					     copy_to_guest(p, bytes + at * size, n * size);
				     }
			     });
	});
}

// Converting transfers, element by element from the page with relaxed
// loads and stores (conversion dominates; a bounce buffer would not pay).
template <typename Out, typename Decode>
void TensorRef::read_converted(std::uint64_t first, std::uint64_t count, Out *out, Decode decode)
{
	with_codec(desc_.dtype, [&](auto codec) {
		using Raw = typename decltype(codec)::Raw;
		for_each_run(first, count, false,
			     [&](const std::uint8_t *p, std::uint64_t n, std::uint64_t at) {
				     for (std::uint64_t k = 0; k < n; k++)
					     out[at + k] = decode(
						     codec, load_guest<Raw>(p + k * sizeof(Raw)));
			     });
	});
}

template <typename In, typename Encode>
void TensorRef::write_converted(std::uint64_t first, std::uint64_t count, const In *in,
				Encode encode)
{
	with_codec(desc_.dtype, [&](auto codec) {
		using Raw = typename decltype(codec)::Raw;
		for_each_run(first, count, true,
			     [&](std::uint8_t *p, std::uint64_t n, std::uint64_t at) {
				     for (std::uint64_t k = 0; k < n; k++)
					     store_guest<Raw>(p + k * sizeof(Raw),
							      encode(codec, in[at + k]));
			     });
	});
}

void TensorRef::read_f64(std::uint64_t first, std::uint64_t count, double *out)
{
	read_converted(first, count, out,
		       [](auto c, auto raw) { return decltype(c)::to_f64(raw); });
}

void TensorRef::read_i64(std::uint64_t first, std::uint64_t count, std::int64_t *out)
{
	read_converted(first, count, out,
		       [](auto c, auto raw) { return decltype(c)::to_i64(raw); });
}

void TensorRef::write_f64(std::uint64_t first, std::uint64_t count, const double *in)
{
	write_converted(first, count, in,
			[](auto c, double v) { return decltype(c)::from_f64(v); });
}

void TensorRef::write_i64(std::uint64_t first, std::uint64_t count, const std::int64_t *in)
{
	write_converted(first, count, in,
			[](auto c, std::int64_t v) { return decltype(c)::from_i64(v); });
}

void TensorRef::read_f32(std::uint64_t first, std::uint64_t count, float *out)
{
	if (desc_.dtype == NPU_DTYPE_F32)
		read_raw(first, count, out);
	else
		read_converted(first, count, out,
			       [](auto c, auto raw) { return decltype(c)::to_f32(raw); });
}

void TensorRef::write_f32(std::uint64_t first, std::uint64_t count, const float *in)
{
	if (desc_.dtype == NPU_DTYPE_F32)
		write_raw(first, count, in);
	else
		write_converted(first, count, in,
				[](auto c, float v) { return decltype(c)::from_f32(v); });
}

} // namespace npu::emu
