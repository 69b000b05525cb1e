# Debian package with CPack: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr (scripts/package.sh does both). Depends is computed by
# dpkg-shlibdeps from the shared libraries the binaries link.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cformer)
set(CPACK_PACKAGE_VENDOR cformer)
set(CPACK_PACKAGE_CONTACT "cformer maintainers <cformer@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Hugging Face transformer pipelines in C")
set(CPACK_PACKAGE_DESCRIPTION "cformer runs Hugging Face Hub model folders (safetensors, tokenizer.json) \
for the tasks of the Python pipeline() API on the CPU and prints the same JSON. \
This package has the cformer command, libcformer (shared and static), its header, \
pkg-config and CMake files, and the small stories260k model.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/cformer/cformer")
set(CPACK_STRIP_FILES ON)
include(CPack)
