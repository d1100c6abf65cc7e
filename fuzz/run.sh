#!/usr/bin/env bash
# Bounded fuzzing for CI: builds every fuzz target once, runs each for FUZZ_SECONDS from a
# scratch copy of its committed corpus (fuzz/corpus/<target>/, which is never modified),
# prints what each run did, and fails if any target crashed, timed out or ran out of memory.
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_TARGETS   space-separated targets to run (default: all of fuzz/fuzz_targets/)
#   FUZZ_TIMEOUT   seconds one input may take before it counts as a hang (default 10)
#   FUZZ_RSS_MB    memory limit per target in MiB (default 2048)
#   FUZZ_TOOLCHAIN the nightly toolchain cargo fuzz builds with (default nightly)
#
# A crash leaves its input in fuzz/artifacts/<target>/; the summary prints how to reproduce
# and minimize it. Works from any directory.
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$FUZZ_DIR"

CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"
FUZZ_RSS_MB="${FUZZ_RSS_MB:-2048}"
FUZZ_TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
# The same flags for the build and every run (a run with other flags would rebuild).
# No sanitizer: the code under test is safe Rust (`unsafe_code = "forbid"`), so AddressSanitizer
# would only slow it down; panics, overflow checks and debug assertions find the bugs.
BUILD_FLAGS=(--sanitizer none --codegen-units 16)

if ! rustup run "$FUZZ_TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    echo "fuzz: the $FUZZ_TOOLCHAIN toolchain is missing (rustup toolchain install $FUZZ_TOOLCHAIN)" >&2
    exit 1
fi
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "== fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked --force "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    targets=()
    for f in fuzz_targets/*.rs; do
        t="${f#fuzz_targets/}"
        targets+=("${t%.rs}")
    done
fi

echo "== fuzz: build (${#targets[@]} targets)"
# fuzz/Cargo.lock is committed: refuse to change it (cargo fuzz has no --locked of its own).
host="$(rustc "+$FUZZ_TOOLCHAIN" -vV | sed -n 's/^host: //p')"
cargo "+$FUZZ_TOOLCHAIN" fetch --locked --target "$host" --quiet
build_start=$SECONDS
cargo "+$FUZZ_TOOLCHAIN" fuzz build "${BUILD_FLAGS[@]}"
echo "fuzz: build took $((SECONDS - build_start)) s"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# The value after `key:` on the last line of a libFuzzer log that has one.
field() { grep -o "$1: *[0-9]*" "$2" | tail -1 | grep -o '[0-9]*$' || echo "?"; }

failed=()
summary=()
run_start=$SECONDS
for t in "${targets[@]}"; do
    if [ ! -f "fuzz_targets/$t.rs" ]; then
        echo "fuzz: no target $t" >&2
        exit 1
    fi
    corpus="$scratch/corpus/$t"
    mkdir -p "$corpus"
    if [ -d "corpus/$t" ]; then
        cp -R "corpus/$t/." "$corpus/"
    fi
    extra=()
    if [ -f "dict/$t.dict" ]; then
        extra+=("-dict=dict/$t.dict")
    fi
    log="$scratch/$t.log"
    echo "== fuzz: $t (${FUZZ_SECONDS} s)"
    start=$SECONDS
    status=ok
    # `cargo fuzz run` saves crashing inputs under fuzz/artifacts/<target>/.
    if ! cargo "+$FUZZ_TOOLCHAIN" fuzz run "${BUILD_FLAGS[@]}" "$t" "$corpus" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" \
        -print_final_stats=1 "${extra[@]}" >"$log" 2>&1; then
        status=FAILED
        failed+=("$t")
        # The panic or the libFuzzer report, and the saved input.
        grep -v '^#[0-9]' "$log" | tail -40
    fi
    execs="$(field 'stat::number_of_executed_units' "$log")"
    rate="$(field 'stat::average_exec_per_sec' "$log")"
    rss="$(field 'stat::peak_rss_mb' "$log")"
    done_line="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
    cov="$(echo "$done_line" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")"
    ft="$(echo "$done_line" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")"
    corp="$(echo "$done_line" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*' || echo "?")"
    echo "fuzz: $t: $status, $execs execs ($rate/s), cov $cov, features $ft, corpus $corp, peak RSS ${rss} MiB, $((SECONDS - start)) s"
    echo "      final: ${done_line:-none}"
    summary+=("$(printf '%-14s %-7s %10s %8s %7s %7s %6s' "$t" "$status" "$execs" "$rate" "$cov" "$ft" "$corp")")
done

echo "== fuzz: summary (build $((run_start - build_start)) s, runs $((SECONDS - run_start)) s)"
printf '%-14s %-7s %10s %8s %7s %7s %6s\n' target status execs exec/s cov ft corpus
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    echo "fuzz: inputs are in $FUZZ_DIR/artifacts/<target>/; reproduce with" >&2
    echo "      cargo +$FUZZ_TOOLCHAIN fuzz run ${BUILD_FLAGS[*]} <target> artifacts/<target>/<file>" >&2
    echo "      and minimize with cargo +$FUZZ_TOOLCHAIN fuzz tmin ${BUILD_FLAGS[*]} <target> artifacts/<target>/<file>" >&2
    exit 1
fi
