#pragma once
// The report of a run: markdown tables (figures, ratios against each peer, the targets)
// and JSON Lines.

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "bench.hpp"

namespace mmry_bench {

struct report {
    const config& cfg;
    std::string command;
    std::string corpus_origin;
    std::vector<std::pair<std::string, std::string>> machine;
    std::vector<std::pair<std::string, std::string>> versions;
    const results& res;
    const notes& nt;
    double seconds = 0;
};

void print_markdown(const report& r, std::ostream& out);

/// One line per measurement: {"metric": "...", "system": "...", "value": 1.5, "unit": "..."}
void write_json_lines(const results& res, std::ostream& out);

}  // namespace mmry_bench
