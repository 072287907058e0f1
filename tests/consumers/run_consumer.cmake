# Builds and runs one consumer project of mmry (cmake -P script, driven by tests/CMakeLists.txt).
#
#   MODE                 find_package | add_subdirectory
#   CONSUMER_SOURCE_DIR  the consumer project
#   CONSUMER_BINARY_DIR  its build tree (wiped first, so every run is a clean configure)
#   INSTALL_PREFIX       find_package: where mmry is installed from MMRY_BINARY_DIR
#   MMRY_SOURCE_DIR      add_subdirectory: the mmry source tree
#   MMRY_BINARY_DIR      find_package: the mmry build tree to install
#   GENERATOR, MAKE_PROGRAM, CXX_COMPILER, TOOLCHAIN_FILE, CONFIG
#                        passed through from the build that runs the test
#   PREFIX_PATH          that build's CMAKE_PREFIX_PATH, '|'-separated

cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS MODE CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: ${var} is not set")
  endif()
endforeach()

# Runs a command, echoing it; any failure fails the test with the command's output.
function(run)
  string(REPLACE ";" " " printable "${ARGN}")
  message(STATUS "run_consumer: ${printable}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "run_consumer (${MODE}): command failed (${rc}): ${printable}")
  endif()
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

if(MODE STREQUAL "find_package")
  # Install the build tree that runs this test into a private prefix, then find it from there.
  file(REMOVE_RECURSE "${INSTALL_PREFIX}")
  run("${CMAKE_COMMAND}" --install "${MMRY_BINARY_DIR}" --prefix "${INSTALL_PREFIX}" ${config_args})
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

# The executable is mmry_consumer, wherever the generator put it (multi-config adds a folder).
file(GLOB_RECURSE exe LIST_DIRECTORIES false
     "${CONSUMER_BINARY_DIR}/mmry_consumer" "${CONSUMER_BINARY_DIR}/mmry_consumer.exe")
if(NOT exe)
  message(FATAL_ERROR "run_consumer (${MODE}): mmry_consumer was not built")
endif()
list(GET exe 0 exe)
run("${exe}")
message(STATUS "run_consumer (${MODE}): passed")
