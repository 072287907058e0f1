# Builds and runs one consumer project of mmry (cmake -P script, driven by tests/CMakeLists.txt).
#
#   MODE                 find_package | add_subdirectory | pkg_config
#   CONSUMER_SOURCE_DIR  the consumer project (pkg_config: the folder holding CONSUMER_SOURCE)
#   CONSUMER_BINARY_DIR  its build tree (wiped first, so every run is a clean configure)
#   EXECUTABLE           the program the consumer builds and this script runs (mmry_consumer)
#   INSTALL_PREFIX       find_package, pkg_config: where mmry is installed from MMRY_BINARY_DIR
#   MMRY_SOURCE_DIR      add_subdirectory: the mmry source tree
#   MMRY_BINARY_DIR      find_package, pkg_config: the mmry build tree to install
#   pkg_config only: no CMake on the consumer's side, just
#     CXX_COMPILER -std=c++20 CONSUMER_SOURCE -o EXECUTABLE $(pkg-config --cflags --libs mmry)
#   with PKG_CONFIG_EXECUTABLE, PKG_CONFIG_DIR (mmry.pc's folder, relative to INSTALL_PREFIX),
#   CONSUMER_SOURCE (a file in CONSUMER_SOURCE_DIR) and EXPECTED_VERSION (mmry's version).
#   GENERATOR, MAKE_PROGRAM, CXX_COMPILER, TOOLCHAIN_FILE, CONFIG
#                        passed through from the build that runs the test
#   PREFIX_PATH          that build's CMAKE_PREFIX_PATH, '|'-separated

cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS MODE CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: ${var} is not set")
  endif()
endforeach()

if(NOT EXECUTABLE)
  set(EXECUTABLE mmry_consumer)
endif()

# Runs a command, echoing it; any failure fails the test with the command's output.
function(run)
  string(REPLACE ";" " " printable "${ARGN}")
  message(STATUS "run_consumer: ${printable}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "run_consumer (${MODE}): command failed (${rc}): ${printable}")
  endif()
endfunction()

# Runs pkg-config with the given arguments; stores its trimmed output in out_var.
function(run_pkg_config out_var)
  execute_process(COMMAND "${PKG_CONFIG_EXECUTABLE}" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REPLACE ";" " " printable "${ARGN}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "run_consumer (pkg_config): pkg-config ${printable} failed (${rc}): ${err}")
  endif()
  message(STATUS "run_consumer: pkg-config ${printable} -> ${out}")
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()

string(REPLACE "|" ";" prefix_path "${PREFIX_PATH}")
set(configure_args
  -S "${CONSUMER_SOURCE_DIR}" -B "${CONSUMER_BINARY_DIR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
if(GENERATOR)
  list(APPEND configure_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(TOOLCHAIN_FILE)
  list(APPEND configure_args "-DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN_FILE}")
endif()
# No CMAKE_BUILD_TYPE: an unoptimized build of one file is the quickest proof that packaging works.

if(MODE STREQUAL "pkg_config")
  foreach(var IN ITEMS PKG_CONFIG_DIR CONSUMER_SOURCE EXPECTED_VERSION)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
      message(FATAL_ERROR "run_consumer.cmake: ${var} is not set")
    endif()
  endforeach()
  if(NOT PKG_CONFIG_EXECUTABLE)
    message(FATAL_ERROR "run_consumer (pkg_config): pkg-config not found (Debian: apt-get install pkg-config)")
  endif()
endif()

if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg_config")
  # Install the build tree that runs this test into a private prefix, then use it from there.
  file(REMOVE_RECURSE "${INSTALL_PREFIX}")
  run("${CMAKE_COMMAND}" --install "${MMRY_BINARY_DIR}" --prefix "${INSTALL_PREFIX}" ${config_args})
endif()

if(MODE STREQUAL "pkg_config")
  # Our prefix first; the default search path stays, for libzstd.pc and libcrypto++.pc.
  set(pc_dir "${INSTALL_PREFIX}/${PKG_CONFIG_DIR}")
  if(NOT EXISTS "${pc_dir}/mmry.pc")
    message(FATAL_ERROR "run_consumer (pkg_config): the install did not put mmry.pc in ${pc_dir}")
  endif()
  if(DEFINED ENV{PKG_CONFIG_PATH} AND NOT "$ENV{PKG_CONFIG_PATH}" STREQUAL "")
    set(ENV{PKG_CONFIG_PATH} "${pc_dir}:$ENV{PKG_CONFIG_PATH}")
  else()
    set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  endif()

  run_pkg_config(version --modversion mmry)
  if(NOT version STREQUAL EXPECTED_VERSION)
    message(FATAL_ERROR "run_consumer (pkg_config): mmry.pc says version '${version}', expected ${EXPECTED_VERSION}")
  endif()
  # The installed file, relocated: its includedir must resolve into this prefix.
  run_pkg_config(includedir --variable=includedir mmry)
  file(REAL_PATH "${includedir}" includedir)
  file(REAL_PATH "${INSTALL_PREFIX}/include" expected_includedir)
  if(NOT includedir STREQUAL expected_includedir)
    message(FATAL_ERROR "run_consumer (pkg_config): mmry.pc's includedir is ${includedir}, not ${expected_includedir}")
  endif()
  run_pkg_config(cflags --cflags mmry)
  if(cflags MATCHES "(^| )-std=")
    message(FATAL_ERROR "run_consumer (pkg_config): mmry.pc must leave -std= to the user: ${cflags}")
  endif()
  run_pkg_config(flags --cflags --libs mmry)
  separate_arguments(flags UNIX_COMMAND "${flags}")

  file(REMOVE_RECURSE "${CONSUMER_BINARY_DIR}")
  file(MAKE_DIRECTORY "${CONSUMER_BINARY_DIR}")
  set(exe "${CONSUMER_BINARY_DIR}/${EXECUTABLE}")
  run("${CXX_COMPILER}" -std=c++20 "${CONSUMER_SOURCE_DIR}/${CONSUMER_SOURCE}" -o "${exe}" ${flags})
  run("${exe}")
  message(STATUS "run_consumer (${MODE}): passed")
  return()
endif()

if(MODE STREQUAL "find_package")
  list(PREPEND prefix_path "${INSTALL_PREFIX}")
  # Only the installed copy may satisfy find_package(mmry): not a stale package registry entry.
  list(APPEND configure_args -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
elseif(MODE STREQUAL "add_subdirectory")
  list(APPEND configure_args "-DMMRY_SOURCE_DIR=${MMRY_SOURCE_DIR}")
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()

file(REMOVE_RECURSE "${CONSUMER_BINARY_DIR}")
if(prefix_path)
  # A list does not survive a command line built from a list: hand it over in an initial cache.
  set(init_cache "${CONSUMER_BINARY_DIR}/init-cache.cmake")
  file(WRITE "${init_cache}" "set(CMAKE_PREFIX_PATH [==[${prefix_path}]==] CACHE STRING \"\")\n")
  list(APPEND configure_args -C "${init_cache}")
endif()

run("${CMAKE_COMMAND}" ${configure_args})
run("${CMAKE_COMMAND}" --build "${CONSUMER_BINARY_DIR}" ${config_args})

# The executable is EXECUTABLE, wherever the generator put it (multi-config adds a folder).
file(GLOB_RECURSE exe LIST_DIRECTORIES false
     "${CONSUMER_BINARY_DIR}/${EXECUTABLE}" "${CONSUMER_BINARY_DIR}/${EXECUTABLE}.exe")
if(NOT exe)
  message(FATAL_ERROR "run_consumer (${MODE}): ${EXECUTABLE} was not built")
endif()
list(GET exe 0 exe)
run("${exe}")
message(STATUS "run_consumer (${MODE}): passed")
