#!/usr/bin/env bash
# Regenerates docs/report.png, the README's picture of the sample's report.html:
# the sample swept with --report and --what-if, rendered by headless Chromium at
# 1280 px wide (apt-get install chromium). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --release --quiet -- sweep --as-of "$(cat datasets/sample/AS_OF)" --report \
  --what-if only-communicating --quiet --out "$out/sweep"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$out/profile" --window-size=1280,2400 \
  --screenshot="$PWD/docs/report.png" "file://$out/sweep/report.html" 2>/dev/null
ls -l docs/report.png
