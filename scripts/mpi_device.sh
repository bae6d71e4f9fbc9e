#!/usr/bin/env bash
# On a machine without OpenMPI (after scripts/mpi_pack.sh here): unpacks OpenMPI's runtime
# packages under /tmp/ompi (relocated with OPAL_PREFIX, the system untouched), then runs
# scripts/mpi_scaling.sh on the enwiki corpus for each thread count, printing the markdown
# tables of BENCHMARKS.md ("Distributed training over MPI"). Scores come from `w2v-gpu eval`
# (the same numbers as gensim's).
#
#   bash .mpi/mpi_device.sh .mpi ["1 2 4 8"] ["1 4"]    # DIR, rank counts, threads per rank
#
# FORCE_OMPI=1 uses the packed OpenMPI even where one is installed (to test the pack);
# GPU=1 adds one process and 2 ranks on the machine's GPU (--backend vulkan).
set -euo pipefail
DIR=$(cd "${1:-.mpi}" && pwd)
NPS=${2:-1 2 4 8}
THREADS=${3:-1}
ROOT=/tmp/ompi
if [ -n "${FORCE_OMPI:-}" ] || ! command -v mpirun >/dev/null 2>&1; then
  mkdir -p "$ROOT"
  for f in "$DIR"/debs/*.deb; do dpkg-deb -x "$f" "$ROOT"; done
  LIB=$ROOT/usr/lib/x86_64-linux-gnu
  export OPAL_PREFIX=$ROOT/usr
  export PMIX_INSTALL_PREFIX=$ROOT/usr
  export PATH=$ROOT/usr/bin:$PATH
  export LD_LIBRARY_PATH=$LIB:$LIB/openmpi/lib:$LIB/pmix2/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # PMIx's own plugins live beside its library, not under OpenMPI's prefix.
  export PMIX_MCA_mca_base_component_path=$LIB/pmix2/lib/pmix
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Shared memory without cross-memory attach (containers often forbid it).
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# CORPUS: another plain-text corpus instead of the packed enwiki one.
if [ -z "${CORPUS:-}" ]; then
  CORPUS=/tmp/enwiki2015-text8like
  [ -s "$CORPUS" ] || python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], "wb").write(z.read(z.namelist()[0]))' \
    "$DIR/enwiki2015-text8like.zip" "$CORPUS"
fi
mpirun --version | head -1
for t in $THREADS; do
  BIN=$DIR/w2v-gpu EVAL=$DIR bash "$DIR/mpi_scaling.sh" "$CORPUS" "$NPS" "$t"
  echo
done
# GPU ranks (GPU=1): one process and 2 ranks sharing the machine's GPU, with the Vulkan
# loader installed as for scripts/gpu_table.sh.
if [ -n "${GPU:-}" ]; then
  source "$DIR/vulkan_loader.sh" "$DIR/gldebs"
  BIN=$DIR/w2v-gpu EVAL=$DIR bash "$DIR/mpi_scaling.sh" "$CORPUS" "1 2" 1 --backend vulkan
fi
