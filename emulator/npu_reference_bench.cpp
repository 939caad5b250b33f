// SPDX-License-Identifier: MIT
#include "npu_reference_bench.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>
#include <sys/wait.h>

#include "npu_log.h"

namespace npu::emu
{

namespace
{

using dnnl::memory;
using Clock = std::chrono::steady_clock;

// Larger problems are refused: the host has to hold every tensor at once.
constexpr std::uint64_t kMaxBytes = 1ull << 30;
constexpr unsigned kDefaultRuns = 5;
constexpr unsigned kMaxRuns = 100;
constexpr unsigned kMaxThreads = 256;

struct Timing {
	std::int64_t median_ns = 0;
	std::int64_t min_ns = 0;
};

// An untimed warm-up (first touch, oneDNN's lazy setup), then runs timed ones.
Timing time_runs(unsigned runs, const std::function<void()> &body)
{
	body();
	std::vector<std::int64_t> samples;
	for (unsigned i = 0; i < runs; i++) {
		const auto start = Clock::now();
		body();
		samples.push_back(
			std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start)
				.count());
	}
	std::sort(samples.begin(), samples.end());
	return {samples[samples.size() / 2], samples.front()};
}

std::optional<unsigned long> parse_uint(const std::string &word, unsigned long lo, unsigned long hi)
{
	if (word.empty() || word.find_first_not_of("0123456789") != std::string::npos ||
	    word.size() > 9)
		return std::nullopt;
	const unsigned long v = std::stoul(word);
	if (v < lo || v > hi)
		return std::nullopt;
	return v;
}

// Deterministic data of the element type: speed must not depend on luck,
// and values stay small so no type saturates or turns denormal.
void fill(const memory &mem, memory::data_type type)
{
	const std::size_t bytes = mem.get_desc().get_size();
	auto *data = static_cast<std::uint8_t *>(mem.get_data_handle());
	std::uint32_t state = 0x12345678u;
	auto next = [&state] {
		state = state * 1664525u + 1013904223u;
		return state >> 8;
	};
	switch (type) {
	case memory::data_type::f32:
		for (std::size_t i = 0; i + 4 <= bytes; i += 4) {
			const float v = static_cast<float>(next() % 2001) / 1000.0f - 1.0f;
			std::memcpy(data + i, &v, 4);
		}
		break;
	case memory::data_type::bf16:
		for (std::size_t i = 0; i + 2 <= bytes; i += 2) {
			const float v = static_cast<float>(next() % 2001) / 1000.0f - 1.0f;
			std::uint32_t bits;
			std::memcpy(&bits, &v, 4);
			const auto half = static_cast<std::uint16_t>(bits >> 16);
			std::memcpy(data + i, &half, 2);
		}
		break;
	default: // 8-bit operands
		for (std::size_t i = 0; i < bytes; i++)
			data[i] = static_cast<std::uint8_t>(next() % 64);
		break;
	}
}

std::optional<memory::data_type> float_type(const std::string &name)
{
	if (name == "f32")
		return memory::data_type::f32;
	if (name == "bf16")
		return memory::data_type::bf16;
	return std::nullopt;
}

std::string bench_gemm(const std::vector<std::string> &w)
{
	if (w.size() < 7 || w.size() > 8)
		return "error usage: bench gemm M N K DTYPE THREADS [RUNS]\n";
	const auto m = parse_uint(w[2], 1, 65536), n = parse_uint(w[3], 1, 65536),
		   k = parse_uint(w[4], 1, 65536);
	const auto threads = parse_uint(w[6], 1, kMaxThreads);
	const auto runs = w.size() == 8 ? parse_uint(w[7], 1, kMaxRuns) : kDefaultRuns;
	if (!m || !n || !k || !threads || !runs)
		return "error bench gemm: M, N, K must be 1-65536, THREADS 1-256, RUNS 1-100\n";
	memory::data_type a_type, b_type, y_type;
	if (w[5] == "i8") {
		a_type = memory::data_type::u8;
		b_type = memory::data_type::s8;
		y_type = memory::data_type::s32;
	} else if (auto type = float_type(w[5])) {
		a_type = b_type = y_type = *type;
	} else {
		return "error bench gemm: DTYPE must be f32, bf16 or i8\n";
	}
	const std::uint64_t elements = *m * *k + *k * *n + *m * *n;
	if (elements * 4 > kMaxBytes)
		return "error bench gemm: tensors larger than 1 GiB\n";

	omp_set_num_threads(static_cast<int>(*threads)); // this thread's OpenMP teams
	const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
	dnnl::stream stream(engine);
	const memory::dim dm = *m, dn = *n, dk = *k;
	const memory::desc a_md({dm, dk}, a_type, memory::format_tag::ab);
	const memory::desc b_md({dk, dn}, b_type, memory::format_tag::ab);
	const memory::desc y_md({dm, dn}, y_type, memory::format_tag::ab);
	const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, y_md), engine);
	const dnnl::matmul matmul(pd);
	memory a(a_md, engine), b(b_md, engine), y(y_md, engine);
	fill(a, a_type);
	fill(b, b_type);
	const Timing t = time_runs(*runs, [&] {
		matmul.execute(stream,
			       {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, y}});
		stream.wait();
	});
	const std::uint64_t flops = 2ull * *m * *n * *k;
	return fmt::format("bench gemm m={} n={} k={} dtype={} threads={} runs={} median_ns={} "
			   "min_ns={} flops={} impl={}\nok\n",
			   *m, *n, *k, w[5], *threads, *runs, t.median_ns, t.min_ns, flops,
			   pd.impl_info_str());
}

// A reorder between a plain layout and the one the convolution wants, or
// nothing when they are the same.
struct Reorder {
	std::optional<dnnl::reorder> primitive;
	memory from, to;
	void run(dnnl::stream &stream)
	{
		if (primitive)
			primitive->execute(stream, from, to);
	}
};

Reorder make_reorder(const memory &from, const memory::desc &to_md, const dnnl::engine &engine)
{
	if (from.get_desc() == to_md)
		return {std::nullopt, from, from};
	memory to(to_md, engine);
	return {dnnl::reorder(from, to), from, to};
}

std::string bench_conv(const std::vector<std::string> &w)
{
	if (w.size() < 12 || w.size() > 13)
		return "error usage: bench conv N C OC H W KSIZE STRIDE PAD DTYPE THREADS [RUNS]\n";
	const auto batch = parse_uint(w[2], 1, 1024), channels = parse_uint(w[3], 1, 65536),
		   out_channels = parse_uint(w[4], 1, 65536), height = parse_uint(w[5], 1, 65536),
		   width = parse_uint(w[6], 1, 65536), ksize = parse_uint(w[7], 1, 64),
		   stride = parse_uint(w[8], 1, 64), pad = parse_uint(w[9], 0, 63);
	const auto type = float_type(w[10]);
	const auto threads = parse_uint(w[11], 1, kMaxThreads);
	const auto runs = w.size() == 13 ? parse_uint(w[12], 1, kMaxRuns) : kDefaultRuns;
	if (!batch || !channels || !out_channels || !height || !width || !ksize || !stride ||
	    !pad || !threads || !runs)
		return "error bench conv: a size out of range (N 1-1024, C, OC, H, W 1-65536, "
		       "KSIZE and STRIDE 1-64, PAD 0-63, THREADS 1-256, RUNS 1-100)\n";
	if (!type)
		return "error bench conv: DTYPE must be f32 or bf16\n";
	if (*height + 2 * *pad < *ksize || *width + 2 * *pad < *ksize)
		return "error bench conv: kernel larger than the padded input\n";
	const std::uint64_t out_h = (*height + 2 * *pad - *ksize) / *stride + 1;
	const std::uint64_t out_w = (*width + 2 * *pad - *ksize) / *stride + 1;
	const std::uint64_t elements = *batch * *channels * *height * *width +
				       *out_channels * *channels * *ksize * *ksize +
				       *batch * *out_channels * out_h * out_w;
	if (elements * 4 * 2 > kMaxBytes) // plain and blocked copies
		return "error bench conv: tensors larger than 1 GiB\n";

	omp_set_num_threads(static_cast<int>(*threads));
	const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
	dnnl::stream stream(engine);
	using tag = memory::format_tag;
	const memory::dims x_dims{
		static_cast<memory::dim>(*batch), static_cast<memory::dim>(*channels),
		static_cast<memory::dim>(*height), static_cast<memory::dim>(*width)};
	const memory::dims w_dims{
		static_cast<memory::dim>(*out_channels), static_cast<memory::dim>(*channels),
		static_cast<memory::dim>(*ksize), static_cast<memory::dim>(*ksize)};
	const memory::dims y_dims{static_cast<memory::dim>(*batch),
				  static_cast<memory::dim>(*out_channels),
				  static_cast<memory::dim>(out_h), static_cast<memory::dim>(out_w)};
	const memory::dim s = *stride, p = *pad;
	const dnnl::convolution_forward::primitive_desc pd(
		dnnl::convolution_forward::desc(
			dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
			memory::desc(x_dims, *type, tag::any),
			memory::desc(w_dims, *type, tag::any),
			memory::desc(y_dims, *type, tag::any), {s, s}, {p, p}, {p, p}),
		engine);
	const dnnl::convolution_forward conv(pd);
	memory x_plain({x_dims, *type, tag::nchw}, engine);
	memory w_plain({w_dims, *type, tag::oihw}, engine);
	memory y_plain({y_dims, *type, tag::nchw}, engine);
	fill(x_plain, *type);
	fill(w_plain, *type);
	Reorder x_in = make_reorder(x_plain, pd.src_desc(), engine);
	Reorder w_in = make_reorder(w_plain, pd.weights_desc(), engine);
	memory y_conv =
		pd.dst_desc() == y_plain.get_desc() ? y_plain : memory(pd.dst_desc(), engine);
	Reorder y_out = make_reorder(y_conv, y_plain.get_desc(), engine);

	const Timing t = time_runs(*runs, [&] {
		x_in.run(stream);
		w_in.run(stream);
		conv.execute(stream, {{DNNL_ARG_SRC, x_in.to},
				      {DNNL_ARG_WEIGHTS, w_in.to},
				      {DNNL_ARG_DST, y_conv}});
		y_out.run(stream);
		stream.wait();
	});
	const std::uint64_t flops =
		2ull * *batch * *out_channels * out_h * out_w * *channels * *ksize * *ksize;
	return fmt::format(
		"bench conv n={} c={} oc={} h={} w={} ksize={} stride={} pad={} "
		"dtype={} threads={} runs={} median_ns={} min_ns={} flops={} impl={}\nok\n",
		*batch, *channels, *out_channels, *height, *width, *ksize, *stride, *pad, w[10],
		*threads, *runs, t.median_ns, t.min_ns, flops, pd.impl_info_str());
}

// PyTorch on the CPU: frameworks/models/torch_cpu_bench.py, run with the
// system python (whose torch builds the model), prints the reply line.
// MODEL comes from a fixed list, so the guest names nothing on the host.
std::string bench_torch(const std::vector<std::string> &w)
{
	if (w.size() < 4 || w.size() > 5)
		return "error usage: bench torch MODEL THREADS [RUNS]\n";
	const auto threads = parse_uint(w[3], 1, kMaxThreads);
	const auto runs = w.size() == 5 ? parse_uint(w[4], 1, kMaxRuns) : kDefaultRuns;
	if (w[2] != "resnet18" && w[2] != "mobilenet_v2")
		return "error bench torch: MODEL must be resnet18 or mobilenet_v2\n";
	if (!threads || !runs)
		return "error bench torch: THREADS 1-256, RUNS 1-100\n";
	const std::string script = NPU_TORCH_BENCH_SCRIPT;
	if (script.find('\'') != std::string::npos)
		return "error bench torch: unusable script path\n";
	const std::string command =
		fmt::format("/usr/bin/python3 '{}' {} {} {} 2>&1", script, w[2], *threads, *runs);
	FILE *pipe = popen(command.c_str(), "r");
	if (!pipe)
		return fmt::format("error bench torch: popen: {}\n", std::strerror(errno));
	std::string out;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0)
		out.append(buf, n);
	const int status = pclose(pipe);
	const size_t line = out.rfind("bench torch ");
	if (status != 0 || line == std::string::npos) {
		std::replace(out.begin(), out.end(), '\n', ' ');
		return fmt::format("error bench torch: {} failed (status {}): {}\n", script, status,
				   out.substr(out.size() > 300 ? out.size() - 300 : 0));
	}
	return out.substr(line, out.find('\n', line) - line) + "\nok\n";
}

} // namespace

std::string reference_bench_command(const std::vector<std::string> &words)
{
	if (words.size() < 2)
		return "error usage: bench gemm|conv|torch ...\n";
	try {
		std::string reply;
		if (words[1] == "gemm")
			reply = bench_gemm(words);
		else if (words[1] == "conv")
			reply = bench_conv(words);
		else if (words[1] == "torch")
			reply = bench_torch(words);
		else
			return "error bench: unknown operation '" + words[1] +
			       "' (gemm, conv or torch)\n";
		if (reply.rfind("bench ", 0) == 0)
			log("control", "{}", reply.substr(0, reply.find('\n')));
		return reply;
	} catch (const std::exception &e) {
		return std::string("error bench: ") + e.what() + "\n";
	}
}

} // namespace npu::emu
