// Symbol visibility: libnpu builds with -fvisibility=hidden and exports only
// what carries NPU_API.
#pragma once

#if defined(NPU_BUILDING_LIBRARY)
#define NPU_API __attribute__((visibility("default")))
#else
#define NPU_API
#endif
