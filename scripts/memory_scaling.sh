#!/usr/bin/env bash
# Host memory against corpus size: the enwiki corpus (17M words) repeated 1, 4 and 30 times
# (17M, 68M, 508M words), one epoch each, one run each, printed as a markdown table. The
# repeated corpora are written to a scratch directory and deleted afterwards.
#
#   scripts/memory_scaling.sh ENWIKI_TEXT [THREADS] [MODEL] [SCRATCH]
#
# Optional environment: OLD=/path/to/an/older/w2v-gpu adds rows for that binary (same flags)
# at 1× and 4×, for a before/after comparison; SIZES="1 30 1" picks the repetitions (in order).
set -euo pipefail
SRC=${1:?the enwiki text8-like corpus (unzipped)}
THREADS=${2:-2}
MODEL=${3:-cbow}
SCRATCH=${4:-$(mktemp -d)}
BIN=${BIN:-$(dirname "$0")/../target/release/w2v-gpu}
mkdir -p "$SCRATCH"
trap 'rm -f "$SCRATCH"/corpus-x*' EXIT

echo "| binary | corpus | words | vocabulary | model | words/s | peak RSS (VmHWM) | peak anonymous RSS | anonymous − model | id cache | corpus passes (s) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
row() { # label binary copies [extra flags]
  local label=$1 bin=$2 n=$3 c="$SCRATCH/corpus-x$3"; shift 3
  if [ ! -s "$c" ]; then
    for _ in $(seq "$n"); do cat "$SRC"; echo; done > "$c"
  fi
  "$bin" train --input "$c" --output "$SCRATCH/v.bin" --model "$MODEL" --epochs 1 \
      --threads "$THREADS" --json --quiet "$@" 2>/dev/null |
    python3 -c '
import json, sys
label, n = sys.argv[1], sys.argv[2]
t = json.load(sys.stdin)
def mib(b):
    return "" if b is None else "{:,.0f} MiB".format(b / 2**20)
anon, model = t.get("peak_anon_rss_bytes"), t.get("model_bytes")
print("| {} | enwiki x {} | {:,} | {:,} | {} | {:.2f}M | {} | {} | {} | {} | {:.1f} |".format(
    label, n, t["words"], t["vocab_size"], mib(model), t["words_per_second"] / 1e6,
    mib(t.get("peak_rss_bytes")), mib(anon), mib(anon - model if anon and model else None),
    mib(t.get("cache_bytes")), t["corpus_seconds"]))' "$label" "$n"
}
if [ -n "${OLD:-}" ]; then
  row "before (ids in memory)" "$OLD" 1
  row "before (ids in memory)" "$OLD" 4
fi
for n in ${SIZES:-1 4 30}; do
  row "w2v-gpu" "$BIN" "$n" --cache-dir "$SCRATCH"
done
echo
echo "model $MODEL, $THREADS threads, 1 epoch, $(date -u +%Y-%m-%d), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
