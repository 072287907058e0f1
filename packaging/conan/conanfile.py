# Conan 2 recipe for mmry, a header-only library. From the repository root:
#   conan create packaging/conan --build=missing
import os

from conan import ConanFile
from conan.tools.files import copy
from conan.tools.layout import basic_layout


class MmryConan(ConanFile):
    name = "mmry"
    version = "0.1.0"
    description = ("Header-only C++20 key-value store that compresses, encrypts and indexes "
                   "what it keeps, on the heap, in shared memory or in mapped files")
    topics = ("key-value", "shared-memory", "compression", "encryption", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True

    def export_sources(self):
        root = os.path.join(self.recipe_folder, "..", "..")
        copy(self, "include/*", src=root, dst=self.export_sources_folder)

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        # The versions Debian bookworm ships are the floor we test against.
        self.requires("boost/[>=1.74]", transitive_headers=True)
        self.requires("zstd/[>=1.5.4]", transitive_headers=True)
        self.requires("cryptopp/[>=8.7]", transitive_headers=True)
        self.requires("range-v3/[>=0.12]", transitive_headers=True)

    def validate(self):
        from conan.tools.build import check_min_cppstd
        check_min_cppstd(self, 20)

    def package_id(self):
        self.info.clear()

    def package(self):
        copy(self, "*.hpp", src=os.path.join(self.source_folder, "include"),
             dst=os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "mmry")
        self.cpp_info.set_property("cmake_target_name", "mmry::mmry")
        self.cpp_info.requires = ["boost::headers", "zstd::zstd", "cryptopp::cryptopp",
                                  "range-v3::range-v3"]
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread", "rt"]
