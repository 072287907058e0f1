#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages mmry needs to build, test and benchmark.
# Idempotent and silent when everything is already installed; only then does it touch apt.
# Runs as root, or through sudo when it is available. Non-interactive.
#
#   ./scripts/install-deps.sh
set -euo pipefail

packages=(
    # build
    cmake g++ make pkg-config
    # the library's dependencies
    libboost-dev libzstd-dev libcrypto++-dev librange-v3-dev
    # the mmry tool (tools/mmry): its dependencies only, never the library's
    libcli11-dev nlohmann-json3-dev libfmt-dev
    # tests (python3 parses the tool's JSON; script, from bsdutils, gives it a terminal)
    catch2 python3 bsdutils
    # benchmarks: the peers we compare against, and the harness
    liblmdb-dev librocksdb-dev libbenchmark-dev
    # benchmark charts (tools/bench-charts)
    gnuplot-nox
)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps.sh: not a Debian-based system; install these by other means:" >&2
    echo "  ${packages[*]}" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
if ((EUID == 0)); then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "install-deps.sh: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
