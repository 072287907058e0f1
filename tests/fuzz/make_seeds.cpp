// make_seeds: writes the seed corpus of mmry's fuzz targets, made in-process with the library
// itself (docs/FUZZING.md).
//
//   mmry_fuzz_make_seeds <corpus directory>
//
// Writes <corpus directory>/<target>/seed-<name>: valid inputs in each target's input format
// (see the comment at the top of each fuzz_<target>.cpp): records sealed under the identity the
// record target decodes with, meta sections, manifests, bundles, store headers, exports of the
// import target's stores (most in the form its re-seal mode takes), operation sequences. Records
// carry valid checksums, so that a mutation gets past the first one. The output is the same on
// every run (fixed clock, ids and keys), except what depends on fresh random ids: store headers
// and, for sealed records, the session salt.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/cipher/none.hpp>
#include <mmry/codec/frame_codec.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/detail/backup/repository.hpp>
#include <mmry/detail/pages/hash_bucket.hpp>
#include <mmry/detail/pages/tree_node.hpp>
#include <mmry/format/manifest.hpp>

#include "store_cases.hpp"

namespace {

using namespace mmry_fuzz;
namespace fs = std::filesystem;

fs::path root;
std::size_t written = 0;

void write(const std::string& target, const std::string& name, byte_view content) {
    const fs::path dir = root / target;
    fs::create_directories(dir);
    std::ofstream out(dir / ("seed-" + name), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(content.data()),
              static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
    ++written;
}

bytes cat(std::initializer_list<byte_view> parts) {
    bytes out;
    for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
bytes u8(std::uint8_t v) {
    return {std::byte{v}};
}
bytes le(std::uint64_t v, std::size_t n) {
    bytes out(n);
    for (std::size_t i = 0; i < n; ++i, v >>= 8) out[i] = static_cast<std::byte>(v & 0xff);
    return out;
}

bytes text(std::size_t n, int seed = 0) {
    std::string s;
    for (int i = seed; s.size() < n; ++i) s += "word" + std::to_string(i % 13) + " and more, ";
    s.resize(n);
    return to_bytes(s);
}
bytes noise(std::size_t n, std::uint32_t x = 2463534242u) {
    bytes out(n);
    for (auto& b : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::byte>(x);
    }
    return out;
}

/// Chunk references of a made-up manifest: n entries, lengths adding up to `size`.
std::vector<format::chunk_ref> entries(std::size_t n, std::uint64_t size) {
    std::vector<format::chunk_ref> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < out[i].ref.size(); ++j)
            out[i].ref[j] = static_cast<std::byte>(i * 31 + j);
        out[i].length = static_cast<std::uint32_t>(size / n + (i < size % n ? 1 : 0));
    }
    return out;
}

// ---- record and meta ---------------------------------------------------------------------------

struct record_value {
    std::string name;
    bytes value;
    mmry::put_options options;
    std::optional<format::folded_info> folded;
};

template <class Codec>
bytes make_record(const Codec& c, const std::string& key, const record_value& r,
                  std::uint64_t seq) {
    bytes out;
    mmry::detail::encode_extra extra;
    extra.folded = r.folded;
    c.encode(key, r.value, seq, 1'700'000'000'000'000'000, r.options, true, out, extra);
    const auto v = format::record_view::parse(out, key, tag_size);
    c.stamp(out, v, 1, 0, format::hash_bytes{}, 1'700'000'000'000'000'000);
    (void)format::record_view::parse(out, key, tag_size);  // still valid
    return out;
}

void record_and_meta_seeds() {
    using plain_codec = mmry::detail::frame_codec<mmry::compress::zstd<3>, mmry::cipher::none>;
    using sealed_codec =
        mmry::detail::frame_codec<mmry::compress::zstd<3>, mmry::cipher::aes256_gcm>;
    const plain_codec plain(seed_store_id(), CryptoPP::SecByteBlock(), 64);
    const sealed_codec sealed(seed_store_id(), master_of(seed_key_material()), 64);

    std::vector<record_value> values;
    values.push_back({"empty", {}, {}, {}});
    values.push_back({"one-byte", to_bytes("x"), {}, {}});
    values.push_back({"raw-3-frames", noise(150), {}, {}});
    values.push_back({"compressed", text(300), {}, {}});
    mmry::put_options annotated;
    annotated.content_type = "application/json";
    annotated.tags = {"t", "two"};
    annotated.attributes = {{"a", "1"}, {"bb", ""}};
    values.push_back({"annotated", text(90, 3), annotated, {}});
    const auto flat = entries(3, 5000);
    values.push_back({"folded", format::write_manifest(flat, 0), {}, format::folded_info{5000, 3}});
    const auto deep = entries(2, 70000);
    values.push_back(
        {"folded-deep", format::write_manifest(deep, 1), {}, format::folded_info{70000, 90}});

    const bytes range = cat({le(5, 2), le(20, 2)});
    std::uint64_t seq = 1;
    for (const auto& r : values) {
        const std::string key = "user/" + r.name;
        const bytes p = make_record(plain, key, r, seq++);
        write("record", "plain-" + r.name, cat({u8(0), range, p}));
        write("record", "plain-" + r.name + "-reseal", cat({u8(1), range, p}));
        bytes s = make_record(sealed, key, r, seq++);
        write("record", "sealed-" + r.name, cat({u8(0), range, s}));
        if (!unseal(s, seed_store_id(), master_of(seed_key_material())))
            throw std::runtime_error("cannot unseal " + r.name);
        write("record", "sealed-" + r.name + "-plainform", cat({u8(1), range, s}));

        const auto v = format::record_view::parse(p, key, tag_size);
        write("meta", r.name, cat({u8(r.folded ? 1 : 0), v.meta_bytes()}));
    }
}

// ---- manifest, bundle, store header, import ----------------------------------------------------

void manifest_seeds() {
    for (const auto& [count, size, depth] :
         {std::tuple{std::size_t{0}, std::uint64_t{0}, 0u},
          std::tuple{std::size_t{1}, std::uint64_t{100}, 0u},
          std::tuple{std::size_t{3}, std::uint64_t{5000}, 0u},
          std::tuple{std::size_t{4}, std::uint64_t{300000}, 1u}}) {
        const auto e = entries(count, size);
        const bytes m = format::write_manifest(e, depth);
        const std::string name = std::to_string(count) + "-entries-depth-" + std::to_string(depth);
        write("manifest", name, cat({u8(0), le(size, 8), m}));
        write("manifest", name + "-own-size", cat({u8(2), le(0, 8), m}));
        write("manifest", "entries-" + std::to_string(count),
              cat({u8(1), le(1u << 20, 4), format::write_entries(e)}));
    }
}

template <class Traits>
void store_header_seed(const std::string& name) {
    mmry::basic_store<Traits> s(import_options<Traits>());
    const auto h = mmry::detail::store_access::header_bytes(s);
    write("store_header", name, h);
}

/// A repository of two backups of a store like the import target's: its header, snapshots,
/// packs and a pack's index, each in the form of the backup target (a kind byte first).
template <class Traits>
void backup_seeds(const std::string& name) {
    mmry::basic_store<Traits> s(import_options<Traits>());
    fill(s);
    const auto dir = fs::temp_directory_path() / ("mmry-seeds-backup-" + name);
    fs::remove_all(dir);
    s.backup(dir.string(), {.sync = false});
    s.put("user/1", text(300, 9));
    s.backup(dir.string(), {.sync = false});
    const auto file = [](const fs::path& p) { return mmry::detail::backup::read_file(p.string()); };
    write("backup", "header-" + name, cat({u8(0), file(dir / "MMRYBACKUP")}));
    for (const auto& e : fs::directory_iterator(dir / "snapshots"))
        write("backup", "snapshot-" + name + "-" + e.path().filename().string(),
              cat({u8(2), file(e.path())}));
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir / "packs")) {
        const bytes pack = file(e.path());
        const std::string tag = name + "-" + std::to_string(n++);
        write("backup", "pack-" + tag, cat({u8(3), pack}));
        const auto at = mmry::detail::load_le<std::uint64_t>(pack.data() + pack.size() - 16);
        const byte_view index(pack.data() + at, pack.size() - 16 - at);
        write("backup", "index-" + tag, cat({u8(1), le(at, 4), index}));
    }
    fs::remove_all(dir);
}

/// Exports of a store like the import target's: every key after fill(), then a new value of
/// user/1 and a new key. Written in re-seal form (sealed records in plain form), and a few as
/// they are.
template <class Traits>
void import_seeds(import_case which) {
    mmry::basic_store<Traits> s(import_options<Traits>());
    auto contents = fill(s);
    s.put("user/1", text(200, 5));
    s.put("new/1", noise(100, 7));
    contents["new/1"] = {};
    const auto sid = id_of(s);
    const auto master = master_for<Traits>();
    const auto mode = static_cast<std::uint8_t>(which);
    for (const auto& [k, v] : contents) {
        (void)v;
        bytes e = *s.export_record(k);
        std::string name = std::string(name_of(which)) + "-" + k;
        for (auto& ch : name)
            if (ch == '/') ch = '-';
        if (format::is_bundle(e)) {
            write("bundle", name, e);
            if (which == import_case::folding)
                write("record", "chunked-" + name,
                      cat({u8(1), le(0, 4), format::parse_bundle(e).records.back()}));
        }
        if (k == "user/1" || k == "empty") write("import", name + "-as-is", cat({u8(mode), e}));
        if (!unseal_export(e, sid, master)) throw std::runtime_error("cannot unseal " + name);
        write("import", name, cat({u8(mode | 4), e}));
    }
}

void fastcdc_seeds() {
    // [seed byte][min u16: min = 48 + v % 1024][avg exponent: 64 << v % 8][max u16: v % 16384 + 1]
    const auto params = [](std::uint8_t seed, std::size_t min, unsigned avg_log, std::size_t max) {
        return cat({u8(seed), le(min - 48, 2), u8(static_cast<std::uint8_t>(avg_log - 6)),
                    le(max - 1, 2)});
    };
    write("fastcdc", "text-64-256-1024", cat({params(0, 64, 8, 1024), text(6000)}));
    write("fastcdc", "noise-128-512-4096", cat({params(7, 128, 9, 4096), noise(8000)}));
    write("fastcdc", "zeros-64-128-300", cat({params(1, 64, 7, 300), bytes(3000)}));
    write("fastcdc", "short", cat({params(2, 100, 10, 2000), text(90)}));
    write("fastcdc", "bad-sizes", cat({params(3, 600, 9, 700), text(500)}));
}

// ---- store_ops --------------------------------------------------------------------------------

/// A builder of store_ops inputs (see fuzz_store_ops.cpp for the encoding).
struct ops {
    bytes b;
    explicit ops(std::uint8_t mode) : b{std::byte{mode}} {}
    static std::uint8_t key(char first, int digit) {
        return static_cast<std::uint8_t>((first - 'a') + 3 * digit);
    }
    ops& put_bytes(std::uint8_t k, byte_view v) {
        b.insert(b.end(), {std::byte{0}, std::byte{k}, std::byte{0}});
        const bytes n = le(v.size(), 2);
        b.insert(b.end(), n.begin(), n.end());
        b.insert(b.end(), v.begin(), v.end());
        return *this;
    }
    ops& put_pattern(std::uint8_t k, std::uint16_t length, std::string_view pattern) {
        b.insert(b.end(), {std::byte{0}, std::byte{k}, std::byte{1}});
        const bytes n = le(length, 2);
        b.insert(b.end(), n.begin(), n.end());
        b.push_back(static_cast<std::byte>(pattern.size() - 1));
        const auto p = mmry::as_bytes(pattern);
        b.insert(b.end(), p.begin(), p.end());
        return *this;
    }
    ops& put_edit(std::uint8_t k, std::uint8_t from, std::uint16_t at, std::uint8_t cut) {
        b.insert(b.end(), {std::byte{0}, std::byte{k}, std::byte{2}});
        const bytes n = le(at, 2);
        b.insert(b.end(), n.begin(), n.end());
        b.insert(b.end(), {std::byte{from}, std::byte{cut}});
        return *this;
    }
    ops& op(std::uint8_t code, std::uint8_t k) {
        b.insert(b.end(), {std::byte{code}, std::byte{k}});
        return *this;
    }
    ops& list(std::uint8_t prefix) {
        op(4, 0);
        b.push_back(std::byte{prefix});
        return *this;
    }
    ops& read(std::uint8_t k, std::uint16_t offset, std::uint16_t length) {
        op(5, k);
        const bytes o = le(offset, 2), n = le(length, 2);
        b.insert(b.end(), o.begin(), o.end());
        b.insert(b.end(), n.begin(), n.end());
        return *this;
    }
};

void store_ops_seeds() {
    const auto a0 = ops::key('a', 0), a1 = ops::key('a', 1), b2 = ops::key('b', 2),
               c4 = ops::key('c', 4);
    for (std::uint8_t mode : {0, 1, 2, 4 | 0, 4 | 1, 4 | 2, 8 | 2}) {
        ops o(mode);
        o.put_pattern(a0, 700, "the same words ")
            .put_bytes(a1, noise(300, mode + 1u))
            .put_edit(b2, a0, 350, 3)
            .op(2, a0)
            .op(2, b2)
            .list(0)
            .list(15)
            .list(30)
            .read(a0, 100, 200)
            .read(a1, 290, 20)
            .op(1, a0)
            .op(2, a0)
            .op(3, b2)
            .put_bytes(c4, {})
            .op(2, c4)
            .put_pattern(a1, 4000, "0123456789abcdef")
            .read(a1, 3000, 1000)
            .op(1, b2)
            .op(6, 0);
        write("store_ops", "mode-" + std::to_string(mode), o.b);
    }
}

// Pages of the copy-on-write core: a bucket, a leaf and a branch, each after its selector byte.
void page_node_seeds() {
    namespace pg = mmry::detail::pages;
    std::vector<std::byte> page(pg::page_size);
    pg::bucket_builder b(3, 5);
    for (int i = 0; i < 12; ++i) {
        const std::string k = "key-" + std::to_string(i), v(static_cast<std::size_t>(i * 9), 'v');
        b.add((std::uint64_t{5} << 61) | static_cast<std::uint64_t>(i), k, mmry::as_bytes(v));
    }
    b.write(page);
    write("page_nodes", "bucket", cat({u8(0), page}));
    pg::node_builder leaf(true);
    for (int i = 0; i < 20; ++i) {
        const std::string k = "k" + std::to_string(100 + i),
                          v(static_cast<std::size_t>(i * 7), 'w');
        leaf.add(k, mmry::as_bytes(v));
    }
    leaf.write(page);
    write("page_nodes", "leaf", cat({u8(1), page}));
    pg::node_builder branch(false);
    branch.first_child(9);
    for (int i = 0; i < 10; ++i)
        branch.add("sep" + std::to_string(10 + i), 10u + static_cast<unsigned>(i));
    branch.write(page);
    write("page_nodes", "branch", cat({u8(1), page}));
}

// Operation sequences: many puts and a commit, erases, a dropped transaction, checks.
void page_ops_seeds() {
    bytes b;
    auto op = [&](std::initializer_list<int> v) {
        for (int x : v) b.push_back(static_cast<std::byte>(x));
    };
    for (int k = 0; k < 120; ++k) op({0, k, (k * 37) % 256});
    op({2});
    for (int k = 0; k < 120; k += 3) op({1, k});
    op({2, 4});
    for (int k = 200; k < 230; ++k) op({0, k, 200});
    op({3, 4});
    for (int k = 1; k < 120; k += 3) op({1, k});
    op({2, 4});
    write("page_ops", "grow-and-shrink", b);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: mmry_fuzz_make_seeds <corpus directory>\n");
        return 2;
    }
    root = argv[1];
    record_and_meta_seeds();
    manifest_seeds();
    store_header_seed<mmry::default_traits>("plain");
    store_header_seed<sealed_traits>("sealed");
    store_header_seed<folding_traits>("folding");
    import_seeds<mmry::default_traits>(import_case::plain);
    import_seeds<sealed_traits>(import_case::sealed);
    import_seeds<folding_traits>(import_case::folding);
    fastcdc_seeds();
    store_ops_seeds();
    page_node_seeds();
    page_ops_seeds();
    backup_seeds<mmry::default_traits>("plain");
    backup_seeds<sealed_traits>("sealed");
    backup_seeds<folding_traits>("folding");
    std::printf("make_seeds: wrote %zu files under %s\n", written, root.c_str());
    return 0;
}
