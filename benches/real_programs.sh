#!/usr/bin/env bash
# OwnerAlloc on real programs from crates.io (jaq running a jq filter over
# generated JSON; syn parsing a generated Rust file and printing it back):
# System / off / on (exact) / sampled (sample_bytes=512K), one thread;
# with MODES="system on floor_walk floor_walk_rmw", also the floor under any
# exact tracker (examples/real_program_floor.rs: a 16-frame walk on every
# allocation; and one atomic read-modify-write on every allocation and free).
#
#   bash benches/real_programs.sh            # both programs
#   PROGRAMS=jaq ROUNDS=7 bash benches/real_programs.sh
#   THREADS=8 SIZE=500000 CG_SIZE=100000 bash benches/real_programs.sh
#
# Checks that every mode prints the same output digest, then prints:
# - instructions (Callgrind) of one steady-state run: a run with a
#   warm-up and one measured iteration minus a run with the warm-up only
#   (ZERO=1), on an input of CG_SIZE bytes (default 1 MB);
# - CPU time (user + sys) of whole runs on an input of SIZE bytes (default
#   4 MB, a warm-up and one iteration), the median of ROUNDS (default 5)
#   interleaved rounds (each round runs every mode once).
# With THREADS=N the measured iteration runs on N threads at once, each
# over the whole input (N times the work; the CPU time sums the threads).
# Ratios are to System. Needs valgrind and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
PROGRAMS=${PROGRAMS:-"jaq syn"}
ROUNDS=${ROUNDS:-5}
SIZE=${SIZE:-4000000}
CG_SIZE=${CG_SIZE:-1000000}
MODES=${MODES:-"system off on sampled"}
export THREADS=${THREADS:-1}

cargo build --release -q -p benches --example real_program --example real_program_system \
    --example real_program_floor
OWNER=target/release/examples/real_program
SYSTEM=target/release/examples/real_program_system
FLOOR_BIN=target/release/examples/real_program_floor

# The allocowner setting and the binary of each mode.
setting() {
    case $1 in
    system | off) echo "" ;;
    on) echo "on" ;;
    sampled) echo "on,sample_bytes" ;;
    floor_walk | floor_walk_rmw) echo "" ;;
    *) echo "unknown mode $1" >&2; exit 2 ;;
    esac
}
binary() {
    case $1 in
    system) echo "$SYSTEM" ;;
    floor_*) echo "$FLOOR_BIN" ;;
    *) echo "$OWNER" ;;
    esac
}
# The FLOOR setting of real_program_floor.
floor() { case $1 in floor_*) echo "${1#floor_}" ;; esac; }

instructions() { # MODE PROGRAM [zero]
    env PROGRAM="$2" SIZE="$CG_SIZE" ALLOCOWNER="$(setting "$1")" FLOOR="$(floor "$1")" ${3:+ZERO=1} \
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$(binary "$1")" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

cpu() { # MODE PROGRAM -> seconds of user+sys
    local t
    t=$( { env PROGRAM="$2" SIZE="$SIZE" ALLOCOWNER="$(setting "$1")" FLOOR="$(floor "$1")" \
        /usr/bin/time -f "%U %S" "$(binary "$1")" >/dev/null; } 2>&1 | tail -1)
    awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.3f", a[1] + a[2] }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "# real programs, $(date -u +%Y-%m-%d), $(nproc) cores, $THREADS thread(s)"
for p in $PROGRAMS; do
    ref=""
    for m in $MODES; do
        out=$(env PROGRAM="$p" SIZE=200000 ALLOCOWNER="$(setting "$m")" FLOOR="$(floor "$m")" \
            "$(binary "$m")")
        if [ -z "$ref" ]; then ref=$out; elif [ "$out" != "$ref" ]; then
            echo "FAIL: $p output differs in mode $m: '$out' vs '$ref'" >&2
            exit 1
        fi
    done
    echo
    echo "## $p (outputs identical in every mode: $ref)"
    echo
    declare -A ins=() times=()
    for m in $MODES; do
        full=$(instructions "$m" "$p")
        zero=$(instructions "$m" "$p" zero)
        ins[$m]=$((full - zero))
    done
    for _ in $(seq "$ROUNDS"); do
        for m in $MODES; do
            times[$m]+="$(cpu "$m" "$p") "
        done
    done
    base_i=${ins[system]:-}
    base_t=$(echo "${times[system]:-}" | tr ' ' '\n' | grep . | median)
    echo "| mode | instructions (CG_SIZE=$CG_SIZE) | ratio | CPU s (SIZE=$SIZE, median of $ROUNDS) | ratio |"
    echo "|---|---|---|---|---|"
    for m in $MODES; do
        t=$(echo "${times[$m]}" | tr ' ' '\n' | grep . | median)
        awk -v m="$m" -v i="${ins[$m]}" -v bi="$base_i" -v t="$t" -v bt="$base_t" \
            'BEGIN { printf "| %s | %.1fM | %.3fx | %.2f | %.2fx |\n", m, i / 1e6, i / bi, t, t / bt }'
    done
    unset ins times
done
