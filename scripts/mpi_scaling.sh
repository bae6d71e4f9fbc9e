#!/usr/bin/env bash
# Distributed training: words/s, quality and traffic at several rank counts, in one run, as
# the markdown table of BENCHMARKS.md ("Distributed training over MPI").
#
#   scripts/mpi_scaling.sh CORPUS [NPS] [THREADS] [EXTRA FLAGS...]
#
# NPS: rank counts, e.g. "1 2 4 8" (default "1 2 4"); THREADS: --threads per rank (default
# 1). The first row is one process without mpirun. Needs a binary built with
# `cargo build --release --features mpi` (BIN), OpenMPI's mpirun, and for the scores the venv
# of scripts/compare.sh (PEERS; without it the binary's own `eval` scores, with the EVAL
# folder's questions-words.txt and wordsim353.tsv). More ranks than cores are
# oversubscribed: their words/s is then bounded by the cores, say so when reporting.
set -euo pipefail
CORPUS=${1:?corpus file (plain text: a .gz is read whole by one rank)}
NPS=${2:-1 2 4}
THREADS=${3:-1}
shift $(( $# < 3 ? $# : 3 ))
EXTRA=("$@")
BIN=${BIN:-$(dirname "$0")/../target/release/w2v-gpu}
PEERS=${PEERS:-/tmp/peers}
EVAL=${EVAL:-$(dirname "$0")/../../shared/data/eval}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

score() {
  if [ -x "$PEERS/bin/python" ] && [ -d "$EVAL" ]; then
    "$PEERS/bin/python" - "$1" "$EVAL" <<'PY'
import sys
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=True)
ev = sys.argv[2]
acc, _ = kv.evaluate_word_analogies(f'{ev}/questions-words.txt', restrict_vocab=30000, case_insensitive=True)
ws = kv.evaluate_word_pairs(f'{ev}/wordsim353.tsv', case_insensitive=True)[1][0]
print(f'{100*acc:.2f}% | {ws:.3f}')
PY
  elif [ -d "$EVAL" ]; then
    # No gensim: this binary's eval (the same scores as gensim's: tests/eval_gensim.rs).
    "$BIN" eval --json --vectors "$1" --analogies "$EVAL/questions-words.txt" \
      --similarity "$EVAL/wordsim353.tsv" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("%.2f%% | %.3f" % (100 * d["analogies"][0]["accuracy"], d["similarity"][0]["spearman"]))'
  else
    echo "– | –"
  fi
}

row() { # label json vectors
  python3 - "$1" "$2" "$BASE_WPS" "$(score "$3")" <<'PY'
import json, sys
label, path, base, sc = sys.argv[1], sys.argv[2], float(sys.argv[3] or 0), sys.argv[4]
d = json.load(open(path))
s = d.get('sync') or {}
wps = d['words_per_second']
scale = f"{wps / base:.2f}" if base else "1"
bpw = f"{s['bytes_per_rank_word']:.1f}" if s else "–"
syncs = f"{s['syncs']} ({s['full_syncs']})" if s else "–"
frac = f"{100 * s['fraction_of_wall']:.1f}%" if s else "–"
same = (len(set(s['model_checksums'])) == 1) if s else True
print(f"| {label} | {wps/1e3:.1f}k | {scale} | {sc} | {bpw} | {syncs} | {frac} | {'yes' if same else 'NO'} |")
PY
}

echo "CPU: $(nproc) cores; $(date -u +%F); $("$BIN" --version 2>/dev/null || true); flags: --threads $THREADS --epochs 1 ${EXTRA[*]:-}"
echo
echo "| run | words/s | scaling | analogy | WS-353 | bytes per rank-word | syncs (full) | sync time / wall | ranks identical |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
BASE_WPS=""
"$BIN" train --input "$CORPUS" --output "$OUT/v1.bin" --threads "$THREADS" --epochs 1 --quiet --json "${EXTRA[@]}" > "$OUT/r1.json"
BASE_WPS=$(python3 -c "import json; print(json.load(open('$OUT/r1.json'))['words_per_second'])")
row "1 process" "$OUT/r1.json" "$OUT/v1.bin"
for np in $NPS; do
  [ "$np" = 1 ] && continue
  mpirun --oversubscribe -np "$np" "$BIN" train --input "$CORPUS" --output "$OUT/v$np.bin" \
    --threads "$THREADS" --epochs 1 --quiet --json "${EXTRA[@]}" > "$OUT/r$np.json"
  row "$np ranks" "$OUT/r$np.json" "$OUT/v$np.bin"
done
