# vcpkg overlay port of mmry, built from the checkout it lives in:
#   vcpkg install mmry --overlay-ports=<checkout>/packaging/vcpkg/ports
# SOURCE_PATH is that checkout: the nearest folder above this port that holds
# include/mmry/mmry.hpp, CMakeLists.txt and LICENSE (found by walking up, not by assuming a depth).
# A custom triplet may set MMRY_SOURCE_DIR to build another checkout. A registry port would
# instead fetch a release: vcpkg_from_github(OUT_SOURCE_PATH SOURCE_PATH REPO ... REF ... SHA512 ...).
if(DEFINED MMRY_SOURCE_DIR)
    set(SOURCE_PATH "${MMRY_SOURCE_DIR}")
else()
    set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}")
    while(NOT (EXISTS "${SOURCE_PATH}/include/mmry/mmry.hpp" AND EXISTS "${SOURCE_PATH}/LICENSE"
               AND EXISTS "${SOURCE_PATH}/CMakeLists.txt"))
        get_filename_component(parent "${SOURCE_PATH}" DIRECTORY)
        if(parent STREQUAL SOURCE_PATH)
            message(FATAL_ERROR "mmry: no mmry checkout above ${CMAKE_CURRENT_LIST_DIR}; "
                                "set MMRY_SOURCE_DIR in the triplet")
        endif()
        set(SOURCE_PATH "${parent}")
    endwhile()
endif()

# The port's version (vcpkg.json) must be the one the sources declare.
file(STRINGS "${SOURCE_PATH}/include/mmry/version.hpp" version_line
     REGEX "^#define MMRY_VERSION_STRING ")
if(NOT version_line MATCHES "\"${VERSION}\"")
    message(FATAL_ERROR "mmry: vcpkg.json says ${VERSION}, ${SOURCE_PATH} says ${version_line}")
endif()

# Header-only: one (release) configuration is all there is to install.
set(VCPKG_BUILD_TYPE release)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DMMRY_BUILD_TESTS=OFF
        -DMMRY_BUILD_EXAMPLES=OFF
        -DMMRY_BUILD_BENCHMARKS=OFF
        -DMMRY_BUILD_TOOLS=OFF
        -DMMRY_INSTALL=ON
        # vcpkg's cryptopp (built with cryptopp-cmake) installs cryptopp.pc, not Debian's
        # libcrypto++.pc: mmry.pc's Requires must name the module that is there.
        -DMMRY_PKGCONFIG_CRYPTOPP=cryptopp
)
vcpkg_cmake_install()
# mmry installs its CMake package to share/cmake/mmry (MMRY_INSTALL_CMAKEDIR); vcpkg wants share/mmry.
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/mmry)
# share/pkgconfig/mmry.pc (architecture-independent, already relocatable).
vcpkg_fixup_pkgconfig()

# Nothing is built: no lib/, no debug/ tree. The licence goes where vcpkg keeps licences
# (share/mmry/copyright, below), not also to share/licenses/mmry where `cmake --install` puts it.
file(REMOVE_RECURSE
     "${CURRENT_PACKAGES_DIR}/debug"
     "${CURRENT_PACKAGES_DIR}/lib"
     "${CURRENT_PACKAGES_DIR}/share/licenses")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
