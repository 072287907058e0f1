# mmryDependencies.cmake: finds every library mmry's headers use and gives each one the same
# imported target name on every platform:
#
#   zstd::libzstd          zstd (shared preferred)
#   cryptopp::cryptopp     Crypto++
#   Boost::headers         Boost >= 1.74 (Interprocess, Container, Unordered are header-only)
#   range-v3::range-v3     range-v3
#   Threads::Threads       the platform's threads
#
# The same file serves two callers:
#   - the top-level CMakeLists.txt (and so an add_subdirectory() consumer): a missing dependency
#     is a FATAL_ERROR naming the Debian package that provides it;
#   - the installed mmryConfig.cmake, which sets MMRY_DEPENDENCIES_FROM_CONFIG before including
#     it: dependencies are found find_dependency()-style (QUIET/REQUIRED forwarded from the
#     consumer's find_package(mmry ...)), and a missing one sets mmry_FOUND to FALSE with a
#     message and returns, instead of failing half-way through.
# On success it sets MMRY_DEPENDENCIES_FOUND to TRUE.
#
# It is deliberately not include_guard()ed: imported targets are local to the directory that
# creates them, so a consumer that calls find_package(mmry) in two directories needs this file to
# run in both. Every target creation is guarded by if(NOT TARGET ...) instead.
#
# Quirks handled (all real on Debian bookworm, see shared/FACTS.md "Packaging"):
#   - zstd 1.5.4's config exports only zstd::libzstd_shared / zstd::libzstd_static;
#   - Crypto++ ships no CMake config on Debian, only pkg-config (libcrypto++); Conan and vcpkg
#     provide a config with cryptopp::cryptopp;
#   - range-v3 0.12's version file is ExactVersion, so it is searched without a version;
#   - Boost 1.74 has no "interprocess" component: the headers target is all we need.

set(MMRY_DEPENDENCIES_FOUND FALSE)

if(MMRY_DEPENDENCIES_FROM_CONFIG)
  include(CMakeFindDependencyMacro)
endif()

# Reports a dependency that could not be found, the way the current caller wants.
# A macro, so that its return() leaves this file (not a function scope).
macro(_mmry_dependency_missing what hint)
  if(MMRY_DEPENDENCIES_FROM_CONFIG)
    set(mmry_NOT_FOUND_MESSAGE "mmry could not be found because dependency ${what} could not be found (${hint}).")
    set(mmry_FOUND FALSE)
    return()
  else()
    message(FATAL_ERROR "mmry: ${what} not found (${hint}).")
  endif()
endmacro()

# find_package() for a dependency that has a usable CMake config everywhere.
macro(_mmry_find_required pkg)
  if(MMRY_DEPENDENCIES_FROM_CONFIG)
    find_dependency(${pkg} ${ARGN}) # returns from this file when not found
  else()
    find_package(${pkg} ${ARGN} REQUIRED)
  endif()
endmacro()

# ---- Threads --------------------------------------------------------------------------------------
if(NOT TARGET Threads::Threads)
  set(THREADS_PREFER_PTHREAD_FLAG ON)
  _mmry_find_required(Threads)
endif()

# ---- Boost (headers only) -------------------------------------------------------------------------
# Boost >= 1.70 always installs BoostConfig.cmake; CONFIG avoids the deprecated FindBoost module.
if(NOT TARGET Boost::headers)
  _mmry_find_required(Boost 1.74 CONFIG)
endif()

# ---- range-v3 -------------------------------------------------------------------------------------
# No version: range-v3's version file only accepts an exact match.
if(NOT TARGET range-v3::range-v3)
  _mmry_find_required(range-v3)
endif()

# ---- zstd -> zstd::libzstd ------------------------------------------------------------------------
if(NOT TARGET zstd::libzstd)
  find_package(zstd CONFIG QUIET)
  if(TARGET zstd::libzstd)
    # zstd >= 1.5.6 (and recent Conan/vcpkg packages) already provide the uniform name.
  elseif(TARGET zstd::libzstd_shared OR TARGET zstd::libzstd_static)
    add_library(zstd::libzstd INTERFACE IMPORTED)
    if(TARGET zstd::libzstd_shared)
      target_link_libraries(zstd::libzstd INTERFACE zstd::libzstd_shared)
    else()
      target_link_libraries(zstd::libzstd INTERFACE zstd::libzstd_static)
    endif()
  else()
    # No CMake config at all: look for the header and library directly (pkg-config's hints help
    # when zstd lives outside the default prefixes).
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(MMRY_PC_ZSTD QUIET libzstd)
    endif()
    find_path(MMRY_ZSTD_INCLUDE_DIR zstd.h HINTS ${MMRY_PC_ZSTD_INCLUDE_DIRS})
    find_library(MMRY_ZSTD_LIBRARY NAMES zstd libzstd zstd_static
                 HINTS ${MMRY_PC_ZSTD_LIBRARY_DIRS})
    mark_as_advanced(MMRY_ZSTD_INCLUDE_DIR MMRY_ZSTD_LIBRARY)
    if(NOT MMRY_ZSTD_INCLUDE_DIR OR NOT MMRY_ZSTD_LIBRARY)
      _mmry_dependency_missing("zstd" "Debian: libzstd-dev")
    endif()
    add_library(zstd::libzstd INTERFACE IMPORTED)
    set_target_properties(zstd::libzstd PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${MMRY_ZSTD_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${MMRY_ZSTD_LIBRARY}")
  endif()
endif()

# ---- Crypto++ -> cryptopp::cryptopp ---------------------------------------------------------------
if(NOT TARGET cryptopp::cryptopp)
  find_package(cryptopp CONFIG QUIET) # Conan / vcpkg / upstream cryptopp-cmake
  if(NOT TARGET cryptopp::cryptopp)
    find_package(PkgConfig QUIET)
    set(_mmry_cryptopp_pc "")
    if(PKG_CONFIG_FOUND)
      foreach(_mmry_module IN ITEMS libcrypto++ libcryptopp)
        pkg_check_modules(MMRY_PC_CRYPTOPP QUIET ${_mmry_module})
        if(MMRY_PC_CRYPTOPP_FOUND)
          set(_mmry_cryptopp_pc ${_mmry_module})
          break()
        endif()
      endforeach()
      unset(_mmry_module)
    endif()

    if(_mmry_cryptopp_pc)
      # MMRY_PC_CRYPTOPP_LINK_LIBRARIES holds full paths to the libraries pkg-config named.
      add_library(cryptopp::cryptopp INTERFACE IMPORTED)
      set_target_properties(cryptopp::cryptopp PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${MMRY_PC_CRYPTOPP_INCLUDE_DIRS}"
        INTERFACE_LINK_LIBRARIES "${MMRY_PC_CRYPTOPP_LINK_LIBRARIES}"
        INTERFACE_COMPILE_OPTIONS "${MMRY_PC_CRYPTOPP_CFLAGS_OTHER}")
    else()
      # Neither a config nor pkg-config: search by hand. Upstream installs include/cryptopp/,
      # Debian include/crypto++/ (with a cryptopp symlink).
      find_path(MMRY_CRYPTOPP_INCLUDE_DIR NAMES cryptopp/cryptlib.h crypto++/cryptlib.h)
      find_library(MMRY_CRYPTOPP_LIBRARY NAMES cryptopp crypto++ cryptlib)
      mark_as_advanced(MMRY_CRYPTOPP_INCLUDE_DIR MMRY_CRYPTOPP_LIBRARY)
      if(NOT MMRY_CRYPTOPP_INCLUDE_DIR OR NOT MMRY_CRYPTOPP_LIBRARY)
        _mmry_dependency_missing("Crypto++" "Debian: libcrypto++-dev")
      endif()
      add_library(cryptopp::cryptopp INTERFACE IMPORTED)
      set_target_properties(cryptopp::cryptopp PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${MMRY_CRYPTOPP_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES "${MMRY_CRYPTOPP_LIBRARY}")
    endif()
    unset(_mmry_cryptopp_pc)
  endif()
endif()

set(MMRY_DEPENDENCIES_FOUND TRUE)
