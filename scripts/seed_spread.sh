#!/usr/bin/env bash
# Seed-to-seed spread of w2v-gpu and word2vec.c on one corpus: a single run's WS-353 moves by
# more than the differences the side-by-side table looks at, so this runs each tool with N
# seeds and prints every run plus the mean.
#
#   scripts/seed_spread.sh CORPUS [THREADS] [MODEL] [SEEDS]
#
# word2vec.c has no seed flag (its generators start from 1 and the thread id); this builds
# the C source that the PyPI `word2vec` package ships, once per seed, with those start values
# offset by the seed. Seed 0 is the unmodified program. Same protocol and scoring (gensim 4.4)
# as scripts/compare.sh; needs gcc and the venv described there.
set -euo pipefail
CORPUS=${1:?corpus file}
THREADS=${2:-1}
MODEL=${3:-skipgram}
SEEDS=${4:-3}
PEERS=${PEERS:-/tmp/peers}
EVAL=${EVAL:-$(dirname "$0")/../../shared/data/eval}
BIN=${BIN:-$(dirname "$0")/../target/release/w2v-gpu}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
if [ "$MODEL" = cbow ]; then ALPHA=0.05; CBOW=1; else ALPHA=0.025; CBOW=0; fi
SRC=$("$PEERS/bin/python" -c 'import word2vec, os; print(os.path.join(os.path.dirname(word2vec.__file__), "includes", "word2vec.c"))')

score() { # name file
  "$PEERS/bin/python" - "$@" "$EVAL" <<'PY'
import sys
from gensim.models import KeyedVectors
name, path, ev = sys.argv[1], sys.argv[2], sys.argv[3]
kv = KeyedVectors.load_word2vec_format(path, binary=True)
acc, _ = kv.evaluate_word_analogies(f'{ev}/questions-words.txt', restrict_vocab=30000, case_insensitive=True)
ws = kv.evaluate_word_pairs(f'{ev}/wordsim353.tsv', case_insensitive=True)[1][0]
print(f'{name}\t{100*acc:.2f}\t{ws:.3f}')
PY
}

for ((s = 0; s < SEEDS; s++)); do
  # The two generator seeds of word2vec.c: InitNet's `next_random = 1` and each thread's
  # `next_random = (long long)id`.
  sed -e "s/unsigned long long next_random = 1;/unsigned long long next_random = 1 + $s * 7919ULL;/" \
      -e "s/unsigned long long next_random = (long long)id;/unsigned long long next_random = (long long)id + $s * 104729ULL;/" \
      "$SRC" > "$OUT/w2v_s$s.c"
  if [ "$s" -gt 0 ] && cmp -s "$SRC" "$OUT/w2v_s$s.c"; then
    echo "the word2vec.c source changed: its seed lines were not found" >&2; exit 1
  fi
  gcc "$OUT/w2v_s$s.c" -o "$OUT/w2v_s$s" -lm -pthread -O3 -march=native -funroll-loops -w
  "$OUT/w2v_s$s" -train "$CORPUS" -output "$OUT/c.bin" -cbow $CBOW -size 100 -window 5 -negative 5 \
      -hs 0 -sample 1e-4 -min-count 5 -iter 1 -alpha $ALPHA -threads "$THREADS" -binary 1 > /dev/null 2>&1
  score "word2vec.c seed $s" "$OUT/c.bin" >> "$OUT/rows"
  "$BIN" train --input "$CORPUS" --output "$OUT/g.bin" --model "$MODEL" --dim 100 --window 5 \
      --negative 5 --sample 1e-4 --min-count 5 --epochs 1 --alpha $ALPHA --threads "$THREADS" \
      --seed $((s + 1)) --quiet > /dev/null
  score "w2v-gpu seed $((s + 1))" "$OUT/g.bin" >> "$OUT/rows"
done

echo "| run | analogy (restrict 30k) | WS-353 Spearman |"
echo "|---|---:|---:|"
sort -s -k1,1 "$OUT/rows" | awk -F'\t' '{ printf "| %s | %s%% | %s |\n", $1, $2, $3 }'
for tool in word2vec.c w2v-gpu; do
  grep "^$tool seed" "$OUT/rows" | awk -F'\t' -v t="$tool" \
    '{ a += $2; w += $3; n++ } END { printf "| **%s, mean of %d** | %.2f%% | %.3f |\n", t, n, a / n, w / n }'
done
echo
echo "corpus: $CORPUS, model $MODEL, $THREADS threads, $(date -u +%Y-%m-%d), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
