# Conan 2 recipe for mmry, a header-only library, written to Conan Center's conventions.
#
#   conan create packaging/conan --build=missing -s compiler.cppstd=20 \
#       -o "boost/*:header_only=True"
#
# (mmry needs only Boost's headers; the option saves building all of Boost. It is not forced here:
# Conan Center recipes leave their dependencies' options to the consumer.)
#
# Sources: this recipe lives in the mmry repository and exports the headers and LICENSE of the
# checkout it sits in (export_sources). A Conan Center submission would instead list a release
# tarball and its sha256 in conandata.yml and fetch it in source() with
# get(self, **self.conan_data["sources"][self.version], strip_root=True).
import os
import re

from conan import ConanFile
from conan.errors import ConanException, ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout
from conan.tools.scm import Version

required_conan_version = ">=2.0"


class MmryConan(ConanFile):
    name = "mmry"
    description = ("Header-only C++20 key-value store that compresses, encrypts and indexes what it "
                   "keeps, on the heap, in shared memory or in mapped files")
    license = "BSL-1.0"
    # No repository URL appears anywhere in the project yet: confirm this one before publishing.
    url = "https://github.com/mmry/mmry"
    homepage = "https://github.com/mmry/mmry"
    topics = ("key-value", "shared-memory", "compression", "encryption", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True

    @property
    def _min_cppstd(self):
        return 20

    @property
    def _compilers_minimum_version(self):
        # GCC 12 is what mmry is built and tested with (Debian bookworm); older compilers are
        # refused rather than left to fail in the middle of a consumer's build.
        return {"gcc": "12"}

    def _repo_root(self):
        """The mmry checkout this recipe belongs to: the nearest folder above the recipe that holds
        include/mmry/mmry.hpp and LICENSE (found by walking up, not by assuming a depth)."""
        folder = os.path.abspath(self.recipe_folder)
        while True:
            if (os.path.isfile(os.path.join(folder, "include", "mmry", "mmry.hpp"))
                    and os.path.isfile(os.path.join(folder, "LICENSE"))):
                return folder
            parent = os.path.dirname(folder)
            if parent == folder:
                raise ConanException(
                    f"mmry: no mmry checkout (include/mmry/mmry.hpp and LICENSE) above "
                    f"{self.recipe_folder}; run conan from a clone of the repository")
            folder = parent

    def set_version(self):
        # One source of truth: include/mmry/version.hpp (CMake checks PROJECT_VERSION against it
        # too). `conan create --version X` still wins.
        if self.version:
            return
        header = load(self, os.path.join(self._repo_root(), "include", "mmry", "version.hpp"))
        match = re.search(r'#define\s+MMRY_VERSION_STRING\s+"([^"]+)"', header)
        if not match:
            raise ConanException("mmry: MMRY_VERSION_STRING not found in include/mmry/version.hpp")
        self.version = match.group(1)

    def export_sources(self):
        root = self._repo_root()
        copy(self, "LICENSE", src=root, dst=self.export_sources_folder)
        copy(self, "*.hpp", src=os.path.join(root, "include"),
             dst=os.path.join(self.export_sources_folder, "include"))

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        # Exact versions, as Conan Center pins them: at or above Debian bookworm's (the reference
        # platform: Boost 1.74, zstd 1.5.4, Crypto++ 8.7, range-v3 0.12), which Conan Center does
        # not all offer (no boost/1.74.0, no zstd/1.5.4). Crypto++: 8.9.0, the current release,
        # which Conan Center patches for CVE-2023-50980. See packaging/README.md.
        # transitive_headers: mmry's public headers include all four.
        self.requires("boost/1.83.0", transitive_headers=True)
        self.requires("zstd/1.5.5", transitive_headers=True)
        self.requires("cryptopp/8.9.0", transitive_headers=True)
        self.requires("range-v3/0.12.0", transitive_headers=True)

    def package_id(self):
        self.info.clear()

    def validate(self):
        if self.settings.os != "Linux":
            # POSIX shared memory, robust process-shared mutexes and librt: only Linux is built
            # and tested (the vcpkg port says "supports": "linux" too).
            raise ConanInvalidConfiguration(f"{self.ref} supports only Linux for now")
        # As in every Conan Center recipe: the profile must ask for C++20 (-s compiler.cppstd=20).
        check_min_cppstd(self, self._min_cppstd)
        minimum_version = self._compilers_minimum_version.get(str(self.settings.compiler))
        if minimum_version and Version(self.settings.compiler.version) < minimum_version:
            raise ConanInvalidConfiguration(
                f"{self.ref} requires C++{self._min_cppstd}, which {self.settings.compiler} "
                f"{self.settings.compiler.version} does not fully support (needs {minimum_version})")

    def package(self):
        copy(self, "LICENSE", src=self.source_folder,
             dst=os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", src=os.path.join(self.source_folder, "include"),
             dst=os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        # The same names as mmry's own CMake package: find_package(mmry CONFIG) + mmry::mmry.
        self.cpp_info.set_property("cmake_file_name", "mmry")
        self.cpp_info.set_property("cmake_target_name", "mmry::mmry")
        self.cpp_info.set_property("pkg_config_name", "mmry")
        self.cpp_info.requires = ["boost::headers", "zstd::zstd", "cryptopp::cryptopp",
                                  "range-v3::range-v3"]
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread", "rt"]
