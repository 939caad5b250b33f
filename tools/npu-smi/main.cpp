#include <iostream>

#include "command.hpp"

int main(int argc, char** argv) {
    npu::smi::Context context{npu::default_os_interface(), std::cout, std::cerr};
    return npu::smi::run(argc, argv, context);
}
