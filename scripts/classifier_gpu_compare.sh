#!/usr/bin/env bash
# BENCHMARKS.md "The classifier on the GPU": P@1 of `supervised` on the CPU threads and on
# a GPU backend, each loss, the texts of scripts/classifier_data.py.
#
#   scripts/classifier_gpu_compare.sh DATA_DIR [BACKEND] [W2V_GPU]
#
# DATA_DIR holds ag_train.txt, ag_test.txt, wiki_train.txt, wiki_test.txt; BACKEND default
# vulkan; W2V_GPU default target/release/w2v-gpu. Prints one line per run: its name, exit
# code, P@1 and the training seconds the run reports.
set -uo pipefail
D=$1
BACKEND=${2:-vulkan}
B=${3:-target/release/w2v-gpu}
W=$(mktemp -d)
run() { # NAME DATA flags...
  local name=$1 d=$2; shift 2
  "$B" supervised -input "$D/${d}_train.txt" -output "$W/$name" "$@" 2>"$W/$name.err"
  local rc=$?
  local p; p=$("$B" test "$W/$name.bin" "$D/${d}_test.txt" 2>/dev/null | awk '/^P@1/{print $2}')
  echo "$name rc=$rc P@1=$p training $(grep -o "in [0-9.]* s" "$W/$name.err" | head -1)"
}
AG="-epoch 5 -lr 0.5 -wordNgrams 2 -bucket 1000000"
LONG="-epoch 25 -lr 0.5 -wordNgrams 2 -bucket 1000000"
for loss in softmax ns hs ova; do
  run "ag_${loss}_cpu" ag -loss "$loss" $AG -thread 2
  run "ag_${loss}_gpu" ag -loss "$loss" $AG -backend "$BACKEND"
  run "wiki_${loss}_cpu" wiki -loss "$loss" -thread 2
  run "wiki_${loss}_gpu" wiki -loss "$loss" -backend "$BACKEND"
done
for loss in softmax ns hs ova; do
  run "wiki25_${loss}_cpu" wiki -loss "$loss" $LONG -thread 2
  run "wiki25_${loss}_gpu" wiki -loss "$loss" $LONG -backend "$BACKEND"
done
rm -rf "$W"
