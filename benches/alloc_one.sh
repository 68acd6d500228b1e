#!/usr/bin/env bash
# Instructions (Callgrind) of one steady-state run of each alloc_one
# workload (a run with a warm-up and one measured iteration minus one
# with the warm-up only), with System, and with OwnerAlloc off, on
# (exact) and sampled (sample_bytes=512K); ratios to System.
#
#   bash benches/alloc_one.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p benches --example alloc_one --example alloc_one_system
OWNER=target/release/examples/alloc_one
SYSTEM=target/release/examples/alloc_one_system
count() { # BINARY ENV... -> instructions
    local bin=$1
    shift
    env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
steady() { # BINARY ENV...
    local full zero
    full=$(count "$@")
    zero=$(count "$@" ZERO=1)
    echo $((full - zero))
}
echo "# alloc_one, $(date -u +%Y-%m-%d)"
echo
echo "| work | System | off | on | sampled |"
echo "|---|---|---|---|---|"
for w in json btree churn; do
    s=$(steady "$SYSTEM" WORK=$w)
    off=$(steady "$OWNER" WORK=$w OFF=1)
    on=$(steady "$OWNER" WORK=$w)
    sm=$(steady "$OWNER" WORK=$w OPTIONS=sample_bytes)
    awk -v w=$w -v s="$s" -v off="$off" -v on="$on" -v sm="$sm" 'BEGIN {
        printf "| %s | %.2fM | %.2fM (%.3fx) | %.2fM (%.3fx) | %.2fM (%.3fx) |\n",
            w, s / 1e6, off / 1e6, off / s, on / 1e6, on / s, sm / 1e6, sm / s }'
done
