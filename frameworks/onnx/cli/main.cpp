#include <iostream>

#include "commands.hpp"

int main(int argc, char** argv) {
    return npu_onnx::cli::main(argc, argv, std::cout, std::cerr);
}
