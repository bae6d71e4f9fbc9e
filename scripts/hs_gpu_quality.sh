#!/usr/bin/env bash
# Hierarchical softmax alone (--hs --negative 0) on the GPU against the CPU trainer: the
# CPU trainer in word2vec.c's order and in the GPU's (--streams 256), the kernels' CPU
# reference through the GPU engine's pipeline (examples/reference_engine.rs: the GPU's math
# and order, windows one after another) and the GPU itself, over several seeds; then
# `w2v-gpu eval` (analogy restricted to 30k, WS-353).
#
#   scripts/hs_gpu_quality.sh CORPUS EVAL_DIR [MODEL] [EPOCHS] [SEEDS] [ENGINES]
#
# MODEL skipgram|cbow (default skipgram), EPOCHS (default 3), SEEDS (default "1 2 3"),
# ENGINES a subset of "cpu cpu256 ref gpu" (default all; gpu is --backend vulkan, slow on
# lavapipe: about 10k words/s for skip-gram). EXTRA (environment) adds flags to every run,
# e.g. EXTRA="--subwords --bucket 200000" for subword units.
set -euo pipefail
CORPUS=$1
EVAL=$2
MODEL=${3:-skipgram}
EPOCHS=${4:-3}
SEEDS=${5:-1 2 3}
ENGINES=${6:-cpu cpu256 ref gpu}
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo build --release --quiet --example reference_engine
B=target/release/w2v-gpu
REF=target/release/examples/reference_engine
WORK=${WORK:-/tmp/hs_gpu_quality}
mkdir -p "$WORK"
echo "| engine | seed | words/s (training) | analogy | WS-353 |"
echo "|---|---:|---:|---:|---:|"
for engine in $ENGINES; do
  for seed in $SEEDS; do
    out=$WORK/$engine.$MODEL.$seed.bin
    common=(--input "$CORPUS" --output "$out" --hs --negative 0 --model "$MODEL" --epochs "$EPOCHS" --seed "$seed" ${EXTRA:-})
    case $engine in
      cpu) wps=$($B train "${common[@]}" --backend cpu --threads 2 --json --quiet | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["words_per_second"]))') ;;
      cpu256) wps=$($B train "${common[@]}" --backend cpu --threads 2 --streams 256 --json --quiet | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["words_per_second"]))') ;;
      ref) wps=$($REF "${common[@]}" | python3 -c 'import sys; w = sys.stdin.read().split(); print(round(int(w[0]) / float(w[3])))') ;;
      gpu) wps=$($B train "${common[@]}" --backend vulkan --json --quiet | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["words_per_second"]))') ;;
      *) echo "unknown engine $engine" >&2; exit 2 ;;
    esac
    ev=$($B eval --vectors "$out" --analogies "$EVAL/questions-words.txt" --similarity "$EVAL/EN-WS-353-ALL.txt" --json)
    python3 - "$engine" "$seed" "$wps" "$ev" <<'PY'
import json, sys
engine, seed, wps, ej = sys.argv[1:5]
e = json.loads(ej)
print(f"| {engine} | {seed} | {int(wps):,} | {100 * e['analogies'][0]['accuracy']:.2f}% | {e['similarity'][0]['spearman']:.3f} |")
PY
  done
done
