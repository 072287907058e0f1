// The compressors on their own: zstd dictionaries (training, the ratio they buy on small records,
// round trips, frames decoded without their dictionary or with another, garbage dictionaries,
// concurrent use) and compress::adaptive (raw for incompressible data, ratio and speed targets,
// the never-larger guarantee, corrupt input). Built from the compressor headers alone, without
// the store (support.hpp would pull it in).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <latch>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <mmry/bytes.hpp>
#include <mmry/compress/adaptive.hpp>
#include <mmry/compress/dictionary.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/error.hpp>

using mmry::byte_view;
using mmry::errc;
using mmry::compress::dictionary;

namespace {

/// Matches an mmry::error with code `code` whose what() contains `text`.
class error_matcher : public Catch::MatcherBase<mmry::error> {
  public:
    error_matcher(errc code, std::string text) : code_(code), text_(std::move(text)) {}
    bool match(const mmry::error& e) const override {
        return e.code() == code_ && std::string_view(e.what()).find(text_) != std::string::npos;
    }
    std::string describe() const override {
        return "is an mmry::error '" + mmry::make_error_code(code_).message() +
               "' whose message contains \"" + text_ + "\"";
    }

  private:
    errc code_;
    std::string text_;
};
error_matcher is_error(errc code, std::string text = {}) {
    return {code, std::move(text)};
}

/// Failures reported by threads, checked once they are joined.
struct failures {
    std::mutex mutex;
    std::vector<std::string> list;
    void add(std::string what) {
        const std::lock_guard lock(mutex);
        list.push_back(std::move(what));
    }
};

/// n bytes that no compressor can shrink (deterministic for a seed).
mmry::bytes random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    mmry::bytes out(n);
    for (auto& b : out) b = static_cast<std::byte>(gen() >> 56);
    return out;
}

/// n bytes of a short repeated phrase: level 1 compresses them ~100x.
mmry::bytes redundant_bytes(std::size_t n) {
    constexpr std::string_view phrase = "the same few words, again and again. ";
    mmry::bytes out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>(phrase[i % phrase.size()]);
    return out;
}

mmry::bytes to_bytes(std::string_view s) {
    const auto v = mmry::as_bytes(s);
    return {v.begin(), v.end()};
}

// ---- test data ----------------------------------------------------------------------------------

template <class G, class A>
std::string_view pick(G& g, const A& a) {
    return a[g() % std::size(a)];
}

constexpr std::string_view first_names[] = {
    "Ada",   "Alan",  "Barbara", "Claude", "Dennis",   "Edsger",    "Frances",  "Grace",
    "Hedy",  "Ivan",  "John",    "Leslie", "Margaret", "Niklaus",   "Ole",      "Peter",
    "Radia", "Shafi", "Tim",     "Ursula", "Vint",     "Whitfield", "Yukihiro", "Katherine"};
constexpr std::string_view last_names[] = {
    "Lovelace", "Turing", "Liskov",     "Shannon",  "Ritchie",    "Dijkstra",   "Allen",
    "Hopper",   "Lamarr", "Sutherland", "McCarthy", "Johnson",    "Lamport",    "Hamilton",
    "Wirth",    "Dahl",   "Naur",       "Perlman",  "Goldwasser", "Berners-Lee"};
constexpr std::string_view cities[] = {
    "Amsterdam", "Berlin", "Copenhagen", "Dublin", "Edinburgh", "Florence", "Geneva", "Helsinki",
    "Istanbul",  "Krakow", "Lisbon",     "Madrid", "Oslo",      "Prague",   "Vienna", "Zurich"};
constexpr std::string_view streets[] = {
    "Main Street",  "Station Road", "Church Lane",   "High Street",   "Mill Road",   "Park Avenue",
    "Queen Street", "Kings Road",   "Bridge Street", "Market Square", "Harbour Way", "Elm Grove"};
constexpr std::string_view products[] = {"stainless steel water bottle",
                                         "wireless optical mouse",
                                         "mechanical keyboard",
                                         "USB-C charging cable",
                                         "noise cancelling headphones",
                                         "ceramic coffee mug",
                                         "laptop stand",
                                         "desk lamp with dimmer",
                                         "notebook, dotted, A5",
                                         "fountain pen",
                                         "ergonomic office chair",
                                         "monitor arm",
                                         "portable SSD 1 TB",
                                         "webcam 1080p",
                                         "HDMI adapter",
                                         "cable organiser",
                                         "standing desk mat",
                                         "bluetooth speaker"};
constexpr std::string_view statuses[] = {"pending", "paid", "shipped", "delivered", "refunded"};
constexpr std::string_view note_words[] = {
    "please", "deliver", "to",      "the",       "back", "door",    "ring",      "bell",
    "twice",  "leave",   "with",    "neighbour", "if",   "not",     "home",      "gift",
    "wrap",   "fragile", "handle",  "care",      "call", "before",  "arrival",   "after",
    "six",    "pm",      "weekend", "only",      "no",   "plastic", "packaging", "invoice"};

/// A JSON order of about `target` bytes: fixed field names, values that vary record to record.
template <class G>
std::string json_record(G& g, unsigned long id, std::size_t target) {
    char buf[640];
    const auto first = pick(g, first_names), last = pick(g, last_names);
    const auto status = pick(g, statuses), street = pick(g, streets), city = pick(g, cities);
    std::snprintf(buf, sizeof buf,
                  "{\"id\":%lu,\"type\":\"order\",\"created_at\":\"2024-%02u-%02uT%02u:%02u:%02u."
                  "%03uZ\",\"status\":\"%.*s\",\"customer\":{\"id\":%u,\"name\":\"%.*s %.*s\","
                  "\"email\":\"%.*s.%.*s%u@example.com\",\"tier\":\"%s\",\"address\":{\"street\":"
                  "\"%u %.*s\",\"city\":\"%.*s\",\"postcode\":\"%05u\",\"country\":\"%s\"}},",
                  id, unsigned(1 + g() % 12), unsigned(1 + g() % 28), unsigned(g() % 24),
                  unsigned(g() % 60), unsigned(g() % 60), unsigned(g() % 1000), int(status.size()),
                  status.data(), unsigned(g() % 1000000), int(first.size()), first.data(),
                  int(last.size()), last.data(), int(first.size()), first.data(), int(last.size()),
                  last.data(), unsigned(g() % 100), g() % 3 == 0 ? "gold" : "silver",
                  unsigned(1 + g() % 200), int(street.size()), street.data(), int(city.size()),
                  city.data(), unsigned(g() % 100000), g() % 2 ? "NL" : "DE");
    std::string r = buf;
    r += "\"notes\":\"";
    for (unsigned i = 0, n = unsigned(g() % 12); i < n; ++i) {
        if (i) r += ' ';
        r += pick(g, note_words);
    }
    r += "\",\"items\":[";
    for (bool first_item = true;; first_item = false) {
        const auto p = pick(g, products);
        const auto w = pick(g, cities);
        const unsigned cents = unsigned(199 + g() % 20000);
        std::snprintf(buf, sizeof buf,
                      "%s{\"sku\":\"SKU-%06u\",\"name\":\"%.*s\",\"quantity\":%u,\"unit_price\":"
                      "\"%u.%02u\",\"currency\":\"EUR\",\"discount\":%s,\"warehouse\":\"%.3s-%u\"}",
                      first_item ? "" : ",", unsigned(g() % 1000000), int(p.size()), p.data(),
                      unsigned(1 + g() % 5), cents / 100, cents % 100,
                      g() % 4 == 0 ? "0.10" : "null", w.data(), unsigned(g() % 9));
        if (!first_item && r.size() + std::strlen(buf) + 80 > target) break;
        r += buf;
    }
    std::snprintf(buf, sizeof buf,
                  "],\"payment\":{\"method\":\"%s\",\"total\":\"%u.%02u\",\"paid\":%s}}",
                  g() % 2 ? "card" : "invoice", unsigned(g() % 200000), unsigned(g() % 100),
                  g() % 2 ? "true" : "false");
    return r + buf;
}

/// `count` JSON records of 1 to 4 KiB, deterministic for a seed.
std::vector<mmry::bytes> json_records(std::size_t count, std::uint64_t seed) {
    std::mt19937_64 g(seed);
    std::vector<mmry::bytes> out;
    for (std::size_t i = 0; i < count; ++i)
        out.push_back(to_bytes(json_record(g, seed * 100000 + i, 1024 + g() % 3072)));
    return out;
}

/// English-like prose: words of a small vocabulary, log-uniformly distributed, in sentences.
/// zstd compresses 4 KiB of it ~2.7x at level 1 and ~3.0x at level 19.
mmry::bytes prose(std::size_t n, std::uint64_t seed) {
    static constexpr std::string_view vocab[] = {
        "the",    "of",       "and",        "a",       "to",         "in",      "is",     "was",
        "it",     "for",      "that",       "with",    "as",         "on",      "by",     "at",
        "from",   "store",    "value",      "frame",   "record",     "segment", "index",  "writer",
        "reader", "process",  "memory",     "shared",  "compressed", "level",   "target", "ratio",
        "speed",  "thread",   "lock",       "version", "history",    "key",     "cipher", "handle",
        "arena",  "block",    "page",       "cache",   "table",      "entry",   "buffer", "bytes",
        "mapped", "file",     "system",     "crash",   "recover",    "commit",  "latest", "older",
        "newer",  "checksum", "dictionary", "sample",  "training",   "content", "random", "order"};
    std::mt19937_64 g(seed);
    std::uniform_real_distribution<double> u(0, 1);
    std::string s;
    while (s.size() < n) {
        const auto i = std::min<std::size_t>(
            std::size(vocab) - 1, std::size_t(std::pow(double(std::size(vocab)), u(g))) - 1);
        s += vocab[i];
        const auto r = g() % 16;
        s += r == 0 ? ". " : r == 1 ? ", " : " ";
    }
    s.resize(n);
    return to_bytes(s);
}

std::vector<byte_view> views(const std::vector<mmry::bytes>& v) {
    return {v.begin(), v.end()};
}

/// 2000 records to train on, 200 fresh ones of the same kind, and the dictionary trained on the
/// first (made once: training takes a fraction of a second).
struct json_corpus {
    std::vector<mmry::bytes> training = json_records(2000, 1);
    std::vector<mmry::bytes> fresh = json_records(200, 2);
    mmry::bytes trained = mmry::compress::train_dictionary(views(training));
    dictionary dict{trained, 7};
};
const json_corpus& corpus() {
    static const json_corpus c;
    return c;
}

/// Compresses `src` with C (and `d` when given) into a buffer one byte smaller, as the frame
/// codec does; returns the frame (empty when the compressor chose raw).
template <class C, class... Dict>
mmry::bytes packed(byte_view src, const Dict&... d) {
    mmry::bytes out(src.size() > 0 ? src.size() - 1 : 0);
    out.resize(C::compress(src, out, d...));
    return out;
}

template <class C, class... Dict>
mmry::bytes unpacked(byte_view frame, std::size_t size, const Dict&... d) {
    mmry::bytes out(size);
    const std::size_t n = C::decompress(frame, out, d...);
    REQUIRE(n == size);
    return out;
}

/// Runs f on a new thread (fresh per-thread compressor state) and rethrows what it threw.
template <class F>
void on_new_thread(F f) {
    std::exception_ptr failure;
    std::thread t([&] {
        try {
            f();
        } catch (...) {
            failure = std::current_exception();
        }
    });
    t.join();
    if (failure) std::rethrow_exception(failure);
}

using zstd3 = mmry::compress::zstd<3>;
template <int N>
using by_ratio = mmry::compress::adaptive<mmry::compress::ratio<N>>;
template <int M>
using by_speed = mmry::compress::adaptive<mmry::compress::speed<M>>;

}  // namespace

// ---- dictionaries -------------------------------------------------------------------------------

TEST_CASE("dictionary: trained on 2000 JSON records it loads and keeps its bytes and id",
          "[compress][dictionary]") {
    const auto& c = corpus();
    REQUIRE(c.trained.size() > 1024);
    REQUIRE(c.trained.size() <= 112640);
    CHECK(c.dict.id() == 7);
    CHECK(c.dict.size() == c.trained.size());
    CHECK(c.dict.bytes() == c.trained);
    CHECK(ZSTD_getDictID_fromDDict(c.dict.ddict()) != 0);
    CHECK(c.dict.cdict(3) != nullptr);
    CHECK(c.dict.cdict(3) == c.dict.cdict(3));  // built once
    CHECK(c.dict.cdict(-7) != c.dict.cdict(22));
    CHECK_THROWS_MATCHES(c.dict.cdict(23), mmry::error, is_error(errc::invalid_argument, "23"));
    CHECK_THROWS_MATCHES(c.dict.cdict(-8), mmry::error, is_error(errc::invalid_argument, "-8"));

    const dictionary again(c.dict.bytes(), 8);  // rebuilt from its bytes
    const auto frame = packed<zstd3>(c.fresh[0], c.dict);
    CHECK(unpacked<zstd3>(frame, c.fresh[0].size(), again) == c.fresh[0]);
}

TEST_CASE("dictionary: small JSON records compress 1.3x better with one than without",
          "[compress][dictionary]") {
    const auto& c = corpus();
    std::size_t raw = 0, plain = 0, with = 0;
    for (const auto& r : c.fresh) {
        const auto p = packed<zstd3>(r);
        const auto d = packed<zstd3>(r, c.dict);
        REQUIRE(!p.empty());
        REQUIRE(!d.empty());
        raw += r.size();
        plain += p.size();
        with += d.size();
    }
    const double without_ratio = double(raw) / double(plain);
    const double with_ratio = double(raw) / double(with);
    WARN("zstd<3> on 200 JSON records of 1-4 KiB: " << without_ratio << "x without, " << with_ratio
                                                    << "x with a " << c.dict.size()
                                                    << "-byte dictionary");
    CHECK(with_ratio >= 1.3 * without_ratio);
}

TEST_CASE("dictionary: round trips with zstd and adaptive mixed with frames without one",
          "[compress][dictionary]") {
    const auto& c = corpus();
    for (std::size_t i = 0; i < 50; ++i) {
        const auto& r = c.fresh[i];
        const auto d3 = packed<zstd3>(r, c.dict);
        const auto d1 = packed<mmry::compress::zstd<1>>(r, c.dict);
        const auto p3 = packed<zstd3>(r);  // the same thread's context, without the dictionary
        const auto a = packed<by_ratio<300>>(r, c.dict);
        const auto s = packed<by_speed<50>>(r, c.dict);
        REQUIRE(!d3.empty());
        REQUIRE(!d1.empty());
        REQUIRE(!p3.empty());
        REQUIRE(!a.empty());
        REQUIRE(!s.empty());
        CHECK(unpacked<zstd3>(d3, r.size(), c.dict) == r);
        CHECK(unpacked<zstd3>(d1, r.size(), c.dict) == r);  // the level is not needed to decode
        CHECK(unpacked<zstd3>(p3, r.size()) == r);
        CHECK(unpacked<zstd3>(p3, r.size(), c.dict) == r);  // a frame without one decodes with one
        CHECK(unpacked<by_ratio<300>>(a, r.size(), c.dict) == r);
        CHECK(unpacked<by_ratio<300>>(s, r.size(), c.dict) == r);
    }
    CHECK(mmry::compress::zstd<3>::dictionaries);
    CHECK(mmry::compress::zstd<3>::last_level() == 3);
    CHECK(mmry::compress::zstd<-5>::last_level() == -5);
}

TEST_CASE("dictionary: a frame decoded without its dictionary or with another is corrupt",
          "[compress][dictionary]") {
    const auto& c = corpus();
    std::vector<mmry::bytes> other_samples;
    for (std::uint64_t i = 0; i < 400; ++i) other_samples.push_back(prose(1024, 100 + i));
    const dictionary other(mmry::compress::train_dictionary(views(other_samples), 16384), 9);
    REQUIRE(ZSTD_getDictID_fromDDict(other.ddict()) != ZSTD_getDictID_fromDDict(c.dict.ddict()));

    const auto& r = c.fresh[1];
    const auto frame = packed<zstd3>(r, c.dict);
    mmry::bytes out(r.size());
    CHECK_THROWS_MATCHES(zstd3::decompress(frame, out), mmry::error,
                         is_error(errc::corrupt, "Dictionary mismatch"));
    CHECK_THROWS_MATCHES(zstd3::decompress(frame, out, other), mmry::error,
                         is_error(errc::corrupt, "dictionary 9"));
    CHECK_THROWS_MATCHES(by_ratio<200>::decompress(frame, out), mmry::error,
                         is_error(errc::corrupt));
    // The context is not left in a bad state: the right dictionary still decodes it.
    CHECK(unpacked<zstd3>(frame, r.size(), c.dict) == r);
}

TEST_CASE("dictionary: training on too few samples or on nothing is an invalid argument",
          "[compress][dictionary]") {
    const std::vector<mmry::bytes> few = json_records(3, 5);
    CHECK_THROWS_MATCHES(mmry::compress::train_dictionary(views(few)), mmry::error,
                         is_error(errc::invalid_argument, "3 samples of"));
    CHECK_THROWS_MATCHES(mmry::compress::train_dictionary(views(few)), mmry::error,
                         is_error(errc::invalid_argument, "give it more samples"));
    CHECK_THROWS_MATCHES(mmry::compress::train_dictionary({}), mmry::error,
                         is_error(errc::invalid_argument, "nothing to train on"));
    const std::vector<mmry::bytes> empties(10);
    CHECK_THROWS_MATCHES(mmry::compress::train_dictionary(views(empties)), mmry::error,
                         is_error(errc::invalid_argument, "10 samples of 0 bytes"));
}

TEST_CASE("dictionary: garbage and raw-content and damaged dictionaries are refused as corrupt",
          "[compress][dictionary]") {
    CHECK_THROWS_MATCHES(dictionary(random_bytes(4096, 3), 1), mmry::error,
                         is_error(errc::corrupt, "not a zstd-format dictionary"));
    CHECK_THROWS_MATCHES(dictionary(prose(4096, 3), 1), mmry::error,
                         is_error(errc::corrupt, "raw-content dictionaries are not accepted"));
    CHECK_THROWS_MATCHES(dictionary(byte_view{}, 1), mmry::error, is_error(errc::corrupt));
    CHECK_THROWS_MATCHES(dictionary(corpus().trained, 0), mmry::error,
                         is_error(errc::invalid_argument, "id 0 is reserved"));

    // The magic number and id of a real dictionary, then garbage or too little.
    const auto& real = corpus().trained;
    mmry::bytes damaged = random_bytes(4096, 4);
    std::memcpy(damaged.data(), real.data(), 8);
    CHECK_THROWS_MATCHES(dictionary(damaged, 2), mmry::error,
                         is_error(errc::corrupt, "entropy tables are damaged"));
    CHECK_THROWS_MATCHES(dictionary(byte_view(real).first(64), 2), mmry::error,
                         is_error(errc::corrupt, "dictionary 2"));
}

TEST_CASE("dictionary: 4 threads share one dictionary and build its tables concurrently",
          "[compress][dictionary][concurrency]") {
    const auto& c = corpus();
    const dictionary shared(c.trained, 11);  // no tables built yet
    failures failures;
    std::latch start(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            try {
                for (std::size_t i = 0; i < c.fresh.size(); i += 2) {
                    const auto& r = c.fresh[(i + std::size_t(t) * 50) % c.fresh.size()];
                    const auto frame =
                        i % 4 == 0 ? packed<zstd3>(r, shared) : packed<by_ratio<400>>(r, shared);
                    mmry::bytes out(r.size());
                    if (frame.empty() || zstd3::decompress(frame, out, shared) != r.size() ||
                        out != r)
                        failures.add("thread " + std::to_string(t) + ", record " +
                                     std::to_string(i));
                }
            } catch (const std::exception& e) {
                failures.add("thread " + std::to_string(t) + ": " + e.what());
            }
        });
    for (auto& t : threads) t.join();
    INFO((failures.list.empty() ? std::string() : failures.list.front()));
    CHECK(failures.list.empty());
}

// ---- adaptive -----------------------------------------------------------------------------------

TEST_CASE("adaptive: random frames are kept raw at every target", "[compress][adaptive]") {
    on_new_thread([] {
        for (std::uint64_t i = 0; i < 20; ++i) {
            const auto src = random_bytes(4096, 40 + i);
            CHECK(packed<by_ratio<200>>(src).empty());
            CHECK(by_ratio<200>::last_level() == 0);
            CHECK(packed<by_ratio<1000>>(src).empty());
            CHECK(by_ratio<1000>::last_level() == 0);
            CHECK(packed<by_speed<50>>(src).empty());
            CHECK(by_speed<50>::last_level() == 0);
            CHECK(packed<by_speed<50>>(src, corpus().dict).empty());
            CHECK(by_speed<50>::last_level() == 0);
        }
    });
}

TEST_CASE("adaptive: an achievable ratio is met on text at the cheapest level that meets it",
          "[compress][adaptive]") {
    on_new_thread([] {
        for (std::uint64_t i = 0; i < 30; ++i) {
            const auto src = prose(4096, i);
            const auto frame = packed<by_ratio<200>>(src);
            REQUIRE(!frame.empty());
            CHECK(double(src.size()) / double(frame.size()) >= 2.0);
            CHECK(by_ratio<200>::last_level() == 1);
            CHECK(unpacked<by_ratio<200>>(frame, src.size()) == src);
        }
        // 2.9x takes more than level 1 on this text (2.7x); the ladder climbs to a level that
        // meets it whenever level 19 would.
        int climbed = 0;
        for (std::uint64_t i = 0; i < 30; ++i) {
            const auto src = prose(4096, 1000 + i);
            const auto frame = packed<by_ratio<290>>(src);
            REQUIRE(!frame.empty());
            const int level = by_ratio<290>::last_level();
            climbed += level > 1;
            CHECK(frame.size() <= packed<mmry::compress::zstd<1>>(src).size());
            if (double(src.size()) / double(packed<mmry::compress::zstd<19>>(src).size()) >= 2.9) {
                INFO("frame " << i << " at level " << level);
                CHECK(double(src.size()) / double(frame.size()) >= 2.9);
            }
            CHECK(unpacked<by_ratio<290>>(frame, src.size()) == src);
        }
        CHECK(climbed > 0);
        // Then text that level 1 compresses far beyond 2.9x: the level follows it down.
        for (int i = 0; i < 60; ++i) {
            const auto src = redundant_bytes(4096);
            REQUIRE(!packed<by_ratio<290>>(src).empty());
        }
        CHECK(by_ratio<290>::last_level() == 1);
    });
}

TEST_CASE("adaptive: an unreachable ratio returns the smallest frame the ladder found and not raw",
          "[compress][adaptive]") {
    on_new_thread([] {
        for (std::uint64_t i = 0; i < 10; ++i) {
            const auto src = prose(4096, 2000 + i);
            const auto frame = packed<by_ratio<1000>>(src);
            REQUIRE(!frame.empty());
            REQUIRE(frame.size() < src.size());
            const int level = by_ratio<1000>::last_level();
            CHECK(level >= 9);
            // Exactly the frame zstd makes at that level, and no larger than level 1's.
            mmry::bytes direct(ZSTD_compressBound(src.size()));
            CHECK(frame.size() ==
                  ZSTD_compress(direct.data(), direct.size(), src.data(), src.size(), level));
            CHECK(frame.size() < packed<mmry::compress::zstd<1>>(src).size());
            CHECK(unpacked<by_ratio<1000>>(frame, src.size()) == src);
        }
    });
}

TEST_CASE("adaptive: a speed target picks a level by measured throughput", "[compress][adaptive]") {
    on_new_thread([] {
        // 1 MB/s: every level is fast enough, so the level climbs above 1.
        int highest = 0;
        for (std::uint64_t i = 0; i < 200; ++i) {
            const auto src = prose(4096, 3000 + i % 20);
            const auto frame = packed<by_speed<1>>(src);
            REQUIRE(!frame.empty());
            highest = std::max(highest, by_speed<1>::last_level());
            CHECK(unpacked<by_speed<1>>(frame, src.size()) == src);
        }
        CHECK(highest > 3);
        // 10^6 MB/s: no level is fast enough, so the level falls to the fastest rung, -5.
        for (std::uint64_t i = 0; i < 20; ++i) {
            const auto src = prose(4096, 3000 + i);
            const auto frame = packed<by_speed<1000000>>(src);
            REQUIRE(!frame.empty());
            CHECK(unpacked<by_speed<1000000>>(frame, src.size()) == src);
        }
        CHECK(by_speed<1000000>::last_level() == -5);
    });
}

TEST_CASE("adaptive: the output is never as large as the input", "[compress][adaptive]") {
    on_new_thread([] {
        std::vector<mmry::bytes> inputs;
        for (std::size_t n : {1, 2, 8, 31, 32, 33, 100, 1000, 4096, 65536}) {
            inputs.push_back(prose(n, n));
            inputs.push_back(random_bytes(n, n));
            auto half = prose(n, n + 1);
            const auto noise = random_bytes(n / 2 + n % 2, n + 2);
            std::copy(noise.begin(), noise.end(), half.begin());
            inputs.push_back(half);
        }
        for (const auto& src : inputs) {
            INFO("input of " << src.size() << " bytes");
            mmry::bytes dst(src.size() + 64);  // room for more: the limit is the compressor's own
            const auto check = [&](std::size_t n, auto policy) {
                using P = decltype(policy);
                if (n == 0) {
                    CHECK(P::last_level() == 0);
                    return;
                }
                CHECK(n < src.size() - src.size() / 32);
                CHECK(P::last_level() != 0);
                CHECK(unpacked<P>(byte_view(dst).first(n), src.size()) == src);
            };
            check(by_ratio<200>::compress(src, dst), by_ratio<200>{});
            check(by_ratio<1000>::compress(src, dst), by_ratio<1000>{});
            check(by_speed<100>::compress(src, dst), by_speed<100>{});
        }
    });
}

TEST_CASE("adaptive: decompressing garbage or a truncated frame is corrupt",
          "[compress][adaptive]") {
    const auto src = prose(4096, 9);
    const auto frame = packed<by_ratio<200>>(src);
    REQUIRE(!frame.empty());
    mmry::bytes out(src.size());
    CHECK_THROWS_MATCHES(by_ratio<200>::decompress(random_bytes(200, 5), out), mmry::error,
                         is_error(errc::corrupt));
    CHECK_THROWS_MATCHES(by_speed<100>::decompress(byte_view(frame).first(frame.size() / 2), out),
                         mmry::error, is_error(errc::corrupt));
    CHECK_THROWS_MATCHES(by_ratio<200>::decompress(random_bytes(200, 6), out, corpus().dict),
                         mmry::error, is_error(errc::corrupt));
    mmry::bytes small(src.size() / 2);  // the frame does not fit where it is to go
    CHECK_THROWS_MATCHES(by_ratio<200>::decompress(frame, small), mmry::error,
                         is_error(errc::corrupt));
}
