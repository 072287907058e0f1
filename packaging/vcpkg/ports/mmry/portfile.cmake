# An overlay port built from this checkout:
#   vcpkg install mmry --overlay-ports=<repo>/packaging/vcpkg/ports
# (a registry port would fetch a release with vcpkg_from_github instead).
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../../..")

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DMMRY_BUILD_TESTS=OFF
        -DMMRY_BUILD_EXAMPLES=OFF
        -DMMRY_BUILD_BENCHMARKS=OFF
        -DMMRY_BUILD_TOOLS=OFF
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/mmry)

# Header-only: nothing goes to lib/ or debug/.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug" "${CURRENT_PACKAGES_DIR}/lib")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright"
     "mmry: see the repository this port was built from for its licence terms.\n")
