#!/usr/bin/env bash
# One fastText command line, run by fastText and by w2v-gpu (`w2v-gpu skipgram -input ...`,
# fastText's defaults for every absent flag), then both .vec files scored by `w2v-gpu eval`.
# Prints each run's whole wall time and that of the same run with `-epoch 0` for fastText
# (vocabulary, set-up and writing; w2v-gpu prints its training time itself).
#
#   scripts/fasttext_cli_compare.sh CORPUS [THREADS] [WORKDIR]
#
# Needs `fasttext` (Debian: apt-get install fasttext) and ../shared/data/eval.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
C=$(realpath "$1")
THREADS=${2:-2}
WORK=${3:-/tmp/fasttext_cli_compare}
B=$ROOT/target/release/w2v-gpu
E=$ROOT/../shared/data/eval
mkdir -p "$WORK" && cd "$WORK"
for model in skipgram cbow; do
  for tool in fasttext w2v-gpu; do
    T=$tool; [ "$tool" = w2v-gpu ] && T=$B
    s=$(date +%s.%N)
    "$T" $model -input "$C" -output ${tool}_$model -epoch 1 -thread "$THREADS" >${tool}_$model.log 2>&1
    e=$(date +%s.%N)
    line="$tool $model: whole command $(echo "$e - $s" | bc) s"
    if [ "$tool" = fasttext ]; then
      s=$(date +%s.%N)
      fasttext $model -input "$C" -output ${tool}_${model}_e0 -epoch 0 >/dev/null 2>&1
      e=$(date +%s.%N)
      line="$line, with -epoch 0 $(echo "$e - $s" | bc) s"
      rm -f ${tool}_${model}_e0.bin ${tool}_${model}_e0.vec
    else
      line="$line; $(tail -1 ${tool}_$model.log)"
    fi
    "$B" eval --vectors ${tool}_$model.vec --analogies "$E/questions-words.txt" \
      --similarity "$E/EN-WS-353-ALL.txt" --json >${tool}_$model.eval.json
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], 'analogy %.2f%%' % (100*r['analogies'][0]['accuracy']), 'WS-353 %.3f' % r['similarity'][0]['spearman'])" \
      ${tool}_$model.eval.json "$line"
  done
done
