#!/usr/bin/env bash
# Tests tools/bench-charts: draws a committed mmry-bench run into a temporary directory and checks
# the SVG files it must write (each non-empty, an <svg> document naming every system of its metric),
# then that a missing file, a file that is not JSON Lines and a PATH without gnuplot each make it
# exit non-zero with a message. Needs gnuplot and python3.
#
#   tests/bench_charts_test.sh [RUN.jsonl]      (default: docs/bench/run-c9aa281.jsonl)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
charts="$root/tools/bench-charts"
run=${1:-$root/docs/bench/run-c9aa281.jsonl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# 1. A real run: the expected charts, each a non-empty SVG with every system of its metric.
"$charts" "$run" "$tmp/out" >"$tmp/stdout" || fail "bench-charts exited $? on $run"
for chart in small_put small_get bytes_per_entry codec_put codec_get codec_ratio codec_put_none \
             codec_get_none open fold_put fold_get dict_ratio dict_stored_ratio; do
    svg="$tmp/out/$chart.svg"
    if [[ ! -s "$svg" ]]; then fail "$chart.svg missing or empty"; continue; fi
    grep -q '<svg' "$svg" || fail "$chart.svg has no <svg"
    grep -qF "$(basename "$run")" "$svg" || fail "$chart.svg does not name the run file"
done
for metric in small_put small_get bytes_per_entry; do
    while IFS= read -r system; do
        grep -qF ">$system<" "$tmp/out/$metric.svg" || fail "$metric.svg has no bar for $system"
    done < <(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row["metric"] == sys.argv[2]: print(row["system"])' "$run" "$metric")
done

# 2. Bad inputs and no gnuplot: a non-zero exit, a message on stderr, no traceback.
expect_failure() {  # NAME MESSAGE-PART COMMAND...
    local name=$1 part=$2; shift 2
    if "$@" >/dev/null 2>"$tmp/stderr"; then fail "$name: exited 0"; return; fi
    grep -q "^bench-charts: .*$part" "$tmp/stderr" || fail "$name: no 'bench-charts: ...$part' message: $(cat "$tmp/stderr")"
    ! grep -q 'Traceback' "$tmp/stderr" || fail "$name: a Python traceback instead of a message"
}
echo 'not json' >"$tmp/not-json.jsonl"
echo '{"metric": "small_get", "system": "std"}' >"$tmp/no-value.jsonl"
mkdir "$tmp/bin"
ln -s "$(python3 -c 'import sys; print(sys.executable)')" "$tmp/bin/python3"
expect_failure "missing file" "cannot read" "$charts" "$tmp/does-not-exist.jsonl" "$tmp/bad"
expect_failure "not JSON" "not JSON Lines" "$charts" "$tmp/not-json.jsonl" "$tmp/bad"
expect_failure "no value" "value (a number)" "$charts" "$tmp/no-value.jsonl" "$tmp/bad"
expect_failure "no gnuplot" "gnuplot not found" env PATH="$tmp/bin" "$charts" "$run" "$tmp/bad"
[[ ! -e "$tmp/bad" ]] || fail "a failed run left an output directory"

if ((failures)); then echo "bench_charts_test: $failures failure(s)" >&2; exit 1; fi
echo "bench_charts_test: ok"
