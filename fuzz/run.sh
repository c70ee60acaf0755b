#!/usr/bin/env bash
# Run the fuzz targets (parse, analyze, pprof) for SECONDS each (default 600), seeded with every committed
# fixture. On the stable toolchain cargo-fuzz runs with RUSTC_BOOTSTRAP=1.
# Crashes land in fuzz/artifacts/<target>/; commit each as a regression input under
# tests/regressions/ once fixed. Leak detection is off: the parse target reads on
# threads, and glibc's registration of their thread-local destructors is reported as
# a 32-byte leak that is not ours.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
for t in parse analyze pprof; do
  mkdir -p corpus/$t
  if [ $t = pprof ]; then
    # the real binary profiles, gunzipped
    find ../fixtures/formats -name '*.pb' -exec cp {} corpus/$t/ \; 2>/dev/null || true
    for f in ../fixtures/formats/*/*/leak0.pb.gz; do [ -e "$f" ] && gzip -dc "$f" >"corpus/$t/$(basename "$(dirname "$f")")-leak0.pb"; done
  else
    find ../fixtures/dumps -name '*.txt' -exec cp {} corpus/$t/ \; 2>/dev/null || true
  fi
  find ../tests/regressions -type f -exec cp {} corpus/$t/ \; 2>/dev/null || true
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" corpus/$t -- -max_total_time="$secs" -max_len=200000 -timeout=10 -rss_limit_mb=4096 -detect_leaks=0
done
