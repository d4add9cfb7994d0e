# cmake/install.cmake: what `cmake --install` puts where, the man page, and
# the Debian package (CPack). Included last by the top-level CMakeLists.txt.
#
#   bin/amc, bin/amc_static          the tool (the static twin where built)
#   libexec/amc/amc-plugin-host      the dynamic program the static amc runs
#                                    a plug-in's child in (plugin/plugin_host.h),
#                                    found from BIN/../libexec/amc
#   include/amc/amc_plugin.h         the plug-in interface (plugin/CMakeLists.txt)
#   share/pkgconfig/amc-plugin.pc    pkg-config: header-only Cflags
#   share/cmake/amc/amcConfig*.cmake find_package(amc): amc::plugin_header
#   share/amc/conformance/cases      the conformance cases     } what amc replay
#   share/amc/corpus/...             the regression corpus     } and conform use
#                                                                with no PATH
#   share/man/man1/amc.1             generated from --help at build time
#   share/doc/amc/                   README, KNOWN_DIFFERENCES, docs/*.md
#
# The installed amc finds share/amc from its own path (BIN/../share/amc,
# tools/amc/conform.cc DataDir), so any prefix works, and nothing points
# back into this build or source tree.
include(CMakePackageConfigHelpers)

install(TARGETS amc RUNTIME DESTINATION bin)
if(TARGET amc_static)
  install(TARGETS amc_static RUNTIME DESTINATION bin)
  # The path is fixed: amc finds it relative to itself (kPluginHostRelative).
  install(TARGETS amc_plugin_host RUNTIME DESTINATION libexec/amc)
endif()

# The ABI version the header declares, for amcConfig.cmake.
file(STRINGS ${PROJECT_SOURCE_DIR}/plugin/amc_plugin.h abi_line
  REGEX "^#define AMC_PLUGIN_ABI_VERSION [0-9]+u")
string(REGEX REPLACE ".* ([0-9]+)u.*" "\\1" AMC_PLUGIN_ABI_VERSION "${abi_line}")
set(pkg ${PROJECT_BINARY_DIR}/packaging)
configure_file(${PROJECT_SOURCE_DIR}/packaging/amc-plugin.pc.in
  ${pkg}/amc-plugin.pc @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/packaging/amcConfig.cmake.in
  ${pkg}/amcConfig.cmake @ONLY)
write_basic_package_version_file(${pkg}/amcConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${pkg}/amc-plugin.pc DESTINATION share/pkgconfig)
install(FILES ${pkg}/amcConfig.cmake ${pkg}/amcConfigVersion.cmake
  DESTINATION share/cmake/amc)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/conformance/cases
  DESTINATION share/amc/conformance FILES_MATCHING PATTERN "*.ops")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/corpus/ DESTINATION share/amc/corpus
  FILES_MATCHING PATTERN "*.ops" PATTERN "README.md")

# The man page, from the built tool's --help texts (help2man is not needed).
set(manpage ${PROJECT_BINARY_DIR}/amc.1)
add_custom_command(OUTPUT ${manpage}
  COMMAND sh ${PROJECT_SOURCE_DIR}/cmake/make_manpage.sh $<TARGET_FILE:amc> ${manpage}
  DEPENDS amc ${PROJECT_SOURCE_DIR}/cmake/make_manpage.sh
  COMMENT "amc.1 from amc --help")
# Built by default in the plain build (what is packaged); the sanitizer
# builds make it only when asked (cmake --build --target amc_manpage).
if(AMC_SANITIZER STREQUAL "")
  add_custom_target(amc_manpage ALL DEPENDS ${manpage})
  install(FILES ${manpage} DESTINATION share/man/man1)
else()
  add_custom_target(amc_manpage DEPENDS ${manpage})
  install(FILES ${manpage} DESTINATION share/man/man1 OPTIONAL)
endif()

install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/KNOWN_DIFFERENCES.md
  DESTINATION share/doc/amc)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/amc/docs
  FILES_MATCHING PATTERN "*.md")
foreach(license LICENSE LICENSE.md LICENSE.txt COPYING)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${license})
    install(FILES ${PROJECT_SOURCE_DIR}/${license} DESTINATION share/doc/amc)
  endif()
endforeach()

# The Debian package: ci/package.sh, or `cpack` in the build folder.
# amc_<version>_<arch>.deb; its Depends come from dpkg-shlibdeps (dpkg-dev)
# on the dynamic amc, run by the project config file at package time.
configure_file(${PROJECT_SOURCE_DIR}/packaging/cpack_project_config.cmake.in
  ${pkg}/cpack_project_config.cmake.in @ONLY)
file(GENERATE OUTPUT ${pkg}/cpack_project_config.cmake
  INPUT ${pkg}/cpack_project_config.cmake.in)
set(CPACK_PROJECT_CONFIG_FILE ${pkg}/cpack_project_config.cmake)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME amc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "amc maintainers <amc-maintainers@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "conformance and fuzzing suite for eBPF array maps")
set(CPACK_PACKAGE_DESCRIPTION [[
amc runs the same operation sequences on a reference model of the Linux
kernel's BPF_MAP_TYPE_ARRAY and PERCPU_ARRAY, on the kernel itself and on
user-space implementations loaded as plug-ins, and reports every
difference. Includes the conformance cases, the regression corpus, the
plug-in header (pkg-config amc-plugin, CMake find_package(amc)).]])
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
set(CPACK_SOURCE_IGNORE_FILES "/build/;/\\\\.git/")
include(CPack)
add_subdirectory(packaging)
