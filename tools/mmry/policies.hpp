#pragma once
// Policies whose choice is made at run time, from a store's header, so that one build of the tool
// opens every composition of built-in policies. A store type is a template instance, and
// instantiating basic_store once per composition (2 arenas x 2 indexes x 3 compressors x 3
// ciphers x 8 path layouts x 2 folds) would take hours to compile. What changes the store's code
// stays a type: arena, index, sealed or not (cipher::none), history or not (path::latest), folded
// or not: 32 instances. What only changes a function called per frame or per key - which
// compressor, which AEAD, which path layout - is a branch on a value read from the header.
//
// The values are process-wide (`static inline`): the tool opens one store per process, and binds
// them once, before it opens the store (bind_runtime_policies in compositions.hpp).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/cipher/xchacha20_poly1305.hpp>
#include <mmry/compress/adaptive.hpp>
#include <mmry/compress/dictionary.hpp>
#include <mmry/compress/none.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/path/input.hpp>
#include <mmry/path/temporal.hpp>
#include <mmry/path/versioned.hpp>

namespace mmry_tool {

/// compress::none, compress::zstd<3> or compress::adaptive<ratio<3>> by `id`. Frames of every
/// zstd level and of adaptive decode alike; new frames are written at zstd's default level 3.
struct any_compressor {
    static inline std::uint8_t id = 0;
    static inline std::string_view name = "none";
    static constexpr bool dictionaries = true;

    static std::size_t compress(std::span<const std::byte> in, std::span<std::byte> out) {
        switch (id) {
            case 1:
                return mmry::compress::zstd<>::compress(in, out);
            case 2:
                return adaptive::compress(in, out);
            default:
                return 0;  // none: every frame stays raw
        }
    }
    static std::size_t compress(std::span<const std::byte> in, std::span<std::byte> out,
                                const mmry::compress::dictionary& d) {
        switch (id) {
            case 1:
                return mmry::compress::zstd<>::compress(in, out, d);
            case 2:
                return adaptive::compress(in, out, d);
            default:
                return 0;
        }
    }
    static std::size_t decompress(std::span<const std::byte> in, std::span<std::byte> out) {
        return mmry::compress::zstd<>::decompress(in, out);
    }
    static std::size_t decompress(std::span<const std::byte> in, std::span<std::byte> out,
                                  const mmry::compress::dictionary& d) {
        return mmry::compress::zstd<>::decompress(in, out, d);
    }
    static int last_level() noexcept {
        switch (id) {
            case 1:
                return mmry::compress::zstd<>::last_level();
            case 2:
                return adaptive::last_level();
            default:
                return 0;
        }
    }

  private:
    using adaptive = mmry::compress::adaptive<mmry::compress::ratio<300>>;
};

/// cipher::aes256_gcm or cipher::xchacha20_poly1305 by `id` (both have 16-byte tags).
struct any_aead {
    static inline std::uint8_t id = 1;
    static inline std::string_view name = "aes256_gcm";
    static constexpr std::size_t tag_size = 16;
    static_assert(mmry::cipher::aes256_gcm::tag_size == tag_size &&
                  mmry::cipher::xchacha20_poly1305::tag_size == tag_size);

    /// Both contexts are members: a key schedule is only computed for the one used (see
    /// detail::aead_context), so the other costs its empty object.
    class context {
      public:
        void rekey(std::span<const std::byte, 32> key) {
            id == 2 ? chacha_.rekey(key) : aes_.rekey(key);
        }
        void seal(std::span<const std::byte, 12> nonce, std::span<const std::byte> aad,
                  std::span<const std::byte> plain, std::span<std::byte> out) {
            id == 2 ? chacha_.seal(nonce, aad, plain, out) : aes_.seal(nonce, aad, plain, out);
        }
        bool open(std::span<const std::byte, 12> nonce, std::span<const std::byte> aad,
                  std::span<const std::byte> sealed, std::span<std::byte> out) {
            return id == 2 ? chacha_.open(nonce, aad, sealed, out)
                           : aes_.open(nonce, aad, sealed, out);
        }

      private:
        mmry::cipher::aes256_gcm::context aes_;
        mmry::cipher::xchacha20_poly1305::context chacha_;
    };
};

/// The stored-key layout of a path policy that keeps history (path::versioned_with,
/// path::temporal_with), chosen by `layout`: 0 versioned "v<n>/<key>", 1 + g temporal with
/// granularity g (year .. second), without a prefix.
struct any_history_path {
    static inline std::uint8_t id = 1;
    static inline std::string_view name = "versioned";
    static inline int layout = 0;
    static constexpr bool history = true;
    static constexpr std::size_t layouts = 1;
    static constexpr mmry::path::exists existence = mmry::path::exists::first;
    static constexpr int layout_count = 7;

    static void stored_key(std::size_t, const mmry::path::input& in, std::string& out) {
        layouts_[layout >= 0 && layout < layout_count ? layout : 0].write(0, in, out);
    }
    /// What `layout` is called, for `stat` and errors.
    static std::string_view describe(int l) {
        return l >= 0 && l < layout_count ? layouts_[l].name : "unknown";
    }

  private:
    template <mmry::path::granularity G>
    using temporal = mmry::path::temporal_with<G>;
    using granularity = mmry::path::granularity;
    struct known_layout {
        void (*write)(std::size_t, const mmry::path::input&, std::string&);
        std::string_view name;
    };
    static constexpr known_layout layouts_[layout_count] = {
        {&mmry::path::versioned::stored_key, "versioned"},
        {&temporal<granularity::year>::stored_key, "temporal (year)"},
        {&temporal<granularity::month>::stored_key, "temporal (month)"},
        {&temporal<granularity::day>::stored_key, "temporal (day)"},
        {&temporal<granularity::hour>::stored_key, "temporal (hour)"},
        {&temporal<granularity::minute>::stored_key, "temporal (minute)"},
        {&temporal<granularity::second>::stored_key, "temporal (second)"},
    };
};

}  // namespace mmry_tool
