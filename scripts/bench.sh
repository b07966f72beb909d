#!/usr/bin/env bash
# Whole-command benchmarks on one generated dataset.
#
#   scripts/bench.sh ROWS [--cold] [--no-duckdb] [--mem-cap GB]
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
# Prints a markdown table: wall seconds, peak RSS, peak anonymous memory (the sum of
# RssAnon over the step's processes, sampled every 50 ms: heap and other private
# memory, not the clean pages of mapped inputs that RSS also counts), and each figure as
# a ratio to DuckDB and to the floor. --mem-cap GB runs every step inside a v1 memory
# cgroup limited to GB GiB (needs root and /sys/fs/cgroup/memory); a step the kernel
# kills there is reported as "killed by the cap", and the comparisons that need its
# outputs are skipped. --cold drops the page cache before each step (needs root); without
# it the step's input files are read once (cat > /dev/null) just before it, so the
# figures are warm-cache. (Running each step twice is no warm-up at national scale on
# a VM that pages out what has not been touched for a minute: by the time a
# one-minute step ends, its input is no longer cached.)
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:?usage: scripts/bench.sh ROWS [--cold] [--no-duckdb] [--mem-cap GB]}
shift
cold=0
duckdb=1
cap_gb=
while [ $# -gt 0 ]; do
  case $1 in
    --cold) cold=1 ;;
    --no-duckdb) duckdb=0 ;;
    --mem-cap) cap_gb=${2:?--mem-cap takes GiB, e.g. 4 or 0.5}; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
cgroot=/sys/fs/cgroup/memory
if [ -n "$cap_gb" ] && { [ "$(id -u)" != 0 ] || [ ! -w "$cgroot" ]; }; then
  echo "bench: --mem-cap needs root and a v1 memory cgroup at $cgroot" >&2
  exit 2
fi

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
# (awk stops at 10,000 itself: `head` closing the pipe would fail it under pipefail.)
grep -h ',ESME,' "${inventories[@]}" | cut -d, -f6 | grep . | awk -v s="$step" 'NR % s == 0 && n < 10000 { print; n++ }' > "$keys"

declare -A wall rss anon killed
# ok NAME: the step was not killed by the memory cap.
ok() { [ -z "${killed[$1]:-}" ]; }
# anon_peak PID OUT: until PID exits, samples the sum of RssAnon over PID and its
# descendants every 50 ms; writes the peak in MB to OUT.
anon_peak() {
  local root=$1 out=$2 peak=0
  while kill -0 "$root" 2>/dev/null; do
    local pids=$root frontier=$root kids
    while [ -n "$frontier" ]; do
      kids=$(for p in $frontier; do cat "/proc/$p/task/$p/children" 2>/dev/null || true; done)
      frontier=$kids
      pids="$pids $kids"
    done
    local kb
    kb=$(for p in $pids; do awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null || true; done | awk '{s+=$1} END {print s+0}')
    [ "$kb" -gt "$peak" ] && peak=$kb
    sleep 0.05
  done
  echo $(( peak / 1024 )) > "$out"
}

# measure NAME WARM CMD...: runs CMD under /usr/bin/time -v (inside the memory cgroup
# with --mem-cap), after a cache drop (--cold) or after reading the files WARM names (a
# glob) into the page cache.
measure() {
  local name=$1 warm=$2; shift 2
  if [ "$cold" = 1 ]; then
    sync; echo 3 > /proc/sys/vm/drop_caches
  else
    # shellcheck disable=SC2086
    cat $warm > /dev/null
  fi
  local status=0 cg=
  if [ -n "$cap_gb" ]; then
    cg=$cgroot/mpxn-bench-$$-$name
    mkdir -p "$cg"
    local cap_bytes
    cap_bytes=$(awk -v g="$cap_gb" 'BEGIN { printf "%.0f", g * 1024 * 1024 * 1024 }')
    echo "$cap_bytes" > "$cg/memory.limit_in_bytes"
    # No swap on these machines; where there is, the cap covers it too.
    [ -w "$cg/memory.memsw.limit_in_bytes" ] && echo "$cap_bytes" > "$cg/memory.memsw.limit_in_bytes" 2>/dev/null || true
    sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec /usr/bin/time -v "$@"' sh "$cg" "$@" \
      > "$work/$name.stdout" 2> "$work/$name.time" &
  else
    /usr/bin/time -v "$@" > "$work/$name.stdout" 2> "$work/$name.time" &
  fi
  local pid=$!
  anon_peak "$pid" "$work/$name.anon" &
  local sampler=$!
  wait "$pid" || status=$?
  wait "$sampler" || true
  anon[$name]=$(cat "$work/$name.anon")
  if [ -n "$cg" ]; then
    if grep -q 'Command terminated by signal 9' "$work/$name.time" 2>/dev/null || [ "$(cat "$cg/memory.failcnt")" != 0 ] && [ "$status" != 0 ]; then
      killed[$name]=1
    fi
    rmdir "$cg" 2>/dev/null || true
  fi
  # lookup exits 1 when some key is not in the index (the keys include invalid MPANs).
  if [ -n "${killed[$name]:-}" ]; then
    echo "bench: $name was killed by the ${cap_gb} GiB memory cap" >&2
  elif [ "$status" != 0 ] && ! { [ "$name" = lookups ] && [ "$status" = 1 ]; }; then
    echo "bench: $name failed with status $status; see $work/$name.time" >&2
    exit 1
  fi
  wall[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$work/$name.time")
  rss[$name]=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/$name.time")
}

# Each step writes into a fresh directory: replacing the previous run's 550 MB of
# decisions would add the old file's deletion to the step's time.
rm -rf "$work"/out-csv "$work"/out-index "$work"/out-duckdb "$work/national.mxi" "$work"/*.time "$work"/*.anon "$work"/*.stdout
inputs="$data/inventory/*.csv $data/suppliers.csv"
measure floor "$inputs" wc -l "${inventories[@]}"
measure csv_sweep "$inputs" "$bin" sweep "${inv_args[@]}" --suppliers "$data/suppliers.csv" --as-of "$as_of" --out "$work/out-csv"
measure index_build "$inputs" "$bin" index build --quiet "${inv_args[@]}" --suppliers "$data/suppliers.csv" --out "$work/national.mxi"
if ok index_build; then
measure index_sweep "$work/national.mxi" "$bin" sweep --index "$work/national.mxi" --as-of "$as_of" --out "$work/out-index"
measure lookups "$work/national.mxi" "$bin" lookup --index "$work/national.mxi" --as-of "$as_of" --json --latency --keys-from "$keys"
fi
if [ "$duckdb" = 1 ]; then
  measure duckdb "$inputs" "$python" scripts/duckdb_sweep.py "${inv_args[@]}" --suppliers "$data/suppliers.csv" --as-of "$as_of" --out "$work/out-duckdb"
fi

# Every path must agree (where the steps finished).
agree=()
if ok csv_sweep && ok index_build && ok index_sweep; then
  cmp "$work/out-csv/decisions.csv" "$work/out-index/decisions.csv"
  agree+=("decisions.csv: CSV sweep = index sweep")
fi
if [ "$duckdb" = 1 ] && ok csv_sweep && ok duckdb; then
  for f in decisions.csv duplicates.csv rejects.csv; do
    cmp "$work/out-csv/$f" "$work/out-duckdb/$f"
  done
  agree+=("decisions.csv, duplicates.csv, rejects.csv: CSV sweep = DuckDB")
fi
agree="$(IFS=';'; echo "${agree[*]:-no two steps finished to compare}") (byte for byte)"
latency=$(grep -o 'p50.*' "$work/lookups.time" 2>/dev/null || true)

bytes=$(cat "${inventories[@]}" | wc -c)
lines=$(awk '/total/ {print $1}' "$work/floor.stdout")
echo
echo "rows $lines, $(( bytes / 1000000 )) MB of CSV, as of $as_of, $([ "$cold" = 1 ] && echo cold || echo warm) cache, $(nproc) cores"
echo "$agree"
echo "lookup latency: $latency"
[ -f "$work/national.mxi" ] && echo "index size: $(( $(stat -c %s "$work/national.mxi") / 1000000 )) MB"
[ -n "$cap_gb" ] && echo "every step inside a ${cap_gb} GiB memory cgroup"
echo
echo "| step | wall s | peak RSS MB | peak anon MB | MB/s | x DuckDB | x floor |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for name in floor csv_sweep index_build index_sweep lookups duckdb; do
  [ -n "${wall[$name]:-}" ] || continue
  w=${wall[$name]}
  mbs=$(awk -v b="$bytes" -v w="$w" 'BEGIN { if (w > 0) printf "%.0f", b / 1e6 / w; else print "-" }')
  xd=$(awk -v a="$w" -v d="${wall[duckdb]:-0}" 'BEGIN { if (d > 0) printf "%.2f", a / d; else print "-" }')
  xf=$(awk -v a="$w" -v f="${wall[floor]}" 'BEGIN { if (f > 0) printf "%.1f", a / f; else print "-" }')
  if [ -n "${killed[$name]:-}" ]; then
    echo "| $name | killed by the cap after $w s | ${rss[$name]} | ${anon[$name]} | - | - | - |"
    continue
  fi
  echo "| $name | $w | ${rss[$name]} | ${anon[$name]} | $mbs | $xd | $xf |"
done
