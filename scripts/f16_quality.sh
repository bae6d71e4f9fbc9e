#!/usr/bin/env bash
# --precision f16 against f32 on the GPU engine: the same runs (same seed, same kernel
# selection) with the weight matrices stored as f32 and as halves, then `w2v-gpu eval`
# (analogy restricted to 30k, WS-353), words/s and the matrices' device memory.
#
#   scripts/f16_quality.sh CORPUS EVAL_DIR [MODELS] [EPOCHS] [SEEDS] [PRECISIONS]
#
# MODELS (default "skipgram cbow"), EPOCHS (default 3), SEEDS (default 1), PRECISIONS
# (default "f32 f16"). BIN (environment) picks the binary (default target/release/w2v-gpu,
# built first), BACKEND the GPU backend (default vulkan), EXTRA adds flags to every run.
set -euo pipefail
CORPUS=$1
EVAL=$2
MODELS=${3:-skipgram cbow}
EPOCHS=${4:-3}
SEEDS=${5:-1}
PRECISIONS=${6:-f32 f16}
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/w2v-gpu
fi
WORK=${WORK:-/tmp/f16_quality}
mkdir -p "$WORK"
echo "| model | precision | seed | words/s (training) | device matrices | final loss | analogy | WS-353 |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for model in $MODELS; do
  for seed in $SEEDS; do
    for prec in $PRECISIONS; do
      out=$WORK/$model.$prec.$seed.bin
      tr=$("$BIN" train --input "$CORPUS" --output "$out" --model "$model" --epochs "$EPOCHS" \
        --seed "$seed" --backend "${BACKEND:-vulkan}" --precision "$prec" ${EXTRA:-} --json --quiet)
      ev=$("$BIN" eval --vectors "$out" --analogies "$EVAL/questions-words.txt" \
        --similarity "$EVAL/EN-WS-353-ALL.txt" --json)
      python3 - "$model" "$prec" "$seed" "$tr" "$ev" <<'PY'
import json, sys
model, prec, seed, tj, ej = sys.argv[1:6]
t, e = json.loads(tj), json.loads(ej)
mib = t["device_matrix_bytes"] / 2**20
print(f"| {model} | {prec} | {seed} | {t['words_per_second']:,.0f} | {mib:.1f} MiB | {t['final_loss']:.4f} | "
      f"{100 * e['analogies'][0]['accuracy']:.2f}% | {e['similarity'][0]['spearman']:.3f} |")
PY
    done
  done
done
