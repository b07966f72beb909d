#!/usr/bin/env bash
# Whole-command benchmarks on one generated dataset.
#
#   scripts/bench.sh ROWS [--cold] [--no-duckdb]
#
# Generates ROWS device rows with `mpxn-recon gen` (seed 1) under
# datasets/generated/bench-ROWS/ (git-ignored; reused if present), then times with
# /usr/bin/time -v, each as one process:
#   (f) the floor: `wc -l` over the same bytes;
#   (a) the CSV sweep;  (b) index build;  (c) the sweep from the index;
#   (d) 10,000 lookups of MPANs taken from the inventory (p50/p99 per key, in process);
#   (e) the same classification as DuckDB SQL (scripts/duckdb_sweep.py; pip-installs
#       duckdb if missing), whose decisions.csv, duplicates.csv and rejects.csv
#       must equal the engine's byte for byte.
# Prints a markdown table: wall seconds, peak RSS, and each figure as a ratio to DuckDB
# and to the floor. --cold drops the page cache before each step (needs root); without
# it the step's input files are read once (cat > /dev/null) just before it, so the
# figures are warm-cache. (Running each step twice is no warm-up at national scale on
# a VM that pages out what has not been touched for a minute: by the time a
# one-minute step ends, its input is no longer cached.)
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:?usage: scripts/bench.sh ROWS [--cold] [--no-duckdb]}
shift
cold=0
duckdb=1
for arg in "$@"; do
  case $arg in
    --cold) cold=1 ;;
    --no-duckdb) duckdb=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

work=datasets/generated/bench-$rows
data=$work/data
mkdir -p "$work"
cargo build --release --quiet
bin=target/release/mpxn-recon
if [ ! -f "$data/AS_OF" ]; then
  "$bin" gen --rows "$rows" --seed 1 --out "$data"
fi
as_of=$(cat "$data/AS_OF")
inventories=("$data"/inventory/*.csv)
inv_args=()
for f in "${inventories[@]}"; do inv_args+=(--inventory "$f"); done
# What the steps need on a fresh machine: GNU time (Debian's `time`) and, for (e), the
# duckdb package; with pip refused (Debian's "externally managed" Python) it goes into
# a private virtual environment under datasets/generated/.
if [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq time
  else
    echo "bench: /usr/bin/time is missing; install GNU time (Debian: apt-get install time)" >&2
    exit 1
  fi
fi
python=python3
if [ "$duckdb" = 1 ] && ! python3 -c 'import duckdb' 2>/dev/null; then
  if ! python3 -m pip install --quiet duckdb; then
    venv=datasets/generated/.venv
    if ! python3 -m venv "$venv" 2>/dev/null && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/python3" -m pip install --quiet duckdb
    python=$venv/bin/python3
  fi
fi

# 10,000 MPANs spread over the inventories (every k-th ESME row), spelled as given.
keys=$work/keys.txt
esmes=$(grep -h ',ESME,' "${inventories[@]}" | cut -d, -f6 | grep -c . || true)
step=$(( esmes / 10000 )); [ "$step" -ge 1 ] || step=1
grep -h ',ESME,' "${inventories[@]}" | cut -d, -f6 | grep . | awk -v s="$step" 'NR % s == 0' | head -n 10000 > "$keys"

declare -A wall rss
# measure NAME WARM CMD...: runs CMD under /usr/bin/time -v, after a cache drop
# (--cold) or after reading the files WARM names (a glob) into the page cache.
measure() {
  local name=$1 warm=$2; shift 2
  if [ "$cold" = 1 ]; then
    sync; echo 3 > /proc/sys/vm/drop_caches
  else
    # shellcheck disable=SC2086
    cat $warm > /dev/null
  fi
  local status=0
  /usr/bin/time -v "$@" > "$work/$name.stdout" 2> "$work/$name.time" || status=$?
  # lookup exits 1 when some key is not in the index (the keys include invalid MPANs).
  if [ "$status" != 0 ] && ! { [ "$name" = lookups ] && [ "$status" = 1 ]; }; then
    echo "bench: $name failed with status $status; see $work/$name.time" >&2
    exit 1
  fi
  wall[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$work/$name.time")
  rss[$name]=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/$name.time")
}

# Each step writes into a fresh directory: replacing the previous run's 550 MB of
# decisions would add the old file's deletion to the step's time.
rm -rf "$work"/out-csv "$work"/out-index "$work"/out-duckdb "$work/national.mxi"
inputs="$data/inventory/*.csv $data/suppliers.csv"
measure floor "$inputs" wc -l "${inventories[@]}"
measure csv_sweep "$inputs" "$bin" sweep "${inv_args[@]}" --suppliers "$data/suppliers.csv" --as-of "$as_of" --out "$work/out-csv"
measure index_build "$inputs" "$bin" index build --quiet "${inv_args[@]}" --suppliers "$data/suppliers.csv" --out "$work/national.mxi"
measure index_sweep "$work/national.mxi" "$bin" sweep --index "$work/national.mxi" --as-of "$as_of" --out "$work/out-index"
measure lookups "$work/national.mxi" "$bin" lookup --index "$work/national.mxi" --as-of "$as_of" --json --latency --keys-from "$keys"
if [ "$duckdb" = 1 ]; then
  measure duckdb "$inputs" "$python" scripts/duckdb_sweep.py "${inv_args[@]}" --suppliers "$data/suppliers.csv" --as-of "$as_of" --out "$work/out-duckdb"
fi

# Every path must agree.
cmp "$work/out-csv/decisions.csv" "$work/out-index/decisions.csv"
if [ "$duckdb" = 1 ]; then
  for f in decisions.csv duplicates.csv rejects.csv; do
    cmp "$work/out-csv/$f" "$work/out-duckdb/$f"
  done
  agree="decisions.csv: CSV sweep = index sweep = DuckDB; duplicates.csv, rejects.csv: CSV sweep = DuckDB (byte for byte)"
else
  agree="decisions.csv: CSV sweep = index sweep (byte for byte)"
fi
latency=$(grep -o 'p50.*' "$work/lookups.time" || true)

bytes=$(cat "${inventories[@]}" | wc -c)
lines=$(awk '/total/ {print $1}' "$work/floor.stdout")
echo
echo "rows $lines, $(( bytes / 1000000 )) MB of CSV, as of $as_of, $([ "$cold" = 1 ] && echo cold || echo warm) cache, $(nproc) cores"
echo "$agree"
echo "lookup latency: $latency"
echo "index size: $(( $(stat -c %s "$work/national.mxi") / 1000000 )) MB"
echo
echo "| step | wall s | peak RSS MB | MB/s | x DuckDB | x floor |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for name in floor csv_sweep index_build index_sweep lookups duckdb; do
  [ -n "${wall[$name]:-}" ] || continue
  w=${wall[$name]}
  mbs=$(awk -v b="$bytes" -v w="$w" 'BEGIN { if (w > 0) printf "%.0f", b / 1e6 / w; else print "-" }')
  xd=$(awk -v a="$w" -v d="${wall[duckdb]:-0}" 'BEGIN { if (d > 0) printf "%.2f", a / d; else print "-" }')
  xf=$(awk -v a="$w" -v f="${wall[floor]}" 'BEGIN { if (f > 0) printf "%.1f", a / f; else print "-" }')
  echo "| $name | $w | ${rss[$name]} | $mbs | $xd | $xf |"
done
