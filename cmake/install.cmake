# Installable library, CLI, man page, pkg-config file and CMake package.
#
# libcformer.so / libcformer.a are built from the objects of every layer library
# (cf_core .. cf_server), so a new layer or source file needs no change here. The shared
# library exports exactly the functions declared in include/cformer.h (a linker version
# script generated from the header), and nothing else.
#
# Include from the top CMakeLists.txt after the layers and the cformer executable exist.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(CF_INSTALL_LIBS "Build libcformer.so and libcformer.a" ON)

set(CF_MODELS_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/cformer/models)
# The bundled models' folder as the library sees it when it is not next to an executable.
target_compile_definitions(cf_pipelines PRIVATE
  CF_INSTALL_MODELS_DIR="${CMAKE_INSTALL_FULL_DATADIR}/cformer/models")

# ---------------------------------------------------------------- layers ----
# The layer libraries: every static library target of the top directory named cf_*.
get_property(cf_all_targets DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
set(cf_layer_targets "")
foreach(t ${cf_all_targets})
  get_target_property(type ${t} TYPE)
  if(t MATCHES "^cf_" AND type STREQUAL "STATIC_LIBRARY")
    list(APPEND cf_layer_targets ${t})
  endif()
endforeach()

# What the layers link from outside the project (pkg-config targets, m, Threads).
set(cf_external_libs "")
foreach(t ${cf_layer_targets})
  get_target_property(libs ${t} INTERFACE_LINK_LIBRARIES)
  foreach(l ${libs})
    if(NOT l MATCHES "^cf_")
      list(APPEND cf_external_libs ${l})
    endif()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES cf_external_libs)

# The same dependencies as linker flags for cformer.pc's Libs.private and as plain library
# names for the exported static target.
set(cf_private_flags "")
set(cf_private_names "")
foreach(l ${cf_external_libs})
  if(l MATCHES "^PkgConfig::(.+)$")
    foreach(name ${${CMAKE_MATCH_1}_LIBRARIES})
      list(APPEND cf_private_flags "-l${name}")
      list(APPEND cf_private_names ${name})
    endforeach()
  elseif(l STREQUAL "Threads::Threads")
    list(APPEND cf_private_flags "-pthread")
  else()
    list(APPEND cf_private_flags "-l${l}")
    list(APPEND cf_private_names ${l})
  endif()
endforeach()
list(REMOVE_DUPLICATES cf_private_flags)
list(REMOVE_DUPLICATES cf_private_names)
list(JOIN cf_private_flags " " CF_PC_LIBS_PRIVATE)

# ----------------------------------------------------- exported symbol list ----
# Every function declared in the public header; re-read whenever the header changes.
set(cf_public_header ${CMAKE_SOURCE_DIR}/include/cformer.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${cf_public_header})
file(READ ${cf_public_header} cf_header_text)
string(REGEX MATCHALL "[ *\n](cf_[a-z0-9_]+)[ \t\n]*\\(" cf_decls "${cf_header_text}")
set(CF_PUBLIC_FUNCTIONS "")
foreach(d ${cf_decls})
  string(REGEX REPLACE "^[ *\n](cf_[a-z0-9_]+).*$" "\\1" name "${d}")
  list(APPEND CF_PUBLIC_FUNCTIONS ${name})
endforeach()
list(REMOVE_DUPLICATES CF_PUBLIC_FUNCTIONS)
list(JOIN CF_PUBLIC_FUNCTIONS ";\n    " cf_symbols)
set(cf_version_script ${CMAKE_BINARY_DIR}/cformer.map)
file(CONFIGURE OUTPUT ${cf_version_script}
  CONTENT "CFORMER_${PROJECT_VERSION_MAJOR} {\n  global:\n    ${cf_symbols};\n  local: *;\n};\n")
file(WRITE ${CMAKE_BINARY_DIR}/cformer-public-functions.txt "${CF_PUBLIC_FUNCTIONS}")

# ------------------------------------------------------------- libraries ----
if(CF_INSTALL_LIBS AND NOT CF_FUZZ)
  set(cf_layer_objects "")
  foreach(t ${cf_layer_targets})
    list(APPEND cf_layer_objects $<TARGET_OBJECTS:${t}>)
  endforeach()

  add_library(cformer_shared SHARED ${cf_layer_objects})
  add_library(cformer_static STATIC ${cf_layer_objects})
  foreach(t cformer_shared cformer_static)
    set_target_properties(${t} PROPERTIES OUTPUT_NAME cformer)
    target_include_directories(${t} INTERFACE
      $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endforeach()
  set_target_properties(cformer_shared PROPERTIES
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR} EXPORT_NAME cformer
    LINK_DEPENDS ${cf_version_script})
  target_link_libraries(cformer_shared PRIVATE ${cf_external_libs})
  target_link_options(cformer_shared PRIVATE "LINKER:--version-script=${cf_version_script}")
  if(NOT CF_SANITIZE)
    target_link_options(cformer_shared PRIVATE "LINKER:--no-undefined")
  endif()

  set_target_properties(cformer_static PROPERTIES EXPORT_NAME cformer_static)
  foreach(l ${cf_external_libs})
    target_link_libraries(cformer_static INTERFACE $<BUILD_INTERFACE:${l}>)
  endforeach()
  foreach(l ${cf_private_names} Threads::Threads)
    target_link_libraries(cformer_static INTERFACE $<INSTALL_INTERFACE:${l}>)
  endforeach()

  install(TARGETS cformer_shared cformer_static EXPORT cformerTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(FILES ${cf_public_header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

  # pkg-config: relocatable (the prefix is found from the .pc file's own folder).
  set(cf_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  file(RELATIVE_PATH CF_PC_PREFIX_FROM_PCDIR /${cf_pc_dir} /)
  string(REGEX REPLACE "/$" "" CF_PC_PREFIX_FROM_PCDIR "${CF_PC_PREFIX_FROM_PCDIR}")
  configure_file(${CMAKE_SOURCE_DIR}/cformer.pc.in ${CMAKE_BINARY_DIR}/cformer.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/cformer.pc DESTINATION ${cf_pc_dir})

  # CMake package: find_package(cformer) -> cformer::cformer (shared), cformer::cformer_static.
  set(cf_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/cformer)
  install(EXPORT cformerTargets NAMESPACE cformer:: DESTINATION ${cf_cmake_dir})
  configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/cformerConfig.cmake.in
    ${CMAKE_BINARY_DIR}/cformerConfig.cmake INSTALL_DESTINATION ${cf_cmake_dir})
  write_basic_package_version_file(${CMAKE_BINARY_DIR}/cformerConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
  install(FILES ${CMAKE_BINARY_DIR}/cformerConfig.cmake ${CMAKE_BINARY_DIR}/cformerConfigVersion.cmake
    DESTINATION ${cf_cmake_dir})
endif()

# ----------------------------------------------------- CLI, man page, models ----
install(TARGETS cformer RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/models/ DESTINATION ${CF_MODELS_INSTALL_DIR}
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# cformer.1 from `cformer --help` and every `cformer COMMAND --help` (help2man).
find_program(HELP2MAN help2man)
if(HELP2MAN AND NOT CF_FUZZ AND NOT CF_SANITIZE AND NOT CMAKE_CROSSCOMPILING)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/cformer.1
    COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:cformer> -DHELP2MAN=${HELP2MAN}
            -DOUT=${CMAKE_BINARY_DIR}/cformer.1 -P ${CMAKE_SOURCE_DIR}/cmake/manpage.cmake
    DEPENDS cformer ${CMAKE_SOURCE_DIR}/cmake/manpage.cmake
    COMMENT "Generating the cformer.1 man page from the CLI help")
  add_custom_target(cformer_manpage ALL DEPENDS ${CMAKE_BINARY_DIR}/cformer.1)
  install(FILES ${CMAKE_BINARY_DIR}/cformer.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "cformer.1 man page not built (needs help2man, from scripts/install-deps.sh; not in sanitizer or fuzz builds)")
endif()
