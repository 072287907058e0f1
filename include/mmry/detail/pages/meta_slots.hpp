#pragma once
// The two meta slots of a page store (pages 1 and 2 of segment 0; page_format.hpp): commit n
// writes slot n % 2, so the other keeps the commit before while it is written.
//
// publish() writes a slot's transaction number 0 first (readers skip the slot), then the body,
// then the number, which is the commit point. load() copies a slot and checks it: a slot being
// written, torn (a writer killed midway, a power cut) or damaged is refused, never followed.
//
// A view over mapped memory, cheap to make: the store makes one where it needs it.
// Thread-safety: any number of threads and processes load while one writer publishes (the
// store's writer lock). Nothing throws.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <mmry/detail/fault.hpp>
#include <mmry/detail/pages/page_format.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

class meta_slots {
  public:
    /// `segment0`: the mapping of segment 0; `max_pages`: the store's limit, above which no
    /// valid meta's high-water mark lies.
    meta_slots(std::byte* segment0, std::uint64_t max_pages) noexcept
        : base_(segment0), max_pages_(max_pages) {}

    /// The words of slot `k`.
    std::uint64_t* slot(std::size_t k) const noexcept {
        return reinterpret_cast<std::uint64_t*>(base_ + meta_page[k] * page_size);
    }
    /// The transaction number slot `k` claims (0: none, or being written).
    std::uint64_t txn_word(std::size_t k) const noexcept {
        return std::atomic_ref<std::uint64_t>(slot(k)[0]).load(std::memory_order_seq_cst);
    }

    /// A copy of slot `k`, or false when it is being written, torn, or fails its checks.
    bool load(std::size_t k, meta& out) const noexcept {
        std::uint64_t copy[meta_words];
        if (!copy_words(k, copy, meta_words)) return false;
        std::memcpy(&out, copy, sizeof out);
        meta_head h;
        std::memcpy(&h, copy, sizeof h);
        return valid_head(h, k) && out.sum == out.compute_sum() && out.bounded();
    }
    /// The head of slot `k` alone: what a reader needs.
    bool load(std::size_t k, meta_head& out) const noexcept {
        std::uint64_t copy[meta_head_words];
        if (!copy_words(k, copy, meta_head_words)) return false;
        std::memcpy(&out, copy, sizeof out);
        return valid_head(out, k);
    }

    /// The current meta (or its head): of the two, the valid one with the higher transaction
    /// number; false when neither is valid.
    template <class Meta>
    bool current(Meta& out) const noexcept {
        const std::size_t first = txn_word(0) >= txn_word(1) ? 0 : 1;
        return load(first, out) || load(1 - first, out);
    }

    /// Makes slot `k` claim no commit (one torn or damaged, which must not claim a later commit
    /// than the current one's).
    void clear(std::size_t k) const noexcept {
        std::atomic_ref<std::uint64_t>(slot(k)[0]).store(0, std::memory_order_seq_cst);
    }

    /// Writes m into its slot, the transaction number last (see the top of the file).
    void publish(const meta& m) const {
        std::uint64_t* w = slot(m.txn % 2);
        std::uint64_t words[meta_words];
        std::memcpy(words, &m, sizeof m);
        std::atomic_ref<std::uint64_t>(w[0]).store(0, std::memory_order_seq_cst);
        fault_point("pages.meta_begun");
        for (std::size_t i = 1; i < meta_words; ++i) {
            std::atomic_ref<std::uint64_t>(w[i]).store(words[i], std::memory_order_release);
            if (i == meta_words / 2) fault_point("pages.meta_half");
        }
        std::atomic_ref<std::uint64_t>(w[0]).store(m.txn, std::memory_order_seq_cst);
    }

  private:
    // Copies the first n words of slot k into out; false when the slot is being written (its
    // transaction number moved while copying).
    bool copy_words(std::size_t k, std::uint64_t* out, std::size_t n) const noexcept {
        std::uint64_t* w = slot(k);
        out[0] = std::atomic_ref<std::uint64_t>(w[0]).load(std::memory_order_acquire);
        // Acquire loads, and release stores in publish(), order the words without fences
        // (which ThreadSanitizer does not model): a copy that saw any word of a newer write sees
        // the transaction number that write began by clearing. Plain moves on x86.
        for (std::size_t i = 1; i < n; ++i)
            out[i] = std::atomic_ref<std::uint64_t>(w[i]).load(std::memory_order_acquire);
        return std::atomic_ref<std::uint64_t>(w[0]).load(std::memory_order_relaxed) == out[0];
    }
    bool valid_head(const meta_head& h, std::size_t k) const noexcept {
        return h.txn != 0 && h.txn % 2 == k && h.magic == meta_magic &&
               h.head_sum == checksum(&h, offsetof(meta_head, head_sum)) &&
               h.high_water >= first_data_page && h.high_water <= max_pages_;
    }

    std::byte* base_;
    std::uint64_t max_pages_;
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
