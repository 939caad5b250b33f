/*
 * libnpu version, for C and C++. The library's soname follows the major
 * number (libnpu.so.1); libnpu/CMakeLists.txt reads the numbers from here.
 *
 * NPU_API_VERSION is the version the program is compiled against, as one
 * number (major * 10000 + minor * 100 + patch: 10000 for 1.0.0);
 * npu_api_version() (C) and npu::api_version() (C++) return the version of
 * the library actually loaded. A program built against 1.x runs with any
 * libnpu.so.1 whose npu_api_version() >= the NPU_API_VERSION it was built
 * with; a minor version adds functions and struct members (C structs carry
 * their own size, see npu.h), never removes or changes them.
 */
#ifndef NPU_VERSION_H
#define NPU_VERSION_H

#define NPU_VERSION_MAJOR 1
#define NPU_VERSION_MINOR 0
#define NPU_VERSION_PATCH 0

#define NPU_MAKE_API_VERSION(major, minor, patch) ((major)*10000 + (minor)*100 + (patch))
#define NPU_API_VERSION                                                                            \
    NPU_MAKE_API_VERSION(NPU_VERSION_MAJOR, NPU_VERSION_MINOR, NPU_VERSION_PATCH)

#endif /* NPU_VERSION_H */
