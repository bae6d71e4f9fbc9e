#!/usr/bin/env bash
# The whole GPU table of BENCHMARKS.md in one call, on a machine with a GPU, no Rust and no
# network: builds nothing, reads everything from one folder made by scripts/gpu_pack.sh.
# Prints markdown (and writes it to $OUT/gpu_table.md when OUT is set).
#
#   bash .gpu/gpu_table.sh [.gpu] [ROWS]
#
# ROWS: space-separated row names to run (default: all); see `row` calls below. A name with
# `@<ref>` appended (`sg300@fcdf526`) runs that row with .gpu/w2v-gpu-<ref> instead, the
# binary `BASE="<ref> ..." scripts/gpu_pack.sh` builds from an earlier commit, so a kernel
# change is measured against the code before it on the same warm machine (call the script
# twice to alternate: `for i in 1 2; do bash .gpu/gpu_table.sh .gpu "sg300 sg300@fcdf526"; done`).
# Every row: enwiki2015-text8like, 1 epoch, window 5, negative 5, sample 1e-4, min-count 5,
# then `w2v-gpu eval` (analogy restricted to the 30k most frequent words, case-insensitive;
# WordSim-353 Spearman). Words/s is the trainer's training-only rate (vocabulary excluded),
# the same wall-clock rule for every row; the PyTorch row reports its own training wall time
# by the same rule (corpus reading and vocabulary excluded).
set -uo pipefail
DIR=$(cd "${1:-.gpu}" && pwd)
ONLY=${2:-}
# `pending`: the GPU rows no hardware GPU has measured yet and the rows they are read against:
# the default kernels against f261227 (the binary of the last hardware table: since then the
# kernels count their adds and keep four partial sums per dot product) and fcdf526 (before the
# partial sums; both read the corpus front to back, as --streams 1 does), wider workgroups,
# --streams, the tile kernel (also with noise words shared per tile), subwords, hierarchical softmax, half-precision storage,
# paragraph vectors (doc2vec), the classifier (supervised); pack
# with BASE="f261227 fcdf526".
# `goals`: one call's worth for issue 15's goals first (the lost-update check, skip-gram
# dim 100, 200 and 300 at the defaults by --dim, 1, 2 and 5 epochs against the PyTorch
# baseline at 4,096 words a step, CBOW and subwords against the CPU on the same machine, f16,
# HS, the minibatch engine, doc2vec, the classifier); then `checks`, `pending` and
# `pending-peers`.
# `ctx`: the workgroup size by --dim and skip-gram's context rows
# read from the matrix (--gpu-context-rows device), against 90b44e5's binary (pack with
# BASE=90b44e5): its 64-lane default and its 128 lanes, whose workgroups summed their
# counts in one lane.
# `v2goals`: issue 15's goal rows at the defaults by --dim, PyTorch at 4,096 words a step and
# w2v-gpu at 2 and 5 epochs (time to its quality).
# `v2slots`: one count slot per subgroup (not per lane) in the window, chunk and tile kernels,
# against 22a279c's binary (BASE=22a279c), and f16 at its 64-lane default.
# `next`: what the 2026-11-30 tables left open: context rows read from the matrix at dim 100
# against e941bec's slots, CBOW's spread between runs, and hierarchical softmax with shorter
# path blocks (--gpu-chunk 8 and 4: at dim 100 its 22-node blocks take ~27 KiB, one workgroup
# per SM of the 48 KiB an H200 gave; 8 nodes take ~16 KiB, three).
# `v2rep` (run twice) and `v2sweep`: the defaults by --dim (workgroup size, context rows in
# workgroup memory up to 4 KiB) against their neighbours.
# `checks`: the runtime checks of the shader modules, one off at a time (W2V_GPU_SHADER_CHECKS).
# `pending-peers`: the CPU rows those are read against (also in the GPU's 256-part order), the minibatch engine with its host
# builders on up to 8 cores and on one, the CPU minibatch engine on its thread pool (0.38M
# words/s on the H200's host before the pool), and the PyTorch baseline (a second call: each call has
# 10 minutes).
case "$ONLY" in
  goals)
    ONLY="lostupdates sg100 sg100e2 sg100e5 sg100cpu sg200 sg300 cb100 cb100cpu cb300 swsg100 swsg100cpu swsg300 hssg100
          sg100f16 adam100 d2vdbow clsgpu clscpu torch4k" ;;
  ctx)
    ONLY="lostupdates sg100 sg100wg64 sg100@90b44e5 sg100wg128@90b44e5 sg100dev sg100devwg64 sg100devwg256 sg100peak sg100devpeak
          sg200 sg200dev sg300 sg300@90b44e5 sg300wg256@90b44e5 sg300dev sg300devwg128 sg300devwg512 sg300devwg1024 sg300wg512 sg300peak
          sg300devpeak cb100 cb300 cb300wg512 swsg300 hssg100" ;;
  v2goals)
    ONLY="lostupdates sg100 sg100e2 sg100e5 sg100cpu sg200 sg300 cb100 cb100cpu cb300 swsg100 swsg300 hssg100 sg100f16 adam100
          d2vdbow torch4k" ;;
  v2slots)
    ONLY="lostupdates sg100 sg100peak sg300 sg300devpeak cb100 cb300 sg200 sg100f16 sg300f16 sg100@22a279c sg300@22a279c" ;;
  next)
    ONLY="sg100 sg100devwg256 cb100 cb100peak hssg100 hssg100c8 hssg100c4 hscb100 swsg300 swcb100 sg300tilewg256" ;;
  v2rep)
    ONLY="sg100 sg100devwg256 sg300 sg300devwg256 cb100 cb300" ;;
  v2sweep)
    ONLY="sg200 sg200devwg128 cb100wg256 cb100wg512 cb300wg256 cb300wg1024 swsg100 swsg300 swsg300wg256 hssg100" ;;
  checks)
    ONLY="lostupdatesnone sg100serial sg100serialnb sg100serialnl sg100serialnd sg100serialnone sg100serialpeak sg100serialnonepeak
          sg100serialnoneif2048 sg100nonepeak sg300 sg300nb sg300nl sg300none" ;;
  pending)
    ONLY="sg100 sg100seq sg100@f261227 sg100@fcdf526 sg100e5 cb100e5 sg300 sg300seq sg300@f261227 sg300@fcdf526 cb100
          cb100seq cb100winserial cb100@f261227 cb300 cb300@fcdf526 sg300wg128 sg300wg256 sg100wg128 cb300wg256 sg100s1
          sg100s16 cb100s1 cb100s16 cb100s64 sg100tile sg100tilewg128 sg100tilewg256 cb100tile
          sg100peak sg100tilepeak cb100peak sg300peak sg100tileseq cb100tileseq sg100tileif256 sg100if2048 cb100tilewg256 sg100tilec4 cb100tilec4 sg300tilewg256 cb300tilewg256 sg100tn15 sg100tn15wg256
          sg100tn15c4 sg100tn15c16 cb100tn15 cb100tn15wg256 sg300tn15wg256 sg100n15 cb100n15 swsg100 swcb100 swsg300 swadam100
          hssg100 hscb100 hssg300w10 swhssg100 sg100f16 cb100f16 sg300f16 swsg300f16
          d2vdbow d2vdm d2vdbowhs d2vdmhs d2vdmconcat clsgpu clsgpub1 clsgpul256 clsgpul1024 clsgpuns clsgpuhs clsgpuova" ;;
  pending-peers)
    ONLY="sg100cpu sg100cpus256 cb100cpu cb100cpus256 cb100cpu1 cb100cpue5 swsg100cpu adam100 adam100b1 adam100dense
          adam100cpu hssg100cpu hscb100cpu swhssg100cpu sg100cpun15 cb100cpun15 torch torch8k torch4k torch3ep d2vdbowcpu d2vdmcpu d2vdmconcatcpu
          clscpu clscpuns clscpuhs clscpuova" ;;
esac
ONLY=$(echo $ONLY)
BIN=$DIR/w2v-gpu
WORK=${WORK:-/tmp/gpu_table}
mkdir -p "$WORK"
T0=$(date +%s)
# Every row's numbers (name, model, dim, words/s, analogy, WS-353), for the goal check at the
# end; kept across calls on one machine (a later row of the same name replaces an earlier).
export RESULTS=$WORK/results.tsv
touch "$RESULTS"

# Vulkan loader and libglvnd where missing; VK_DRIVER_FILES.
source "$DIR/vulkan_loader.sh" "$DIR/debs"
echo "vulkan loader: $(ldconfig -p | grep libvulkan.so.1 | head -1); ICD: ${VK_DRIVER_FILES:-none found}" >&2
if [ -z "${CORPUS:-}" ]; then
  [ -s "$WORK/enwiki" ] || python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(z.read(z.namelist()[0]))' \
      "$DIR/enwiki2015-text8like.zip" >"$WORK/enwiki"
  CORPUS=$WORK/enwiki
fi
NCPU=$(nproc)

echo "## $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1), $(date -u +%Y-%m-%d)"
echo
"$BIN" devices 2>&1 | sed 's/^/    /'
echo

want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

gpu_mem_start() {
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$WORK/mem.log" 2>/dev/null &
    MEMPID=$!
  else
    MEMPID=
  fi
}
gpu_mem_stop() {
  if [ -n "$MEMPID" ]; then
    kill "$MEMPID" 2>/dev/null; wait "$MEMPID" 2>/dev/null
    sort -n "$WORK/mem.log" | awk 'NR==1{lo=$1} {hi=$1} END{if (NR) printf "%d MiB", hi-lo}'
  fi
}

# Rows start only while the table has run less than BUDGET_S seconds (default 500: a device
# call has 10 minutes, and a row takes up to a few tens of seconds), so a call ends with
# its table printed instead of being cut off; the rows left are listed at the end, to be
# given to the next call.
BUDGET_S=${BUDGET_S:-500}
LEFT=()
in_budget() {
  if [ $(( $(date +%s) - T0 )) -ge "$BUDGET_S" ]; then
    LEFT+=("$1")
    return 1
  fi
}

# `lostupdates`: the lost-update check (`devices --check`: every kernel, way of adding and
# dot-product sum the adapter has, against the CPU reference; ~100 cases, seconds). Its
# verdict and any failing case go above the table, the whole output to $WORK/NAME.txt (and
# $OUT/NAME.txt). `lostupdatesnone`: the same with shader modules built without runtime
# checks (W2V_GPU_SHADER_CHECKS=none), which lost 3 analogy points on an H200 for a cause
# not found: if they lose adds there, this names the kernels.
lost_update_check() {
  local name=$1 checks=$2
  want "$name" && in_budget "$name" || return 0
  W2V_GPU_SHADER_CHECKS=$checks "$BIN" devices --check --backend vulkan >"$WORK/$name.txt" 2>&1
  local rc=$?
  echo "GPU self-check \`$name\` (\`W2V_GPU_SHADER_CHECKS=$checks w2v-gpu devices --check --backend vulkan\`, exit $rc):"
  echo
  grep -E '^[a-z0-9]+ #|LOST|DIFFERENT|did not run|checks pass|error' "$WORK/$name.txt" | sed 's/^/    /'
  [ -n "${OUT:-}" ] && cp "$WORK/$name.txt" "$OUT/$name.txt"
  echo
}
lost_update_check lostupdates full
lost_update_check lostupdatesnone none

echo "| row | model | dim | engine | words/s | analogy | WS-353 | GPU busy | upload B/word | atomic adds/word | host peak RSS | GPU memory |"
echo "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"

# row NAME MODEL DIM ENGINE_LABEL -- train flags...: runs NAME with this binary and, for
# every NAME@REF that ROWS names, with the binary of REF.
row() {
  local name=$1
  want "$name" && in_budget "$name" && BIN=$DIR/w2v-gpu run_row "$@"
  local w
  for w in $ONLY; do
    [[ "$w" == "$name@"* ]] || continue
    in_budget "$w" || continue
    local bin=$DIR/w2v-gpu-${w#*@}
    if [ -x "$bin" ]; then
      BIN=$bin run_row "$w" "${@:2}"
    else
      echo "| $w | $2 | $3 | $4 | skipped: no $bin (BASE=\"${w#*@}\" scripts/gpu_pack.sh) | | | | | | | |"
    fi
  done
  return 0
}

run_row() {
  local name=$1 model=$2 dim=$3 label=$4; shift 5
  local alpha=(--alpha 0.025); [ "$model" = cbow ] && alpha=(--alpha 0.05)
  [[ " $* " == *" --alpha "* ]] && alpha=()
  local epochs=(--epochs 1); [[ " $* " == *" --epochs "* ]] && epochs=()
  local negative=(--negative 5); [[ " $* " == *" --negative "* ]] && negative=()
  local window=(--window 5); [[ " $* " == *" --window "* ]] && window=()
  gpu_mem_start
  local json
  json=$(timeout 240 "$BIN" train --input "$CORPUS" --output "$WORK/$name.bin" --model "$model" \
      --dim "$dim" "${window[@]}" "${negative[@]}" --sample 1e-4 --min-count 5 "${epochs[@]}" "${alpha[@]}" \
      --json --quiet "$@" 2>"$WORK/$name.err")
  local rc=$?
  local mem; mem=$(gpu_mem_stop)
  if [ $rc -ne 0 ]; then
    echo "| $name | $model | $dim | $label | failed (exit $rc): $(tail -c 300 "$WORK/$name.err" | tr '\n|' '  ') | | | | | | | |"
    return 0
  fi
  local ev
  ev=$("$BIN" eval --vectors "$WORK/$name.bin" --analogies "$DIR/questions-words.txt" \
      --similarity "$DIR/EN-WS-353-ALL.txt" --json 2>/dev/null)
  python3 - "$name" "$model" "$dim" "$label" "$mem" "$json" "$ev" <<'PY'
import json, sys
name, model, dim, label, mem, tj, ej = sys.argv[1:8]
t = json.loads(tj); e = json.loads(ej)
wps = t["words_per_second"]
busy = t.get("gpu_busy_fraction"); up = t.get("upload_bytes_per_word"); rss = t.get("peak_rss_bytes")
adds = t.get("atomic_adds_per_word")
label = label + (f" [{t['kernel']}]" if t.get("kernel") else "")
pps = t.get("positions_per_step")
label = label + (f" ({pps/1e3:.0f}k positions a step)" if pps else "")
peak = t.get("workgroups_in_flight_peak")
label = label + (f" (at most {peak} workgroups running at once)" if peak is not None else "")
import os
with open(os.environ["RESULTS"], "a") as r:
    r.write(f"{name}\t{model}\t{dim}\t{wps}\t{100*e['analogies'][0]['accuracy']}\t{e['similarity'][0]['spearman']}\n")
print(f"| {name} | {model} | {dim} | {label} | {wps/1e6:.2f}M | {100*e['analogies'][0]['accuracy']:.2f}% | "
      f"{e['similarity'][0]['spearman']:.3f} | {'' if busy is None else f'{100*busy:.1f}%'} | "
      f"{'' if up is None else f'{up:.2f}'} | {'' if adds is None else f'{adds:.0f}'} | "
      f"{'' if rss is None else f'{rss/2**20:.0f} MB'} | {mem} |")
PY
}

V="--backend vulkan"
C="--backend cpu --threads $NCPU"
row sg100 skipgram 100 "GPU (defaults)" -- $V
# The defaults with shader modules built without runtime checks (measuring only): +18–23% on
# the H200 when the windows ran in the sequential order, at 3 analogy points less; the
# strided order may keep the quality (BENCHMARKS.md, "Trusted shader modules").
W2V_GPU_SHADER_CHECKS=none row sg100none skipgram 100 "GPU, no runtime checks" -- $V
# The windows of a step in order (the order before --gpu-order strided, the default): on the
# kernels' CPU reference, with thousands of windows in flight, the sequential order loses
# most of its quality (BENCHMARKS.md "Window order").
row sg100seq skipgram 100 "GPU, --gpu-order sequential" -- $V --gpu-order sequential
row sg100serial skipgram 100 "GPU, --gpu-reduce serial" -- $V --gpu-reduce serial
# Shader modules without some of wgpu's runtime checks (W2V_GPU_SHADER_CHECKS, measuring
# only): built without any, this kernel lost 3 analogy points on the H200 (not on lavapipe);
# one check off at a time says which one matters, and what each costs.
W2V_GPU_SHADER_CHECKS=no-bounds row sg100serialnb skipgram 100 "GPU, --gpu-reduce serial, no bounds checks" -- $V --gpu-reduce serial
W2V_GPU_SHADER_CHECKS=no-loop-bounding row sg100serialnl skipgram 100 "GPU, --gpu-reduce serial, no loop bounding" -- $V --gpu-reduce serial
W2V_GPU_SHADER_CHECKS=no-div-checks row sg100serialnd skipgram 100 "GPU, --gpu-reduce serial, no division checks" -- $V --gpu-reduce serial
W2V_GPU_SHADER_CHECKS=none row sg100serialnone skipgram 100 "GPU, --gpu-reduce serial, no runtime checks" -- $V --gpu-reduce serial
# On lavapipe, with one workgroup in flight, modules with and without the checks train
# bit-identical vectors (13 kernel settings; an access one element past an array makes them
# differ: BENCHMARKS.md), so no access the checks clamp changes a result. What is left: the
# unchecked modules need fewer registers, so more workgroups may be resident at once, each
# reading rows the others have not yet updated. These rows count them, with and without the
# checks, and cap them in the unchecked kernel.
W2V_GPU_IN_FLIGHT_PEAK=1 row sg100serialpeak skipgram 100 "GPU, --gpu-reduce serial, workgroups counted" -- $V --gpu-reduce serial
W2V_GPU_SHADER_CHECKS=none W2V_GPU_IN_FLIGHT_PEAK=1 row sg100serialnonepeak skipgram 100 "GPU, --gpu-reduce serial, no runtime checks, workgroups counted" -- $V --gpu-reduce serial
W2V_GPU_SHADER_CHECKS=none row sg100serialnoneif2048 skipgram 100 "GPU, --gpu-reduce serial, no runtime checks, --gpu-in-flight 2048" -- $V --gpu-reduce serial --gpu-in-flight 2048
W2V_GPU_SHADER_CHECKS=none W2V_GPU_IN_FLIGHT_PEAK=1 row sg100nonepeak skipgram 100 "GPU, no runtime checks, workgroups counted" -- $V
# How many workgroups the kernels run at once (W2V_GPU_IN_FLIGHT_PEAK, measuring only: three
# more atomics per workgroup): the number the kernels' CPU reference models with --in-flight
# (skip-gram diverged there with ~7,400 windows at once; 924 tiles of 8 at dim 100 is what
# an H200's shared memory allows, computed, not measured).
W2V_GPU_IN_FLIGHT_PEAK=1 row sg100peak skipgram 100 "GPU, workgroups counted" -- $V
W2V_GPU_IN_FLIGHT_PEAK=1 row sg100tilepeak skipgram 100 "GPU, --gpu-kernel tile --gpu-chunk 8, workgroups counted" -- $V --gpu-kernel tile --gpu-chunk 8
W2V_GPU_IN_FLIGHT_PEAK=1 row cb100peak cbow 100 "GPU, workgroups counted" -- $V
W2V_GPU_IN_FLIGHT_PEAK=1 row sg300peak skipgram 300 "GPU, workgroups counted" -- $V
row sg100win skipgram 100 "GPU, --gpu-kernel window" -- $V --gpu-kernel window
row sg100chunk skipgram 100 "GPU, --gpu-kernel chunk" -- $V --gpu-kernel chunk
row sg100wincas skipgram 100 "GPU, --gpu-kernel window --gpu-atomics cas" -- $V --gpu-kernel window --gpu-atomics cas
row sg100c16 skipgram 100 "GPU, --gpu-chunk 16" -- $V --gpu-chunk 16
row sg100c64 skipgram 100 "GPU, --gpu-chunk 64" -- $V --gpu-chunk 64
row sg100c128 skipgram 100 "GPU, --gpu-chunk 128" -- $V --gpu-chunk 128
row sg100b256k skipgram 100 "GPU, --gpu-batch 262144" -- $V --gpu-batch 262144
row sg100b1m skipgram 100 "GPU, --gpu-batch 1048576" -- $V --gpu-batch 1048576
row sg100b1mc128 skipgram 100 "GPU, --gpu-batch 1048576 --gpu-chunk 128" -- $V --gpu-batch 1048576 --gpu-chunk 128
row sg100cas skipgram 100 "GPU, --gpu-atomics cas" -- $V --gpu-atomics cas
# One epoch of enwiki takes 0.4 s at 45M words/s, so the start (the first batch, clocks
# ramping up) weighs on its rate; five epochs show the sustained rate (and 5 epochs' quality).
row sg100e5 skipgram 100 "GPU (defaults), 5 epochs" -- $V --epochs 5
row sg100e2 skipgram 100 "GPU (defaults), 2 epochs" -- $V --epochs 2
row cb100e5 cbow 100 "GPU (defaults), 5 epochs" -- $V --epochs 5
row sg100cpu skipgram 100 "CPU, $NCPU threads" -- $C
# The CPU trainer in the GPU's default order (256 parts side by side; its default is one part
# per thread, word2vec.c's).
row sg100cpus256 skipgram 100 "CPU, $NCPU threads, --streams 256" -- $C --streams 256
# The corpus order: 256 parts side by side is the default (BENCHMARKS.md "Corpus order: 256
# streams"); one part (front to back) is the order before it, and the order of f261227 and
# fcdf526, which have no --streams.
row sg100s1 skipgram 100 "GPU, --streams 1" -- $V --streams 1
row sg100s16 skipgram 100 "GPU, --streams 16" -- $V --streams 16
row cb100 cbow 100 "GPU (defaults)" -- $V
row cb100seq cbow 100 "GPU, --gpu-order sequential" -- $V --gpu-order sequential
row cb100serial cbow 100 "GPU, --gpu-reduce serial" -- $V --gpu-reduce serial
row cb100win cbow 100 "GPU, --gpu-kernel window" -- $V --gpu-kernel window
# With serial sums `auto` runs the chunk kernel for CBOW, because the window kernel's CBOW
# fell to 5.2% on the H200 in the sequential order; the strided order is meant to keep its
# quality (BENCHMARKS.md "Window order"): if it does, `auto` can run the window kernel there.
row cb100winserial cbow 100 "GPU, --gpu-kernel window --gpu-reduce serial" -- $V --gpu-kernel window --gpu-reduce serial
row cb100c64 cbow 100 "GPU, --gpu-chunk 64" -- $V --gpu-chunk 64
row cb100b1m cbow 100 "GPU, --gpu-batch 1048576" -- $V --gpu-batch 1048576
row cb100cpu cbow 100 "CPU, $NCPU threads" -- $C
row cb100cpus256 cbow 100 "CPU, $NCPU threads, --streams 256" -- $C --streams 256
# The corpus read in 1, 16 and 64 parts side by side (16: as 16 CPU threads read it; the
# default is 256), and the CPU trainer with one thread (the one-part order): BENCHMARKS.md
# "GPU CBOW and the CPU's threads".
row cb100s1 cbow 100 "GPU, --streams 1" -- $V --streams 1
row cb100s16 cbow 100 "GPU, --streams 16" -- $V --streams 16
row cb100s64 cbow 100 "GPU, --streams 64" -- $V --streams 64
row cb100cpu1 cbow 100 "CPU, 1 thread" -- --backend cpu --threads 1
row cb100cpue5 cbow 100 "CPU, $NCPU threads, 5 epochs" -- $C --epochs 5
row sg300 skipgram 300 "GPU (defaults)" -- $V
row sg300seq skipgram 300 "GPU, --gpu-order sequential" -- $V --gpu-order sequential
W2V_GPU_SHADER_CHECKS=no-bounds row sg300nb skipgram 300 "GPU, no bounds checks" -- $V
W2V_GPU_SHADER_CHECKS=no-loop-bounding row sg300nl skipgram 300 "GPU, no loop bounding" -- $V
W2V_GPU_SHADER_CHECKS=none row sg300none skipgram 300 "GPU, no runtime checks" -- $V
row sg300serial skipgram 300 "GPU, --gpu-reduce serial" -- $V --gpu-reduce serial
row sg300chunk skipgram 300 "GPU, --gpu-kernel chunk" -- $V --gpu-kernel chunk
row sg300win skipgram 300 "GPU, --gpu-kernel window" -- $V --gpu-kernel window
row sg300b1m skipgram 300 "GPU, --gpu-batch 1048576" -- $V --gpu-batch 1048576
# Wider workgroups at dim 300 (a 64-lane window workgroup declares 20.5 KB of workgroup
# memory there, so a 228 KB SM holds ten of them: 640 lanes of 2,048).
row sg300wg128 skipgram 300 "GPU, --gpu-workgroup 128" -- $V --gpu-workgroup 128
row sg300wg256 skipgram 300 "GPU, --gpu-workgroup 256" -- $V --gpu-workgroup 256
# Workgroup size by dimension (2026-11-29 H200: wg 256 doubled dim 300, wg 128 +7% at dim 100).
row sg300wg512 skipgram 300 "GPU, --gpu-workgroup 512" -- $V --gpu-workgroup 512
row sg300wg1024 skipgram 300 "GPU, --gpu-workgroup 1024" -- $V --gpu-workgroup 1024
row sg100wg256 skipgram 100 "GPU, --gpu-workgroup 256" -- $V --gpu-workgroup 256
row cb100wg128 cbow 100 "GPU, --gpu-workgroup 128" -- $V --gpu-workgroup 128
row cb100wg256 cbow 100 "GPU, --gpu-workgroup 256" -- $V --gpu-workgroup 256
row cb300wg512 cbow 300 "GPU, --gpu-workgroup 512" -- $V --gpu-workgroup 512
row sg200 skipgram 200 "GPU (defaults)" -- $V
row sg200dev skipgram 200 "GPU, --gpu-context-rows device" -- $V --gpu-context-rows device
row sg100wg64 skipgram 100 "GPU, --gpu-workgroup 64" -- $V --gpu-workgroup 64
row sg100dev skipgram 100 "GPU, --gpu-context-rows device" -- $V --gpu-context-rows device
row sg100devwg64 skipgram 100 "GPU, --gpu-context-rows device --gpu-workgroup 64" -- $V --gpu-context-rows device --gpu-workgroup 64
row sg100devwg256 skipgram 100 "GPU, --gpu-context-rows device --gpu-workgroup 256" -- $V --gpu-context-rows device --gpu-workgroup 256
W2V_GPU_IN_FLIGHT_PEAK=1 row sg100devpeak skipgram 100 "GPU, --gpu-context-rows device, workgroups counted" -- $V --gpu-context-rows device
row sg300dev skipgram 300 "GPU, --gpu-context-rows device" -- $V --gpu-context-rows device
row sg200devwg128 skipgram 200 "GPU, --gpu-context-rows device --gpu-workgroup 128" -- $V --gpu-context-rows device --gpu-workgroup 128
row sg300devwg256 skipgram 300 "GPU, --gpu-context-rows device --gpu-workgroup 256" -- $V --gpu-context-rows device --gpu-workgroup 256
row cb100wg512 cbow 100 "GPU, --gpu-workgroup 512" -- $V --gpu-workgroup 512
row cb300wg1024 cbow 300 "GPU, --gpu-workgroup 1024" -- $V --gpu-workgroup 1024
row sg300devwg128 skipgram 300 "GPU, --gpu-context-rows device --gpu-workgroup 128" -- $V --gpu-context-rows device --gpu-workgroup 128
row sg300devwg512 skipgram 300 "GPU, --gpu-context-rows device --gpu-workgroup 512" -- $V --gpu-context-rows device --gpu-workgroup 512
row sg300devwg1024 skipgram 300 "GPU, --gpu-context-rows device --gpu-workgroup 1024" -- $V --gpu-context-rows device --gpu-workgroup 1024
W2V_GPU_IN_FLIGHT_PEAK=1 row sg300devpeak skipgram 300 "GPU, --gpu-context-rows device, workgroups counted" -- $V --gpu-context-rows device
row sg200wg128 skipgram 200 "GPU, --gpu-workgroup 128" -- $V --gpu-workgroup 128
row sg200wg256 skipgram 200 "GPU, --gpu-workgroup 256" -- $V --gpu-workgroup 256
row sg100wg128 skipgram 100 "GPU, --gpu-workgroup 128" -- $V --gpu-workgroup 128
row sg300cpu skipgram 300 "CPU, $NCPU threads" -- $C
row cb300 cbow 300 "GPU (defaults)" -- $V
row cb300serial cbow 300 "GPU, --gpu-reduce serial" -- $V --gpu-reduce serial
row cb300win cbow 300 "GPU, --gpu-kernel window" -- $V --gpu-kernel window
row cb300wg256 cbow 300 "GPU, --gpu-workgroup 256" -- $V --gpu-workgroup 256
# The tile kernel: a workgroup runs the windows of up to --gpu-chunk consecutive positions
# together (halved until they fit the adapter's workgroup memory: 8 at skip-gram dim 100 in
# NVIDIA's 48 KiB), each context row loaded and added to once per tile. 64 lanes for 8
# windows is few, so wider workgroups too.
row sg100tile skipgram 100 "GPU, --gpu-kernel tile" -- $V --gpu-kernel tile
row sg100tilewg128 skipgram 100 "GPU, --gpu-kernel tile --gpu-workgroup 128" -- $V --gpu-kernel tile --gpu-workgroup 128
row sg100tilewg256 skipgram 100 "GPU, --gpu-kernel tile --gpu-workgroup 256" -- $V --gpu-kernel tile --gpu-workgroup 256
row cb100tile cbow 100 "GPU, --gpu-kernel tile" -- $V --gpu-kernel tile
# Tiles in order (--gpu-order sequential): neighbouring tiles running together share context
# positions; on the kernels' CPU reference with 512 (skip-gram) and 924 (CBOW) tiles of 8 in
# flight that fell to 6.0% and 2.7% analogy where tiles 64 apart (the default) kept 13.9% and
# 9.6% (BENCHMARKS.md "The tile kernel's tiles"). An H200 holds up to 924 (computed).
row sg100tileseq skipgram 100 "GPU, --gpu-kernel tile --gpu-order sequential" -- $V --gpu-kernel tile --gpu-order sequential
row cb100tileseq cbow 100 "GPU, --gpu-kernel tile --gpu-order sequential" -- $V --gpu-kernel tile --gpu-order sequential
# --gpu-in-flight N: a step's dispatch split into dispatches of N workgroups, one after
# another, bounding the windows that compute from rows the others have not updated yet. On
# the kernels' CPU reference skip-gram diverged with 924 tiles of 8 (or 8,192 windows) in
# flight and kept its score at 512 tiles (BENCHMARKS.md "The tile kernel's tiles"); what
# the drains cost on hardware, and whether the defaults need it, is what these rows say.
row sg100tileif256 skipgram 100 "GPU, --gpu-kernel tile --gpu-in-flight 256" -- $V --gpu-kernel tile --gpu-in-flight 256
row sg100if2048 skipgram 100 "GPU, --gpu-in-flight 2048" -- $V --gpu-in-flight 2048
row cb100tilewg256 cbow 100 "GPU, --gpu-kernel tile --gpu-workgroup 256" -- $V --gpu-kernel tile --gpu-workgroup 256
# Shorter tiles: fewer windows read the same rows (lavapipe: analogy 0.4 below the window
# kernel at 8 positions), fewer adds saved (BENCHMARKS.md "The tile kernel").
row sg100tilec4 skipgram 100 "GPU, --gpu-kernel tile --gpu-chunk 4" -- $V --gpu-kernel tile --gpu-chunk 4
row cb100tilec4 cbow 100 "GPU, --gpu-kernel tile --gpu-chunk 4" -- $V --gpu-kernel tile --gpu-chunk 4
row sg300tilewg256 skipgram 300 "GPU, --gpu-kernel tile --gpu-workgroup 256" -- $V --gpu-kernel tile --gpu-workgroup 256
row cb300tilewg256 cbow 300 "GPU, --gpu-kernel tile --gpu-workgroup 256" -- $V --gpu-kernel tile --gpu-workgroup 256
# Noise words shared by the windows of a tile (--gpu-tile-noise): one load and one add per
# noise row per tile, so 15 noise words per window cost fewer adds than the default's 5
# (dim 8 on lavapipe: 20.6 adds per word against the window kernel's 52.9) and score above
# it at one epoch on the kernels' CPU reference, level at five (BENCHMARKS.md "Noise words
# shared by a tile"). Tiles of 8, as measured there (and 4, 16: 16 fits NVIDIA's 48 KiB at
# dim 100). Against them: --negative 15 per window on the GPU and the CPU.
row sg100tn15 skipgram 100 "GPU, --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15" -- $V --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15
row sg100tn15wg256 skipgram 100 "GPU, --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15 --gpu-workgroup 256" -- $V --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15 --gpu-workgroup 256
row sg100tn15c4 skipgram 100 "GPU, --gpu-kernel tile --gpu-chunk 4 --gpu-tile-noise --negative 15" -- $V --gpu-kernel tile --gpu-chunk 4 --gpu-tile-noise --negative 15
row sg100tn15c16 skipgram 100 "GPU, --gpu-kernel tile --gpu-chunk 16 --gpu-tile-noise --negative 15 --gpu-workgroup 256" -- $V --gpu-kernel tile --gpu-chunk 16 --gpu-tile-noise --negative 15 --gpu-workgroup 256
row cb100tn15 cbow 100 "GPU, --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15" -- $V --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15
row cb100tn15wg256 cbow 100 "GPU, --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15 --gpu-workgroup 256" -- $V --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15 --gpu-workgroup 256
row sg300tn15wg256 skipgram 300 "GPU, --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15 --gpu-workgroup 256" -- $V --gpu-kernel tile --gpu-chunk 8 --gpu-tile-noise --negative 15 --gpu-workgroup 256
row sg100n15 skipgram 100 "GPU, --negative 15" -- $V --negative 15
row cb100n15 cbow 100 "GPU, --negative 15" -- $V --negative 15
row sg100cpun15 skipgram 100 "CPU, $NCPU threads, --negative 15" -- $C --negative 15
row cb100cpun15 cbow 100 "CPU, $NCPU threads, --negative 15" -- $C --negative 15
row cb300cpu cbow 300 "CPU, $NCPU threads" -- $C
# Subword units (fastText's -minn 3 -maxn 6 -bucket 2000000): the subword kernel, against the
# CPU trainer with the same flags.
S="--subwords --minn 3 --maxn 6 --bucket 2000000"
row swsg100 skipgram 100 "GPU, --subwords" -- $V $S
row swsg100cpu skipgram 100 "CPU, --subwords, $NCPU threads" -- $C $S
row swcb100 cbow 100 "GPU, --subwords" -- $V $S
row swcb100cpu cbow 100 "CPU, --subwords, $NCPU threads" -- $C $S
row swsg300 skipgram 300 "GPU, --subwords" -- $V $S
row swsg100wg128 skipgram 100 "GPU, --subwords --gpu-workgroup 128" -- $V $S --gpu-workgroup 128
row swsg300wg256 skipgram 300 "GPU, --subwords --gpu-workgroup 256" -- $V $S --gpu-workgroup 256
# Hierarchical softmax alone (word2vec.c's -hs 1 -negative 0): the hierarchical-softmax
# kernel (a workgroup per window, the centre word's Huffman path in blocks in workgroup
# memory), against the CPU trainer with the same flags.
row hssg100 skipgram 100 "GPU, --hs --negative 0" -- $V --hs --negative 0
row hssg100c8 skipgram 100 "GPU, --hs --negative 0 --gpu-chunk 8" -- $V --hs --negative 0 --gpu-chunk 8
row hssg100c4 skipgram 100 "GPU, --hs --negative 0 --gpu-chunk 4" -- $V --hs --negative 0 --gpu-chunk 4
row hssg100wg128 skipgram 100 "GPU, --hs --negative 0 --gpu-workgroup 128" -- $V --hs --negative 0 --gpu-workgroup 128
row hssg100cpu skipgram 100 "CPU, --hs --negative 0, $NCPU threads" -- $C --hs --negative 0
row hscb100 cbow 100 "GPU, --hs --negative 0" -- $V --hs --negative 0
row hscb100cpu cbow 100 "CPU, --hs --negative 0, $NCPU threads" -- $C --hs --negative 0
# Skip-gram HS at dim 300, window 10: the context rows do not fit in workgroup memory beside
# a node row, so the tree kernel reads them from the matrix.
row hssg300w10 skipgram 300 "GPU, --hs --negative 0 --window 10" -- $V --hs --negative 0 --window 10
# fastText's -loss hs with subwords: the subword tree kernel (contexts' paths in turn).
row swhssg100 skipgram 100 "GPU, --subwords --hs --negative 0" -- $V $S --hs --negative 0
row swhssg100cpu skipgram 100 "CPU, --subwords --hs --negative 0, $NCPU threads" -- $C $S --hs --negative 0
# Half-precision storage (--precision f16: half the device memory, stochastic rounding on
# every add, adds by compare-and-swap): against the f32 rows above (sg100, cb100, sg300,
# swsg300).
row sg100f16 skipgram 100 "GPU, --precision f16" -- $V --precision f16
row cb100f16 cbow 100 "GPU, --precision f16" -- $V --precision f16
row sg300f16 skipgram 300 "GPU, --precision f16" -- $V --precision f16
row swsg300f16 skipgram 300 "GPU, --subwords --precision f16" -- $V $S --precision f16
# Subwords on the minibatch engine (bucket rows with Adam's state in the input records).
row swadam100 skipgram 100 "GPU, --subwords, lazy Adam lr 0.03" -- $V $S --optimizer adam --alpha 0.03
row adam100 skipgram 100 "GPU, lazy Adam lr 0.01, batch 512" -- $V --optimizer adam --alpha 0.01
# The minibatch engines' examples are built on the host, by --threads threads for a GPU engine
# (one thread built them up to f926927: about 2.3-2.9M words/s on one core of an AMD EPYC,
# `examples/minibatch_supply.rs`); one builder is the old supply.
row adam100b1 skipgram 100 "GPU, lazy Adam lr 0.01, batch 512, one builder thread" -- $V --optimizer adam --alpha 0.01 --threads 1
row adagrad100 skipgram 100 "GPU, lazy Adagrad lr 0.05, batch 512" -- $V --optimizer adagrad --alpha 0.05
# What laziness saves on the device: every row of both matrices and their Adam state updated
# every step (a framework's dense Adam), against adam100.
row adam100dense skipgram 100 "GPU, dense Adam lr 0.01, batch 512" -- $V --optimizer adam --alpha 0.01 --dense-optimizer
row adam100cpu skipgram 100 "CPU, lazy Adam lr 0.01, $NCPU threads" -- $C --optimizer adam --alpha 0.01

# The PyTorch baseline (what a user would write instead): sparse embeddings, SparseAdam.
torch_row() { # NAME LABEL torch_sgns.py flags...
  local name=$1 label=$2; shift 2
  { want "$name" && in_budget "$name"; } || return 0
  [ -f "$DIR/torch_sgns.py" ] || return 0
  if ! python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    echo "| $name | skipgram | 100 | $label | skipped: no CUDA PyTorch | | | | | | | |"
    return 0
  fi
  rm -f "$WORK/$name.bin"
  local tj ev
  tj=$(timeout 300 python3 "$DIR/torch_sgns.py" "$CORPUS" "$WORK/$name.bin" --dim 100 --window 5 \
      --negative 5 --sample 1e-4 --min-count 5 --epochs 1 "$@" 2>"$WORK/$name.err" | tail -1)
  if [ ! -f "$WORK/$name.bin" ]; then
    echo "| $name | skipgram | 100 | $label | failed: $(tail -c 300 "$WORK/$name.err" | tr '\n|' '  ') | | | | | | | |"
    return 0
  fi
  if ! ev=$("$BIN" eval --vectors "$WORK/$name.bin" --analogies "$DIR/questions-words.txt" \
      --similarity "$DIR/EN-WS-353-ALL.txt" --json 2>"$WORK/$name.everr"); then
    # Diverged training leaves non-finite vectors, which eval refuses.
    echo "| $name | skipgram | 100 | $label | eval failed: $(tail -c 200 "$WORK/$name.everr" | tr '\n|' '  ') | | | | | | | |"
    return 0
  fi
  python3 - "$name" "$label" "$tj" "$ev" <<'PY'
import json, sys
name, label = sys.argv[1:3]
t = json.loads(sys.argv[3]); e = json.loads(sys.argv[4])
import os
with open(os.environ["RESULTS"], "a") as r:
    r.write(f"{name}\tskipgram\t100\t{t['words_per_second']}\t{100*e['analogies'][0]['accuracy']}\t{e['similarity'][0]['spearman']}\n")
print(f"| {name} | skipgram | 100 | {label} | {t['words_per_second']/1e6:.2f}M | "
      f"{100*e['analogies'][0]['accuracy']:.2f}% | {e['similarity'][0]['spearman']:.3f} | | | | | |")
PY
}
# torch_sgns.py's quality does not depend on the device (on 2 CPU cores, BENCHMARKS.md "The
# PyTorch baseline's quality"): at its defaults (65,536 words per step) 1.3% analogy, at
# 8,192 words per step 9.6% / 0.498, at 4,096 11.8% / 0.542 (the row to read the 20× goal
# against); its SGD mode diverges (non-finite vectors) at 8,192 and 65,536 words per step.
torch_row torch "PyTorch, SparseAdam lr 0.01, 65536 words per step (torch_sgns.py defaults)"
torch_row torch8k "PyTorch, SparseAdam lr 0.01, 8192 words per step" --batch-words 8192
torch_row torch4k "PyTorch, SparseAdam lr 0.01, 4096 words per step" --batch-words 4096
torch_row torch3ep "PyTorch, SparseAdam lr 0.01, 65536 words per step, 3 epochs" --epochs 3

# Paragraph vectors (doc2vec) on held-out text, as scripts/doc2vec_compare.py cuts it: the
# corpus's first 5M words in documents of 1,000 words, each one's first 800 trained (gensim's
# defaults: dim 100, 10 epochs, window 5, negative 5, sample 1e-3, min-count 5), its last
# 200 the query whose inferred vector (on the row's backend: the GPU's rows infer on it) must
# find its own document among the trained ones: top-1 and top-10 rates. Words/s is the
# trainer's training-only rate; inference the whole `infer` command's wall clock.
doc_row() { # NAME MODEL LABEL BACKEND doc2vec flags... (BACKEND trains and infers)
  local name=$1 model=$2 label=$3 backend=$4; shift 4
  { want "$name" && in_budget "$name"; } || return 0
  if [ ! -s "$WORK/d2v_train.txt" ]; then
    python3 - "$CORPUS" "$WORK/d2v_train.txt" "$WORK/d2v_query.txt" <<'PY'
import sys
words = open(sys.argv[1]).read(60_000_000).split()[:5_000_000]
with open(sys.argv[2], "w") as t, open(sys.argv[3], "w") as q:
    for i in range(0, len(words) - 999, 1000):
        t.write(" ".join(words[i:i + 800]) + "\n")
        q.write(" ".join(words[i + 800:i + 1000]) + "\n")
PY
  fi
  local json
  if ! json=$(timeout 240 "$BIN" doc2vec --input "$WORK/d2v_train.txt" --output "$WORK/$name.vec" \
      --model "$model" --save-model "$WORK/$name.d2v" --json --quiet --backend "$backend" "$@" \
      2>"$WORK/$name.err"); then
    echo "| $name | $model | $label | failed: $(tail -c 300 "$WORK/$name.err" | tr '\n|' '  ') | | | |"
    return 0
  fi
  local t0 t1; t0=$(date +%s.%N)
  "$BIN" infer --model "$WORK/$name.d2v" --input "$WORK/d2v_query.txt" --similar 10 \
      --backend "$backend" >"$WORK/$name.sim"
  t1=$(date +%s.%N)
  python3 - "$name" "$model" "$label" "$json" "$WORK/$name.sim" "$t0" "$t1" <<'PY'
import json, sys
name, model, label, tj, sim, t0, t1 = sys.argv[1:8]
infer_s = float(t1) - float(t0)
t = json.loads(tj)
hits, q = {}, None
for line in open(sim):
    if line.rstrip().endswith(":"):
        q = line.strip()[:-1]; hits[q] = []
    else:
        hits[q].append(line.split()[1])
top1 = sum(h[:1] == [q] for q, h in hits.items()) / len(hits)
top10 = sum(q in h for q, h in hits.items()) / len(hits)
print(f"| {name} | {model} | {label} [{t['engine']}] | {t['words_per_second']/1e6:.2f}M | "
      f"{infer_s:.2f} s | {100*top1:.1f}% | {100*top10:.1f}% |")
PY
}
if [ -n "$(for r in d2vdbow d2vdbowcpu d2vdm d2vdmcpu d2vdbowhs d2vdmhs d2vdmconcat d2vdmconcatcpu; do want $r && echo $r; done)" ]; then
  echo
  echo "| row | model | engine | training words/s | inference (5,000 queries, whole command) | top-1 | top-10 |"
  echo "|---|---|---|---:|---:|---:|---:|"
fi
doc_row d2vdbow dbow "GPU" vulkan
doc_row d2vdbowcpu dbow "CPU, $NCPU threads" cpu --threads $NCPU
doc_row d2vdm dm "GPU" vulkan
doc_row d2vdmcpu dm "CPU, $NCPU threads" cpu --threads $NCPU
doc_row d2vdbowhs dbow "GPU, --hs --negative 0" vulkan --hs --negative 0
doc_row d2vdmhs dm "GPU, --hs --negative 0" vulkan --hs --negative 0
# PV-DM over the concatenated window (its own kernel, for training and inference).
doc_row d2vdmconcat dm "GPU, --dm-concat" vulkan --dm-concat
doc_row d2vdmconcatcpu dm "CPU, --dm-concat, $NCPU threads" cpu --dm-concat --threads $NCPU

# fastText's supervised classifier (BENCHMARKS.md "The classifier on the GPU"): the enwiki
# topic texts of scripts/classifier_data.py (16,747 training documents of 200 words, 18
# labels, 1,861 test documents), `-epoch 25 -lr 0.5 -wordNgrams 2 -bucket 2000000`; words/s
# is the tokens of all epochs over the training seconds the run reports (text reading and
# dictionary excluded), P@1 from `w2v-gpu test` on the test documents.
cls_row() { # NAME LABEL supervised flags...
  local name=$1 label=$2; shift 2
  { want "$name" && in_budget "$name"; } || return 0
  if [ ! -s "$WORK/cls/wiki_train.txt" ]; then
    python3 "$DIR/classifier_data.py" "$CORPUS" - "$WORK/cls" >/dev/null
  fi
  if ! timeout 240 "$BIN" supervised -input "$WORK/cls/wiki_train.txt" -output "$WORK/$name" \
      -epoch 25 -lr 0.5 -wordNgrams 2 -bucket 2000000 "$@" 2>"$WORK/$name.err"; then
    echo "| $name | $label | failed: $(tail -c 300 "$WORK/$name.err" | tr '\n|' '  ') | | |"
    return 0
  fi
  local p
  p=$("$BIN" test "$WORK/$name.bin" "$WORK/cls/wiki_test.txt" | awk '/^P@1/{print $2}')
  python3 - "$name" "$label" "$p" "$WORK/$name.err" <<'PY'
import re, sys
name, label, p, err = sys.argv[1:5]
m = re.search(r"epochs on (.*) in ([0-9.]+) s \(([0-9]+) words/sec", open(err).read())
engine, secs, rate = (m.group(1), float(m.group(2)), float(m.group(3))) if m else ("?", 0.0, 0.0)
if "/thread" in open(err).read():
    threads = int(engine.split()[0]); rate *= threads
print(f"| {name} | {label} [{engine}] | {secs:.2f} s | {rate/1e6:.2f}M | {p} |")
PY
}
if [ -n "$(for r in clsgpu clsgpub1 clsgpul256 clsgpul1024 clsgpuns clsgpuhs clsgpuova clscpu clscpuns clscpuhs clscpuova; do want $r && echo $r; done)" ]; then
  echo
  echo "| row | engine | training | tokens/s | P@1 |"
  echo "|---|---|---:|---:|---:|"
fi
cls_row clsgpu "GPU, softmax (defaults: -gpuLines 64 -gpuLabelBlock 16)" -backend vulkan
cls_row clsgpub1 "GPU, softmax, -gpuLabelBlock 1" -backend vulkan -gpuLabelBlock 1
# Larger steps (more lines side by side) with the input rows' step sums capped (without the
# cap one-vs-all diverged at 167 lines on lavapipe).
cls_row clsgpul256 "GPU, softmax, -gpuLines 256 -gpuRowCap 16" -backend vulkan -gpuLines 256 -gpuRowCap 16
cls_row clsgpul1024 "GPU, softmax, -gpuLines 1024 -gpuLabelBlock 64 -gpuRowCap 16" -backend vulkan -gpuLines 1024 -gpuLabelBlock 64 -gpuRowCap 16
cls_row clsgpuns "GPU, -loss ns" -backend vulkan -loss ns
cls_row clsgpuhs "GPU, -loss hs" -backend vulkan -loss hs
cls_row clsgpuova "GPU, -loss ova" -backend vulkan -loss ova
cls_row clscpu "CPU, softmax, $NCPU threads" -thread $NCPU
cls_row clscpuns "CPU, -loss ns, $NCPU threads" -thread $NCPU -loss ns
cls_row clscpuhs "CPU, -loss hs, $NCPU threads" -thread $NCPU -loss hs
cls_row clscpuova "CPU, -loss ova, $NCPU threads" -thread $NCPU -loss ova

# The open goals (issue 15), read from the rows this machine has run so far (this call and
# earlier calls on the same machine); a goal whose rows have not run is not listed.
python3 - "$RESULTS" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    n, model, dim, wps, an, ws = line.rstrip("\n").split("\t")
    rows[n] = (model, int(dim), float(wps), float(an), float(ws))
out = []
def r(n): return f"{n} {rows[n][2]/1e6:.2f}M words/s, {rows[n][3]:.2f}% / {rows[n][4]:.3f}"
def verdict(ok): return "**met**" if ok else "**not met**"
if "sg100" in rows:
    w = rows["sg100"][2]
    out.append(f"- skip-gram dim 100 ≥ 50M words/s (moonshot 100M): {r('sg100')}: {verdict(w >= 50e6)}")
    if "sg100none" in rows:
        out.append(f"  - without the shader runtime checks (not the default): {r('sg100none')}")
# Dim 300: the fastest skip-gram row of the default storage and checks.
d300 = [n for n, v in rows.items() if v[0] == "skipgram" and v[1] == 300 and "@" not in n
        and n.startswith("sg300") and not n.endswith(("nb", "nl", "nd", "none", "f16", "cpu"))]
if d300:
    b = max(d300, key=lambda n: rows[n][2])
    out.append(f"- skip-gram dim 300 ≥ 20M words/s: fastest {r(b)}: {verdict(rows[b][2] >= 20e6)}")
if "sg100" in rows and "cb100" in rows:
    out.append(f"- CBOW ≥ skip-gram's rate (dim 100): {r('cb100')} against {rows['sg100'][2]/1e6:.2f}M: "
               f"{verdict(rows['cb100'][2] >= rows['sg100'][2])}")
for gpu, cpus in [("sg100", ["sg100cpu", "sg100cpus256"]), ("cb100", ["cb100cpu", "cb100cpus256"]),
                  ("swsg100", ["swsg100cpu"]), ("hssg100", ["hssg100cpu"]), ("sg100e5", ["sg100cpue5"]),
                  ("cb100e5", ["cb100cpue5"])]:
    for cpu in cpus:
        if gpu in rows and cpu in rows:
            da = rows[gpu][3] - rows[cpu][3]; dw = rows[gpu][4] - rows[cpu][4]
            out.append(f"- {gpu} quality against {cpu} (analogy within 0.5 points, WS-353 within 0.01): "
                       f"{da:+.2f} points, {dw:+.3f}: {verdict(da >= -0.5 and dw >= -0.01)}")
# PyTorch: w2v-gpu's words/s over the baseline's (one epoch each), and, for the w2v-gpu runs
# at least as good on both scores (1, 2 or 5 epochs), the baseline's training time over
# theirs: the goal is met where a run at equal or better quality is 20× faster both ways.
EPOCHS = {"sg100": 1, "sg100e2": 2, "sg100e5": 5}
for t in ["torch4k", "torch8k", "torch"]:
    if "sg100" in rows and t in rows:
        x = rows["sg100"][2] / rows[t][2]
        better = rows["sg100"][3] >= rows[t][3] and rows["sg100"][4] >= rows[t][4]
        out.append(f"- PyTorch, one epoch each: sg100 / {t} = {x:.1f}× the words/s "
                   f"({r(t)}; quality {'equal or better' if better else 'lower'})")
        good = [n for n in EPOCHS if n in rows and rows[n][3] >= rows[t][3] and rows[n][4] >= rows[t][4]]
        if good:
            # Training time per corpus pass is words / (words/s); the baseline ran one pass.
            speed = {n: rows[n][2] / rows[t][2] / EPOCHS[n] for n in good}
            b = max(good, key=lambda n: speed[n])
            ws = rows[b][2] / rows[t][2]
            out.append(f"- ≥ 20× PyTorch at equal or better quality: {r(b)} ({EPOCHS[b]} epoch(s)) against {t}: "
                       f"{ws:.1f}× the words/s, {speed[b]:.1f}× less training time: {verdict(ws >= 20 and speed[b] >= 20)}")
        else:
            out.append(f"- ≥ 20× PyTorch at equal or better quality: no w2v-gpu row at {t}'s quality: **not met**")
        break
for new, old in [("sg100", "sg100seq"), ("cb100", "cb100seq"), ("sg300", "sg300seq"),
                 ("sg100tile", "sg100tileseq"), ("cb100tile", "cb100tileseq")]:
    if new in rows and old in rows:
        out.append(f"- --gpu-order strided ({new}) against sequential ({old}): "
                   f"{rows[new][2]/rows[old][2]:.2f}× the words/s, {rows[new][3]-rows[old][3]:+.2f} points, "
                   f"{rows[new][4]-rows[old][4]:+.3f}")
for cap, whole in [("sg100tileif256", "sg100tile"), ("sg100if2048", "sg100")]:
    if cap in rows and whole in rows:
        out.append(f"- --gpu-in-flight ({cap}) against one dispatch a step ({whole}): "
                   f"{rows[cap][2]/rows[whole][2]:.2f}× the words/s, {rows[cap][3]-rows[whole][3]:+.2f} points, "
                   f"{rows[cap][4]-rows[whole][4]:+.3f}")
for f16, f32 in [("sg100f16", "sg100"), ("sg300f16", "sg300"), ("cb100f16", "cb100")]:
    if f16 in rows and f32 in rows:
        da = rows[f16][3] - rows[f32][3]; dw = rows[f16][4] - rows[f32][4]
        out.append(f"- --precision f16 against f32 ({f32}): {rows[f16][2]/rows[f32][2]:.2f}× the words/s, "
                   f"{da:+.2f} points, {dw:+.3f}")
if out:
    print("\n### Goals, from the rows run on this machine\n")
    print("\n".join(out))
PY

echo
echo "corpus: $(basename "$CORPUS") ($(wc -w <"$CORPUS") words), $(nproc) CPU cores, table took $(( $(date +%s) - T0 )) s"
if [ ${#LEFT[@]} -gt 0 ]; then
  echo
  echo "Not run (past BUDGET_S=$BUDGET_S s; run them in the next call): ${LEFT[*]}"
fi
