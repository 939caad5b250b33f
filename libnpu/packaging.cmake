# Install rules for libnpu: the shared library, its public headers (with the
# uapi headers they include, under npu/uapi), a find_package(npu) config
# with exported targets (npu::npu) and libnpu.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS npu EXPORT npuTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/npu DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(FILES ${NPU_UAPI_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/npu/uapi/drm)

set(NPU_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/npu)
install(EXPORT npuTargets NAMESPACE npu:: DESTINATION ${NPU_CMAKE_DIR})
configure_package_config_file(cmake/npuConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/npuConfig.cmake INSTALL_DESTINATION ${NPU_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/npuConfigVersion.cmake
  VERSION ${NPU_LIB_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/npuConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/npuConfigVersion.cmake DESTINATION ${NPU_CMAKE_DIR})

# libnpu.pc: relocatable through ${pcfiledir}.
configure_file(cmake/libnpu.pc.in ${CMAKE_CURRENT_BINARY_DIR}/libnpu.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libnpu.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
