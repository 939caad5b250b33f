// HostTensor: conversions between elements, TensorProtos and files.
#include <onnx/onnx_pb.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "lowering.hpp"
#include "npu_onnx/runner.hpp"

namespace npu_onnx {

float half_to_float(uint16_t h) {
    uint32_t sign = (h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal
            float f = std::ldexp(static_cast<float>(mant), -24);
            return sign ? -f : f;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    }
    return std::bit_cast<float>(bits);
}

uint16_t float_to_half(float f) {
    uint32_t x = std::bit_cast<uint32_t>(f);
    uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) // inf or nan
        return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0);
    if (ax >= 0x477ff000u) // rounds to >= 65520: inf
        return sign | 0x7c00;
    if (ax < 0x38800000u) { // subnormal or zero in half
        float a = std::bit_cast<float>(ax);
        // half subnormal step is 2^-24
        float scaled = a * 16777216.0f; // 2^24
        auto m = static_cast<uint32_t>(std::nearbyint(scaled));
        return sign | static_cast<uint16_t>(m);
    }
    uint32_t exp = ((ax >> 23) - 112) << 10;
    uint32_t mant = ax & 0x7fffffu;
    uint32_t h = exp | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++;
    return sign | static_cast<uint16_t>(h);
}

float bf16_to_float(uint16_t h) {
    return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

uint16_t float_to_bf16(float f) {
    uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return static_cast<uint16_t>((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);
    return static_cast<uint16_t>(x >> 16);
}

DType dtype_from_onnx(int32_t elem_type) {
    switch (elem_type) {
    case onnx::TensorProto_DataType_FLOAT:
        return DType::f32;
    case onnx::TensorProto_DataType_FLOAT16:
        return DType::f16;
    case onnx::TensorProto_DataType_BFLOAT16:
        return DType::bf16;
    case onnx::TensorProto_DataType_INT8:
        return DType::i8;
    case onnx::TensorProto_DataType_UINT8:
        return DType::u8;
    case onnx::TensorProto_DataType_INT32:
        return DType::i32;
    case onnx::TensorProto_DataType_INT64:
        return DType::i64;
    case onnx::TensorProto_DataType_BOOL:
        return DType::boolean;
    default:
        return DType::none;
    }
}

int32_t dtype_to_onnx(DType dtype) {
    switch (dtype) {
    case DType::f32:
        return onnx::TensorProto_DataType_FLOAT;
    case DType::f16:
        return onnx::TensorProto_DataType_FLOAT16;
    case DType::bf16:
        return onnx::TensorProto_DataType_BFLOAT16;
    case DType::i8:
        return onnx::TensorProto_DataType_INT8;
    case DType::u8:
        return onnx::TensorProto_DataType_UINT8;
    case DType::i32:
        return onnx::TensorProto_DataType_INT32;
    case DType::i64:
        return onnx::TensorProto_DataType_INT64;
    case DType::boolean:
        return onnx::TensorProto_DataType_BOOL;
    default:
        return onnx::TensorProto_DataType_UNDEFINED;
    }
}

const char* onnx_type_name(int32_t elem_type) {
    if (onnx::TensorProto_DataType_IsValid(elem_type)) {
        static thread_local std::string name;
        name = onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(elem_type));
        for (auto& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return name.c_str();
    }
    return "unknown";
}

int64_t HostTensor::elements() const {
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

namespace {

template <typename T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <typename T>
void store(uint8_t* p, T v) {
    std::memcpy(p, &v, sizeof v);
}

double element_double(DType dtype, const uint8_t* p) {
    switch (dtype) {
    case DType::f32:
        return load<float>(p);
    case DType::f16:
        return half_to_float(load<uint16_t>(p));
    case DType::bf16:
        return bf16_to_float(load<uint16_t>(p));
    case DType::i8:
        return load<int8_t>(p);
    case DType::u8:
        return load<uint8_t>(p);
    case DType::i32:
        return load<int32_t>(p);
    case DType::i64:
        return static_cast<double>(load<int64_t>(p));
    case DType::boolean:
        return load<uint8_t>(p) ? 1 : 0;
    default:
        throw std::logic_error("HostTensor: no dtype");
    }
}

int64_t element_int64(DType dtype, const uint8_t* p) {
    switch (dtype) {
    case DType::i8:
        return load<int8_t>(p);
    case DType::u8:
        return load<uint8_t>(p);
    case DType::i32:
        return load<int32_t>(p);
    case DType::i64:
        return load<int64_t>(p);
    case DType::boolean:
        return load<uint8_t>(p) ? 1 : 0;
    default:
        return static_cast<int64_t>(element_double(dtype, p));
    }
}

void set_double(DType dtype, uint8_t* p, double v) {
    switch (dtype) {
    case DType::f32:
        store<float>(p, static_cast<float>(v));
        break;
    case DType::f16:
        store<uint16_t>(p, float_to_half(static_cast<float>(v)));
        break;
    case DType::bf16:
        store<uint16_t>(p, float_to_bf16(static_cast<float>(v)));
        break;
    case DType::i8:
        store<int8_t>(p, static_cast<int8_t>(v));
        break;
    case DType::u8:
        store<uint8_t>(p, static_cast<uint8_t>(v));
        break;
    case DType::i32:
        store<int32_t>(p, static_cast<int32_t>(v));
        break;
    case DType::i64:
        store<int64_t>(p, static_cast<int64_t>(v));
        break;
    case DType::boolean:
        store<uint8_t>(p, v != 0 ? 1 : 0);
        break;
    default:
        throw std::logic_error("HostTensor: no dtype");
    }
}

void set_int64(DType dtype, uint8_t* p, int64_t v) {
    switch (dtype) {
    case DType::i8:
        store<int8_t>(p, static_cast<int8_t>(v));
        break;
    case DType::u8:
        store<uint8_t>(p, static_cast<uint8_t>(v));
        break;
    case DType::i32:
        store<int32_t>(p, static_cast<int32_t>(v));
        break;
    case DType::i64:
        store<int64_t>(p, v);
        break;
    case DType::boolean:
        store<uint8_t>(p, v != 0 ? 1 : 0);
        break;
    default:
        set_double(dtype, p, static_cast<double>(v));
    }
}

} // namespace

std::vector<int64_t> HostTensor::to_int64() const {
    size_t es = npu::ops::dtype_size(dtype);
    std::vector<int64_t> out(static_cast<size_t>(elements()));
    for (size_t i = 0; i < out.size(); i++)
        out[i] = element_int64(dtype, bytes.data() + i * es);
    return out;
}

std::vector<double> HostTensor::to_double() const {
    size_t es = npu::ops::dtype_size(dtype);
    std::vector<double> out(static_cast<size_t>(elements()));
    for (size_t i = 0; i < out.size(); i++)
        out[i] = element_double(dtype, bytes.data() + i * es);
    return out;
}

HostTensor HostTensor::from_int64(DType dtype, std::vector<int64_t> shape,
                                  std::span<const int64_t> values) {
    HostTensor t{dtype, std::move(shape), {}};
    if (static_cast<int64_t>(values.size()) != t.elements())
        throw std::invalid_argument("HostTensor::from_int64: element count does not match shape");
    size_t es = npu::ops::dtype_size(dtype);
    t.bytes.resize(values.size() * es);
    for (size_t i = 0; i < values.size(); i++)
        set_int64(dtype, t.bytes.data() + i * es, values[i]);
    return t;
}

HostTensor HostTensor::from_double(DType dtype, std::vector<int64_t> shape,
                                   std::span<const double> values) {
    HostTensor t{dtype, std::move(shape), {}};
    if (static_cast<int64_t>(values.size()) != t.elements())
        throw std::invalid_argument("HostTensor::from_double: element count does not match shape");
    size_t es = npu::ops::dtype_size(dtype);
    t.bytes.resize(values.size() * es);
    for (size_t i = 0; i < values.size(); i++)
        set_double(dtype, t.bytes.data() + i * es, values[i]);
    return t;
}

HostTensor HostTensor::from_proto(const onnx::TensorProto& proto) {
    if (proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
        throw Unsupported("tensor '" + proto.name() + "' has external data");
    DType dtype = dtype_from_onnx(proto.data_type());
    if (dtype == DType::none)
        throw Unsupported(std::string("element type ") + onnx_type_name(proto.data_type()) +
                          " has no device dtype");
    HostTensor t{dtype, {proto.dims().begin(), proto.dims().end()}, {}};
    for (int64_t d : t.shape)
        if (d < 0)
            throw Unsupported("tensor '" + proto.name() + "' has a negative dimension");
    size_t n = static_cast<size_t>(t.elements());
    size_t es = npu::ops::dtype_size(dtype);
    // The stored elements must account for the shape before anything is
    // allocated (a file of another message parses as a nonsense tensor).
    size_t stored = proto.has_raw_data()  ? proto.raw_data().size() / es
                    : dtype == DType::f32 ? static_cast<size_t>(proto.float_data_size())
                    : dtype == DType::i64 ? static_cast<size_t>(proto.int64_data_size())
                                          : static_cast<size_t>(proto.int32_data_size());
    if (stored != n && !(n == 0 && stored == 0))
        throw Unsupported("tensor '" + proto.name() + "': " + std::to_string(stored) +
                          " elements stored, shape needs " + std::to_string(n));
    t.bytes.resize(n * es);
    if (proto.has_raw_data()) {
        if (proto.raw_data().size() != n * es)
            throw Unsupported("tensor '" + proto.name() + "': raw_data holds " +
                              std::to_string(proto.raw_data().size()) + " bytes, shape needs " +
                              std::to_string(n * es));
        std::memcpy(t.bytes.data(), proto.raw_data().data(), n * es);
        return t;
    }
    auto check = [&](int have) {
        if (static_cast<size_t>(have) != n)
            throw Unsupported("tensor '" + proto.name() + "': " + std::to_string(have) +
                              " elements stored, shape needs " + std::to_string(n));
    };
    switch (dtype) {
    case DType::f32:
        check(proto.float_data_size());
        for (size_t i = 0; i < n; i++)
            store<float>(t.bytes.data() + i * 4, proto.float_data(static_cast<int>(i)));
        break;
    case DType::i64:
        check(proto.int64_data_size());
        for (size_t i = 0; i < n; i++)
            store<int64_t>(t.bytes.data() + i * 8, proto.int64_data(static_cast<int>(i)));
        break;
    case DType::f16:
    case DType::bf16:
        check(proto.int32_data_size());
        for (size_t i = 0; i < n; i++)
            store<uint16_t>(t.bytes.data() + i * 2,
                            static_cast<uint16_t>(proto.int32_data(static_cast<int>(i))));
        break;
    default: // int32, int8, uint8, bool: int32_data
        check(proto.int32_data_size());
        for (size_t i = 0; i < n; i++)
            set_int64(dtype, t.bytes.data() + i * es, proto.int32_data(static_cast<int>(i)));
        break;
    }
    return t;
}

void HostTensor::to_proto(onnx::TensorProto& proto) const {
    proto.set_data_type(dtype_to_onnx(dtype));
    proto.clear_dims();
    for (int64_t d : shape)
        proto.add_dims(d);
    proto.set_raw_data(std::string(bytes.begin(), bytes.end()));
}

namespace {

std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw ModelError("cannot open " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// NumPy .npy: version 1/2/3 header, little-endian, C order.
HostTensor read_npy(const std::string& path, const std::string& data) {
    auto bad = [&](const std::string& why) { return ModelError(path + ": " + why); };
    if (data.size() < 10 || data.compare(0, 6, "\x93NUMPY") != 0)
        throw bad("not a .npy file");
    size_t header_len, start;
    if (data[6] == 1) {
        header_len = static_cast<uint8_t>(data[8]) | (static_cast<uint8_t>(data[9]) << 8);
        start = 10;
    } else {
        header_len = load<uint32_t>(reinterpret_cast<const uint8_t*>(data.data()) + 8);
        start = 12;
    }
    std::string header = data.substr(start, header_len);
    auto field = [&](const std::string& key) {
        size_t k = header.find("'" + key + "'");
        if (k == std::string::npos)
            throw bad("header lacks " + key);
        return k + key.size() + 2;
    };
    size_t d = header.find('\'', header.find(':', field("descr")));
    std::string descr = header.substr(d + 1, header.find('\'', d + 1) - d - 1);
    if (header.find("True", field("fortran_order")) < header.find(',', field("fortran_order")))
        throw bad("Fortran order is not supported");
    size_t s = header.find('(', field("shape"));
    std::string dims = header.substr(s + 1, header.find(')', s) - s - 1);
    HostTensor t;
    std::stringstream ds(dims);
    std::string item;
    while (std::getline(ds, item, ','))
        if (item.find_first_not_of(' ') != std::string::npos)
            t.shape.push_back(std::stoll(item));
    static const std::map<std::string, DType> types = {
        {"<f4", DType::f32}, {"<f2", DType::f16}, {"|i1", DType::i8},     {"|u1", DType::u8},
        {"<i4", DType::i32}, {"<i8", DType::i64}, {"|b1", DType::boolean}};
    auto it = types.find(descr);
    if (it == types.end())
        throw bad("dtype " + descr + " is not supported");
    t.dtype = it->second;
    size_t bytes = static_cast<size_t>(t.elements()) * npu::ops::dtype_size(t.dtype);
    size_t off = start + header_len;
    if (data.size() < off + bytes)
        throw bad("truncated");
    t.bytes.assign(data.begin() + static_cast<ptrdiff_t>(off),
                   data.begin() + static_cast<ptrdiff_t>(off + bytes));
    return t;
}

void write_npy(const std::string& path, const HostTensor& t) {
    const char* descr = nullptr;
    switch (t.dtype) {
    case DType::f32:
        descr = "<f4";
        break;
    case DType::f16:
        descr = "<f2";
        break;
    case DType::i8:
        descr = "|i1";
        break;
    case DType::u8:
        descr = "|u1";
        break;
    case DType::i32:
        descr = "<i4";
        break;
    case DType::i64:
        descr = "<i8";
        break;
    case DType::boolean:
        descr = "|b1";
        break;
    default:
        throw ModelError(std::string("cannot write ") + npu::ops::dtype_name(t.dtype) + " as .npy");
    }
    std::string shape = "(";
    for (int64_t d : t.shape)
        shape += std::to_string(d) + ",";
    if (t.shape.size() > 1)
        shape.pop_back();
    shape += ")";
    std::string header =
        std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    while ((10 + header.size() + 1) % 64)
        header += ' ';
    header += '\n';
    std::ofstream f(path, std::ios::binary);
    f.write("\x93NUMPY\x01\x00", 8);
    uint16_t len = static_cast<uint16_t>(header.size());
    f.write(reinterpret_cast<const char*>(&len), 2);
    f << header;
    f.write(reinterpret_cast<const char*>(t.bytes.data()),
            static_cast<std::streamsize>(t.bytes.size()));
    if (!f)
        throw ModelError("cannot write " + path);
}

} // namespace

HostTensor read_tensor_file(const std::string& path, std::string* name) {
    std::string data = read_all(path);
    if (ends_with(path, ".npy"))
        return read_npy(path, data);
    onnx::TensorProto proto;
    if (!proto.ParseFromString(data))
        throw ModelError(path + ": not a TensorProto");
    if (name)
        *name = proto.name();
    try {
        return HostTensor::from_proto(proto);
    } catch (const Unsupported& e) {
        throw ModelError(path + ": " + e.what());
    }
}

void write_tensor_file(const std::string& path, const HostTensor& tensor, const std::string& name) {
    if (ends_with(path, ".npy"))
        return write_npy(path, tensor);
    onnx::TensorProto proto;
    proto.set_name(name);
    tensor.to_proto(proto);
    std::ofstream f(path, std::ios::binary);
    if (!f || !proto.SerializeToOstream(&f))
        throw ModelError("cannot write " + path);
}

} // namespace npu_onnx
