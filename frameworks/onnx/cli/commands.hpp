// npu-onnx's commands (run, test), callable from tests.
#pragma once

#include <ostream>

namespace npu_onnx::cli {

// The whole command line; returns the exit status (0 success, 1 failures,
// 2 usage errors).
int main(int argc, char** argv, std::ostream& out, std::ostream& err);

} // namespace npu_onnx::cli
