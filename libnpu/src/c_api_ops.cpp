// The C ABI of the op API (npu/npu_ops.h): thin wrappers over npu::ops.
#include <new>
#include <string>
#include <vector>

#include "c_api_access.hpp"
#include "npu/error.hpp"
#include "npu/npu.h"
#include "npu/ops.hpp"

struct npu_op_plan {
    npu::ops::Plan plan;
};

namespace {

template <typename Body>
npu_status_t guarded(Body&& body) noexcept {
    try {
        body();
        return NPU_SUCCESS;
    } catch (const std::system_error& e) {
        return npu::capi::fail_with(npu::capi::status_of_errno(e.code().value()), e.what());
    } catch (const std::bad_alloc&) {
        return npu::capi::fail_with(NPU_ERROR_OUT_OF_MEMORY, "out of host memory");
    } catch (const std::exception& e) {
        return npu::capi::fail_with(NPU_ERROR_INTERNAL, e.what());
    } catch (...) {
        return npu::capi::fail_with(NPU_ERROR_INTERNAL, "unknown exception");
    }
}

npu_status_t null_argument(const char* function, const char* argument) {
    return npu::capi::fail_with(NPU_ERROR_INVALID_ARGUMENT,
                                std::string(function) + ": " + argument + " must not be NULL");
}

npu::ops::TensorDesc to_cpp(const npu_tensor_desc_t& t, size_t index) {
    npu::ops::TensorDesc d;
    d.dtype = static_cast<npu::ops::DType>(t.dtype);
    if (t.rank > NPU_OP_MAX_RANK)
        throw npu::Error(EINVAL, "npu_op_plan_create: tensor " + std::to_string(index) +
                                     " has rank above NPU_OP_MAX_RANK");
    if (t.rank && !t.shape)
        throw npu::Error(EINVAL, "npu_op_plan_create: tensor " + std::to_string(index) +
                                     " has a rank but no shape");
    if (t.rank) {
        d.shape.assign(t.shape, t.shape + t.rank);
        if (t.strides)
            d.strides.assign(t.strides, t.strides + t.rank);
    }
    return d;
}

npu::ops::OpDesc to_cpp(const npu_op_desc_t& c) {
    npu::ops::OpDesc op;
    op.kind = static_cast<npu::ops::OpKind>(c.kind);
    op.fn = c.fn;
    op.flags = c.flags;
    op.alpha = c.alpha;
    op.beta = c.beta;
    op.act = {c.act_fn, c.act_alpha, c.act_beta};
    op.quant = {c.a_zero, c.b_zero, c.y_scale, c.y_zero};
    op.axes = c.axes;
    op.axis = c.axis;
    op.epsilon = c.epsilon;
    op.groups = c.groups;
    for (int i = 0; i < 3; ++i) {
        op.kernel[i] = c.kernel[i];
        op.stride[i] = c.stride[i];
        op.dilation[i] = c.dilation[i];
        op.pad_begin[i] = c.pad_begin[i];
        op.pad_end[i] = c.pad_end[i];
    }
    op.p = c.p;
    if (c.copy_rank) {
        if (!c.copy_offset)
            throw npu::Error(EINVAL, "npu_op_plan_create: copy_rank without copy_offset");
        op.copy_offset.assign(c.copy_offset, c.copy_offset + c.copy_rank);
    }
    op.pad_value = c.pad_value;
    return op;
}

} // namespace

extern "C" {

npu_status_t npu_op_desc_init(npu_op_desc_t* op, npu_op_kind_t kind) {
    if (!op)
        return null_argument(__func__, "op");
    *op = npu_op_desc_t{};
    op->size = sizeof(*op);
    op->kind = static_cast<uint32_t>(kind);
    const npu::ops::OpDesc d;
    op->alpha = d.alpha;
    op->beta = d.beta;
    op->epsilon = d.epsilon;
    op->groups = d.groups;
    for (int i = 0; i < 3; ++i) {
        op->stride[i] = d.stride[i];
        op->dilation[i] = d.dilation[i];
    }
    return NPU_SUCCESS;
}

npu_status_t npu_op_plan_create(npu_device_t device, const npu_op_desc_t* op,
                                const npu_tensor_desc_t* tensors, size_t count,
                                npu_op_plan_t* plan) {
    if (!device)
        return null_argument(__func__, "device");
    if (!op)
        return null_argument(__func__, "op");
    if (!tensors && count)
        return null_argument(__func__, "tensors");
    if (!plan)
        return null_argument(__func__, "plan");
    if (op->size < sizeof(npu_op_desc_t))
        return npu::capi::fail_with(NPU_ERROR_INVALID_ARGUMENT,
                                    "npu_op_plan_create: op->size is not sizeof(npu_op_desc_t) "
                                    "(call npu_op_desc_init)");
    return guarded([&] {
        std::vector<npu::ops::TensorDesc> ts;
        ts.reserve(count);
        for (size_t i = 0; i < count; ++i)
            ts.push_back(to_cpp(tensors[i], i));
        *plan = new npu_op_plan{npu::ops::Plan(*npu::capi::device_of(device), to_cpp(*op), ts)};
    });
}

npu_status_t npu_op_plan_destroy(npu_op_plan_t plan) {
    delete plan;
    return NPU_SUCCESS;
}

npu_status_t npu_op_plan_launch(npu_op_plan_t plan, npu_stream_t stream,
                                const void* const* operands, size_t count) {
    if (!plan)
        return null_argument(__func__, "plan");
    if (!stream)
        return null_argument(__func__, "stream");
    if (!operands && count)
        return null_argument(__func__, "operands");
    return guarded([&] {
        plan->plan.launch(*npu::capi::stream_of(stream),
                          std::span<const void* const>(operands, count));
    });
}

npu_status_t npu_op_plan_info(npu_op_plan_t plan, size_t* operand_count, size_t* packet_count) {
    if (!plan)
        return null_argument(__func__, "plan");
    if (operand_count)
        *operand_count = plan->plan.operand_count();
    if (packet_count)
        *packet_count = plan->plan.packet_count();
    return NPU_SUCCESS;
}

} // extern "C"
