#!/usr/bin/env bash
# Coverage-guided fuzzing of mpxn-recon with afl.rs (AFL++) on stable Rust.
#
#   scripts/fuzz.sh TARGET SECONDS     TARGET: inventory_lines | registry | index_reader | all
#
# Installs what is missing (a C toolchain from apt for AFL++'s build, cargo-afl from
# crates.io, which builds AFL++ from the source it ships), builds the fuzz crate
# (fuzz/, its own target dir fuzz/target) with afl instrumentation, runs afl-fuzz for
# SECONDS (-V) on fuzz/seeds/TARGET (plus, for index_reader, .mxi seeds freshly built
# from datasets/sample by the current code), then prints a summary from afl's
# fuzzer_stats and exits 3 if afl saved a crash (the first one is replayed to show its
# panic), 1 if afl could not run here. With "all", each target gets SECONDS in turn.
#
# Output: fuzz/out/TARGET/ (afl's queue, crashes/, hangs/, fuzzer_stats; afl.log).
#
# Environment:
#   FUZZ_RESUME=1      continue the previous run in fuzz/out/TARGET instead of starting anew
#   FUZZ_REV=REV       fuzz the library as committed at REV (e.g. HEAD) instead of the
#                      work tree (when another change is half done there): `git archive
#                      REV` into fuzz/target/snapshot-src (read-only for the repo); the
#                      fuzz crate itself still comes from the work tree
#   FUZZ_TIMEOUT_MS    afl-fuzz -t per input (default 2000; a slower input is a hang)
#   FUZZ_BUILD_ONLY=1  install and build, do not fuzz
set -euo pipefail

usage() {
    echo "usage: scripts/fuzz.sh inventory_lines|registry|index_reader|all SECONDS" >&2
    exit 2
}
[ $# -eq 2 ] || usage
TARGET=$1
SECONDS_TO_RUN=$2
case "$TARGET" in inventory_lines | registry | index_reader | all) ;; *) usage ;; esac
[[ "$SECONDS_TO_RUN" =~ ^[0-9]+$ ]] && [ "$SECONDS_TO_RUN" -gt 0 ] || usage

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ=$ROOT/fuzz
export CARGO_TARGET_DIR=$FUZZ/target
BIN=$CARGO_TARGET_DIR/release
say() { echo "fuzz.sh: $*" >&2; }

# --- install ----------------------------------------------------------------------
started=$(date +%s)
if ! command -v cc >/dev/null || ! command -v make >/dev/null; then
    say "installing a C toolchain (AFL++ is built from source)"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq build-essential >/dev/null
fi
# cargo-afl must match the afl crate in fuzz/Cargo.lock.
AFL_VERSION=$(awk '/^name = "afl"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$FUZZ/Cargo.lock")
[ -n "$AFL_VERSION" ] || { say "no afl crate in fuzz/Cargo.lock"; exit 1; }
if ! cargo afl --version 2>/dev/null | grep -qF "$AFL_VERSION"; then
    say "installing cargo-afl $AFL_VERSION (builds AFL++; about a minute)"
    cargo install cargo-afl --version "$AFL_VERSION" --locked --force --quiet
fi
# AFL++ and the afl runtime are built per rustc version (cargo install does it for the
# toolchain it ran under; a rustup update needs a rebuild).
RUSTC_ID="rustc-$(rustc -V | awk '{print $2}')-$(rustc -vV | sed -n 's/^commit-hash: //p' | cut -c1-7)"
AFL_DATA=${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs
if [ ! -x "$AFL_DATA/$RUSTC_ID/afl.rs-$AFL_VERSION/afl/bin/afl-fuzz" ]; then
    say "building AFL++ for $RUSTC_ID"
    cargo afl config --build --force
fi

# --- build ------------------------------------------------------------------------
MANIFEST=$FUZZ/Cargo.toml
cleanup() {
    [ -n "${MPXN_FUZZ_TMP:-}" ] && rm -rf "$MPXN_FUZZ_TMP"
    return 0
}
trap cleanup EXIT
if [ -n "${FUZZ_REV:-}" ]; then
    # A fixed place under the (ignored) target dir, and files keep their times (git
    # archive: the commit's; cp -p), so cargo rebuilds only what changed.
    SNAPSHOT_SRC=$CARGO_TARGET_DIR/snapshot-src
    say "fuzzing the library as of $FUZZ_REV ($(git -C "$ROOT" rev-parse --short "$FUZZ_REV")), fuzz crate from the work tree"
    rm -rf "$SNAPSHOT_SRC"
    mkdir -p "$SNAPSHOT_SRC"
    git -C "$ROOT" archive "$FUZZ_REV" | tar -x -C "$SNAPSHOT_SRC"
    rm -rf "$SNAPSHOT_SRC/fuzz"
    mkdir -p "$SNAPSHOT_SRC/fuzz"
    cp -rp "$FUZZ/Cargo.toml" "$FUZZ/Cargo.lock" "$FUZZ/src" "$FUZZ/fuzz_targets" "$SNAPSHOT_SRC/fuzz/"
    MANIFEST=$SNAPSHOT_SRC/fuzz/Cargo.toml
fi
say "building the fuzz targets (cargo afl build --release)"
(cd "$(dirname "$MANIFEST")" && cargo afl build --release --quiet)
installed=$(date +%s)
say "install + build: $((installed - started)) s"
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

# --- fuzz -------------------------------------------------------------------------
# A container: root, an untuned kernel, maybe a core_pattern that pipes to a handler.
export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1
export AFL_NO_AFFINITY=1
export AFL_TMPDIR=${AFL_TMPDIR:-/dev/shm}
[ -d "$AFL_TMPDIR" ] || export AFL_TMPDIR=/tmp
# One rayon thread: stable coverage, and nothing competes with afl-fuzz for the cores.
export RAYON_NUM_THREADS=1

stat_of() { sed -n "s/^$1 *: *//p" "$2"; }

fuzz_one() {
    local target=$1 out=$FUZZ/out/$1
    local input=$out/seeds
    if [ "${FUZZ_RESUME:-0}" = 1 ] && [ -d "$out/default" ]; then
        input=-
    else
        rm -rf "$out"
        mkdir -p "$input"
        find "$FUZZ/seeds/$target" -maxdepth 1 -type f -size +0 -exec cp {} "$input/" \;
        if [ "$target" = index_reader ]; then
            # Seeds from the code being fuzzed, so a format change never leaves the
            # fuzzer stuck at the version check.
            "$BIN/mkseeds" "$input/built" >/dev/null
            mv "$input"/built/*.mxi "$input/" && rmdir "$input/built"
            for f in "$input"/*.mxi; do
                base=$(basename "$f")
                [ -e "$FUZZ/seeds/$target/$base" ] || continue
                cmp -s "$f" "$FUZZ/seeds/$target/$base" || say "note: fuzz/seeds/$target/$base differs from a fresh build (format changed?)"
            done
        fi
    fi
    mkdir -p "$out"
    export MPXN_FUZZ_TMP
    MPXN_FUZZ_TMP=$(mktemp -d "${AFL_TMPDIR}/mpxn-fuzz-$target.XXXXXX")
    local dict=()
    [ -f "$FUZZ/dict/$target.dict" ] && dict=(-x "$FUZZ/dict/$target.dict")
    say "afl-fuzz $target for $SECONDS_TO_RUN s -> fuzz/out/$target (log: fuzz/out/$target/afl.log)"
    local t0 rc=0
    t0=$(date +%s)
    cargo afl fuzz -i "$input" -o "$out" -V "$SECONDS_TO_RUN" -t "${FUZZ_TIMEOUT_MS:-2000}" \
        -m none "${dict[@]}" -- "$BIN/$target" >"$out/afl.log" 2>&1 || rc=$?
    local t1
    t1=$(date +%s)
    rm -rf "$MPXN_FUZZ_TMP"
    local stats=$out/default/fuzzer_stats
    if [ ! -f "$stats" ]; then
        say "afl-fuzz did not start (exit $rc); the end of its log:"
        tail -30 "$out/afl.log" >&2
        return 1
    fi
    local crashes hangs
    crashes=$(stat_of saved_crashes "$stats")
    hangs=$(stat_of saved_hangs "$stats")
    echo "== $target: $((t1 - t0)) s wall (afl-fuzz exit $rc)"
    printf '   %-16s %s\n' \
        "run_time" "$(stat_of run_time "$stats") s" \
        "execs_done" "$(stat_of execs_done "$stats")" \
        "execs_per_sec" "$(stat_of execs_per_sec "$stats") (average over the run)" \
        "corpus_count" "$(stat_of corpus_count "$stats") (seeds: $(sed 's/\x1b\[[0-9;]*m//g' "$out/afl.log" | sed -n 's/.*Loaded a total of \([0-9]*\) seeds.*/\1/p' | head -1))" \
        "edges_found" "$(stat_of edges_found "$stats") of $(stat_of total_edges "$stats") instrumented" \
        "bitmap_cvg" "$(stat_of bitmap_cvg "$stats")" \
        "stability" "$(stat_of stability "$stats")" \
        "saved_crashes" "$crashes" \
        "saved_hangs" "$hangs"
    if [ "${crashes:-0}" != 0 ]; then
        local first
        first=$(find "$out/default/crashes" -type f -name 'id:*' | sort | head -1)
        echo "   CRASH: $first; replayed:"
        RUST_BACKTRACE=1 "$BIN/$target" <"$first" 2>&1 | sed 's/^/   | /' | head -40 || true
        return 3
    fi
    return 0
}

# Exit status: 0 clean; 3 afl saved a crash (a bug); 1 afl could not run here.
status=0
if [ "$TARGET" = all ]; then
    for t in inventory_lines registry index_reader; do
        rc=0
        fuzz_one "$t" || rc=$?
        [ "$rc" -gt "$status" ] && status=$rc
    done
else
    fuzz_one "$TARGET" || status=$?
fi
exit $status
