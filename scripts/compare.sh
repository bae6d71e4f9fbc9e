#!/usr/bin/env bash
# Side-by-side comparison of w2v-gpu with word2vec.c, gensim and fastText on one corpus,
# one machine, one run. Prints a markdown table for BENCHMARKS.md.
#
# Every tool is timed the same way: wall clock around training, vocabulary excluded, and
# words/s = the corpus's word count / those seconds. w2v-gpu: its training-loop seconds;
# word2vec.c: the wall time of a run that reads a vocabulary saved beforehand (-read-vocab);
# gensim: around model.train(); fastText: the wall time of the run minus that of the same
# command with -epoch 0 (vocabulary, initialisation and output writing cancel out).
#
#   scripts/compare.sh CORPUS [THREADS] [MODEL]
#
# Optional environment: HS=1 NEG=0 compares hierarchical softmax (w2v-gpu --hs --negative 0,
# word2vec.c -hs 1 -negative 0, gensim hs=1 negative=0, fastText -loss hs); EXTRA="--init uniform --min-alpha 0.0125" adds a second w2v-gpu row
# trained with those flags; FF=/path/to/finalfrontier adds finalfrontier 0.9 (skip-gram only,
# `--subwords none`; its words/s is corpus words over wall time, vocabulary building included,
# since it prints no training-only rate).
#
# Needs: a release build (cargo build --release), and a venv with the peers:
#   python3 -m venv /tmp/peers && /tmp/peers/bin/pip install gensim==4.4.0 word2vec
#   apt-get install fasttext
# Protocol: dim 100, window 5, negative 5, sample 1e-4, min-count 5, 1 epoch,
# alpha 0.025 (skip-gram) / 0.05 (CBOW). Evaluation with gensim 4.4:
# evaluate_word_analogies(restrict_vocab=30000, case_insensitive=True) on
# questions-words.txt and evaluate_word_pairs on WordSim-353.
set -euo pipefail
CORPUS=${1:?corpus file}
THREADS=${2:-2}
MODEL=${3:-skipgram}
PEERS=${PEERS:-/tmp/peers}
EVAL=${EVAL:-$(dirname "$0")/../../shared/data/eval}
BIN=${BIN:-$(dirname "$0")/../target/release/w2v-gpu}
OUT=$(mktemp -d)
if [ "$MODEL" = cbow ]; then ALPHA=0.05; CBOW=1; else ALPHA=0.025; CBOW=0; fi
HS=${HS:-0}
NEG=${NEG:-5}
HSFLAG=$([ "$HS" = 1 ] && echo --hs || true)
# SUB=1: subword units (w2v-gpu --subwords, fastText -minn 3 -maxn 6; word2vec.c and gensim's
# Word2Vec have none and are skipped).
SUB=${SUB:-0}
if [ "$SUB" = 1 ]; then HSFLAG="$HSFLAG --subwords"; fi
WORDS=$(wc -w < "$CORPUS")

eval_vectors() { # name words_per_sec file
  "$PEERS/bin/python" - "$@" "$EVAL" <<'PY'
import sys, logging
from gensim.models import KeyedVectors
name, wps, path, ev = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
kv = KeyedVectors.load_word2vec_format(path, binary=path.endswith('.bin'))
acc, _ = kv.evaluate_word_analogies(f'{ev}/questions-words.txt', restrict_vocab=30000, case_insensitive=True)
ws = kv.evaluate_word_pairs(f'{ev}/wordsim353.tsv', case_insensitive=True)[1][0]
print(f'| {name} | {wps/1e3:,.0f}k | {100*acc:.2f}% | {ws:.3f} |')
PY
}

echo "| tool | words/s (training) | analogy (restrict 30k) | WS-353 Spearman |"
echo "|---|---:|---:|---:|"

now() { date +%s.%N; }
# w2v-gpu (CPU backend): corpus words over its training seconds.
J=$("$BIN" train --input "$CORPUS" --output "$OUT/w2v-gpu.bin" --model "$MODEL" --dim 100 --window 5 \
    --negative "$NEG" $HSFLAG --sample 1e-4 --min-count 5 --epochs 1 --alpha $ALPHA --threads "$THREADS" --json --quiet)
WPS=$(echo "$J" | "$PEERS/bin/python" -c "import json,sys; print($WORDS / json.load(sys.stdin)['train_seconds'])")
eval_vectors "w2v-gpu (cpu, $THREADS threads)" "$WPS" "$OUT/w2v-gpu.bin"
if [ -n "${EXTRA:-}" ]; then
  # shellcheck disable=SC2086 # EXTRA is a list of flags
  J=$("$BIN" train --input "$CORPUS" --output "$OUT/w2v-gpu-x.bin" --model "$MODEL" --dim 100 --window 5 \
      --negative "$NEG" $HSFLAG --sample 1e-4 --min-count 5 --epochs 1 --alpha $ALPHA --threads "$THREADS" --json --quiet $EXTRA)
  WPS=$(echo "$J" | "$PEERS/bin/python" -c "import json,sys; print($WORDS / json.load(sys.stdin)['train_seconds'])")
  eval_vectors "w2v-gpu (cpu, $THREADS threads) \`$EXTRA\`" "$WPS" "$OUT/w2v-gpu-x.bin"
fi

if [ "$SUB" != 1 ]; then
# word2vec.c: the vocabulary is counted and saved first, then the timed run reads it.
"$PEERS/bin/word2vec" -train "$CORPUS" -output "$OUT/w2v-c-vocab.bin" -size 1 -iter 1 -min-count 5 \
    -threads 1 -save-vocab "$OUT/w2v-c.vocab" -sample 1 -negative 1 > /dev/null 2>&1
T0=$(now)
"$PEERS/bin/word2vec" -train "$CORPUS" -read-vocab "$OUT/w2v-c.vocab" -output "$OUT/w2v-c.bin" \
    -cbow $CBOW -size 100 -window 5 -negative "$NEG" -hs "$HS" -sample 1e-4 -min-count 5 -iter 1 -alpha $ALPHA \
    -threads "$THREADS" -binary 1 > "$OUT/w2v-c.log" 2>&1
T1=$(now)
eval_vectors "word2vec.c (PyPI word2vec)" "$(echo "$WORDS / ($T1 - $T0)" | bc -l)" "$OUT/w2v-c.bin"

# gensim 4.4 with its Text8Corpus reader (10,000-word sentences; its corpus_file mode reads
# only the start of a corpus that is one 100 MB line): time model.train() only.
"$PEERS/bin/python" - "$CORPUS" "$OUT/gensim.bin" "$THREADS" "$CBOW" "$ALPHA" "$NEG" "$HS" > "$OUT/gensim.wps" <<'PY'
import sys, time
from gensim.models import Word2Vec
from gensim.models.word2vec import Text8Corpus
corpus, out, threads, cbow, alpha = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
neg, hs = int(sys.argv[6]), int(sys.argv[7])
m = Word2Vec(vector_size=100, window=5, negative=neg, hs=hs, sample=1e-4, min_count=5, epochs=1,
             alpha=alpha, min_alpha=alpha * 1e-4, sg=1 - cbow, workers=threads, seed=1)
sentences = Text8Corpus(corpus)
m.build_vocab(sentences)
t = time.time()
m.train(sentences, total_examples=m.corpus_count, total_words=m.corpus_total_words, epochs=1)
dt = time.time() - t
m.wv.save_word2vec_format(out, binary=True)
print(m.corpus_total_words / dt)
PY
eval_vectors "gensim 4.4" "$(cat "$OUT/gensim.wps")" "$OUT/gensim.bin"
fi

# fastText without subwords: wall time of the run minus the same run with -epoch 0.
if command -v fasttext >/dev/null; then
  FTM=$([ "$MODEL" = cbow ] && echo cbow || echo skipgram)
  FTLOSS=$([ "$HS" = 1 ] && [ "$NEG" = 0 ] && echo "-loss hs" || echo "-neg $NEG")
  FTSUB=$([ "$SUB" = 1 ] && echo "-minn 3 -maxn 6" || echo "-minn 0 -maxn 0")
  # shellcheck disable=SC2086 # FTLOSS is two words
  ft() { fasttext "$FTM" -input "$CORPUS" -output "$1" -dim 100 -ws 5 $FTLOSS -minCount 5 \
      -epoch "$2" -t 1e-4 -lr $ALPHA -thread "$THREADS" $FTSUB > "$1.log" 2>&1; }
  T0=$(now); ft "$OUT/ft0" 0; T1=$(now); ft "$OUT/ft" 1; T2=$(now)
  eval_vectors "fastText ($FTSUB)" "$(echo "$WORDS / (($T2 - $T1) - ($T1 - $T0))" | bc -l)" "$OUT/ft.vec"
fi
# finalfrontier without subwords, when asked for (skip-gram only).
if [ -n "${FF:-}" ] && [ "$MODEL" = skipgram ]; then
  T0=$(date +%s.%N)
  "$FF" skipgram --dims 100 --context 5 --ns 5 --discard 1e-4 --mincount 5 --epochs 1 --lr $ALPHA \
      --threads "$THREADS" --subwords none --format word2vec "$CORPUS" "$OUT/ff.bin" > "$OUT/ff.log" 2>&1
  T1=$(date +%s.%N)
  eval_vectors "finalfrontier 0.9 (--subwords none; wall incl. vocab)" "$(echo "$WORDS / ($T1 - $T0)" | bc -l)" "$OUT/ff.bin"
fi
echo
echo "corpus: $CORPUS ($WORDS words), model $MODEL, negative $NEG, hs $HS, subwords $SUB, $THREADS threads, $(date -u +%Y-%m-%d), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
rm -rf "$OUT"
