#!/usr/bin/env bash
# Quality of distributed training against one process, over many seeds: for every seed, one
# process with each thread count in THREADS and `mpirun -np N` (one thread per rank) for each
# N in NPS, all with the same flags; prints a markdown table of every run (analogy within the
# 30,000 most frequent words, WS-353 Spearman) and per configuration the mean, the lowest and
# the highest run. BENCHMARKS.md "Distributed training over MPI" uses it.
#
#   scripts/mpi_quality.sh CORPUS [SEEDS] [THREADS] [NPS] [EXTRA FLAGS...]
#
# SEEDS default "1 2 3 4 5 6 7 8 9 10"; THREADS default "1 2 4"; NPS default "4"; EPOCHS
# (environment) default 1. EXTRA flags go to every run. More ranks or threads than cores are
# oversubscribed (their quality is comparable, their speed is not).
# Needs a binary built with `cargo build --release --features mpi` (BIN) and OpenMPI's
# mpirun; scores with this binary's `eval` (equal to gensim's: tests/eval_gensim.rs) and the
# EVAL folder's questions-words.txt and wordsim353.tsv.
set -euo pipefail
CORPUS=${1:?corpus file}
SEEDS=${2:-1 2 3 4 5 6 7 8 9 10}
THREADS=${3:-1 2 4}
NPS=${4:-4}
shift $(( $# < 4 ? $# : 4 ))
EXTRA=("$@")
EPOCHS=${EPOCHS:-1}
BIN=${BIN:-$(dirname "$0")/../target/release/w2v-gpu}
EVAL=${EVAL:-$(dirname "$0")/../../shared/data/eval}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

score() { # config seed vectors
  "$BIN" eval --json --vectors "$3" --analogies "$EVAL/questions-words.txt" \
    --similarity "$EVAL/wordsim353.tsv" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("%s\t%s\t%.2f\t%.3f" % (sys.argv[1], sys.argv[2], 100 * d["analogies"][0]["accuracy"],
      d["similarity"][0]["spearman"]))' "$1" "$2" >> "$OUT/rows"
}

for s in $SEEDS; do
  for t in $THREADS; do
    "$BIN" train --input "$CORPUS" --output "$OUT/v.bin" --threads "$t" --epochs "$EPOCHS" --seed "$s" \
      --quiet "${EXTRA[@]}" > /dev/null
    score "1 process, $t thread(s)" "$s" "$OUT/v.bin"
  done
  for n in $NPS; do
    mpirun --oversubscribe -np "$n" "$BIN" train --input "$CORPUS" --output "$OUT/v.bin" \
      --threads 1 --epochs "$EPOCHS" --seed "$s" --quiet "${EXTRA[@]}" > /dev/null
    score "$n ranks, 1 thread each" "$s" "$OUT/v.bin"
  done
done

echo "| configuration | seeds | analogy: mean (lowest–highest) | WS-353: mean (lowest–highest) |"
echo "|---|---:|---|---|"
python3 - "$OUT/rows" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
order = []
for r in rows:
    if r[0] not in order:
        order.append(r[0])
for c in order:
    a = [float(r[2]) for r in rows if r[0] == c]
    w = [float(r[3]) for r in rows if r[0] == c]
    print(f"| {c} | {len(a)} | {sum(a)/len(a):.2f}% ({min(a):.2f}–{max(a):.2f}) | "
          f"{sum(w)/len(w):.3f} ({min(w):.3f}–{max(w):.3f}) |")
print()
print("| configuration | seed | analogy | WS-353 |")
print("|---|---:|---:|---:|")
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]}% | {r[3]} |")
PY
echo
echo "corpus: $CORPUS, flags: --epochs $EPOCHS ${EXTRA[*]:-}, $(date -u +%Y-%m-%d), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
