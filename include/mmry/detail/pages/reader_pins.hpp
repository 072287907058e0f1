#pragma once
// The reader table of a page store: each open store object owns one slot, in which it publishes
// the oldest state (transaction number) that any of its threads is reading. A writer hands out a
// page freed by transaction F only when every published pin is at least F, so a reader never
// sees a page it can reach change under it, and never waits for a writer to see it.
//
// The handshake (LMDB's): a reader reads the current transaction T, publishes T, then reads the
// current transaction again and starts over if it moved. All three are seq_cst, as is the
// writer's scan, which happens after the commit that made T current: so a writer either sees
// the pin, or the reader sees the newer commit and pins that instead.
//
// A pin left by a dead process is taken back by the next writer whose reuse it holds up (pid and
// start time, so a reused pid does not count).
//
// Thread-safety: pin()/unpin() from any number of threads of the owning process.

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <mmry/detail/pages/page_format.hpp>
#include <mmry/detail/process_id.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

class reader_pins {
  public:
    reader_pins(control_block& control, pin_slot* slots, const std::string& store)
        : control_(&control), slots_(slots) {
        pins_.reserve(8);  // before a slot is taken: a throw here leaves none taken
        const auto me = process_id::self();
        for (int round = 0; !slot_; ++round) {
            if (round == 2)
                throw error(errc::limit_exceeded, "store " + store + " has all " +
                                                      std::to_string(slot_count) +
                                                      " reader slots taken by live processes");
            for (std::uint32_t i = 0; i < slot_count && !slot_; ++i) {
                std::uint32_t expected = 0;
                if (!slots_[i].pid.compare_exchange_strong(expected, me.pid)) continue;
                slots_[i].start = me.start;
                slots_[i].pin = 0;
                slot_ = &slots_[i];
                std::uint32_t seen = control_->slots_high_water.load();
                while (seen < i + 1 &&
                       !control_->slots_high_water.compare_exchange_weak(seen, i + 1)) {
                }
            }
            if (!slot_) reclaim_dead();
        }
    }
    ~reader_pins() {
        slot_->pin = 0;
        slot_->start = 0;
        slot_->pid = 0;
    }
    reader_pins(const reader_pins&) = delete;
    reader_pins& operator=(const reader_pins&) = delete;

    /// Publishes that a thread of this process reads state `txn`.
    void pin(std::uint64_t txn) {
        std::lock_guard lock(mutex_);
        const auto it = at(txn);
        if (it != pins_.end() && it->first == txn)
            ++it->second;
        else
            pins_.insert(it, {txn, 1});
        slot_->pin.store(pins_.front().first, std::memory_order_seq_cst);
    }
    void unpin(std::uint64_t txn) {
        std::lock_guard lock(mutex_);
        const auto it = at(txn);
        if (it == pins_.end() || it->first != txn) return;
        if (--it->second == 0) pins_.erase(it);
        slot_->pin.store(pins_.empty() ? 0 : pins_.front().first, std::memory_order_seq_cst);
    }

    /// The oldest state any live reader may be reading, or `current` when none reads an older
    /// one. Takes back the slots of dead processes that hold up reuse.
    std::uint64_t oldest(std::uint64_t current) {
        std::uint64_t oldest = current;
        const auto n =
            std::min(control_->slots_high_water.load(std::memory_order_seq_cst), slot_count);
        for (std::uint32_t i = 0; i < n; ++i) {
            auto& s = slots_[i];
            const std::uint64_t pin = s.pin.load(std::memory_order_seq_cst);
            if (pin == 0 || pin >= oldest) continue;
            if (&s != slot_ && !process_id{s.pid.load(), s.start.load()}.alive()) {
                release(s);
                continue;
            }
            oldest = pin;
        }
        return oldest;
    }

    /// Open store objects of live processes, and how many of them are reading now.
    std::pair<std::uint32_t, std::uint32_t> readers() const {
        std::uint32_t open = 0, reading = 0;
        const auto n = std::min(control_->slots_high_water.load(), slot_count);
        for (std::uint32_t i = 0; i < n; ++i) {
            const auto& s = slots_[i];
            if (s.pid.load() == 0 ||
                (&s != slot_ && !process_id{s.pid.load(), s.start.load()}.alive()))
                continue;
            ++open;
            if (s.pin.load() != 0) ++reading;
        }
        return {open, reading};
    }

    /// Clears every slot: after a reboot, when no process of the old boot can hold one.
    static void reset(pin_slot* slots) {
        for (std::uint32_t i = 0; i < slot_count; ++i) {
            slots[i].pin = 0;
            slots[i].start = 0;
            slots[i].pid = 0;
        }
    }

  private:
    // The pins, by state, oldest first: a sorted vector, which holds the few states a process
    // reads at once without an allocation per read.
    std::vector<std::pair<std::uint64_t, std::uint32_t>>::iterator at(std::uint64_t txn) {
        return std::lower_bound(pins_.begin(), pins_.end(),
                                std::pair<std::uint64_t, std::uint32_t>{txn, 0});
    }

    static void release(pin_slot& s) {
        const std::uint32_t pid = s.pid.load();
        s.pin = 0;
        s.start = 0;
        std::uint32_t expected = pid;
        s.pid.compare_exchange_strong(expected, 0);
    }
    void reclaim_dead() {
        for (std::uint32_t i = 0; i < slot_count; ++i) {
            auto& s = slots_[i];
            if (s.pid.load() != 0 && !process_id{s.pid.load(), s.start.load()}.alive()) release(s);
        }
    }

    control_block* control_;
    pin_slot* slots_;
    pin_slot* slot_ = nullptr;
    std::mutex mutex_;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> pins_;  // state, threads reading it
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
