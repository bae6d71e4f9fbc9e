#!/usr/bin/env bash
# Fills .mpi/ (git-ignored) with what scripts/mpi_device.sh needs to measure distributed
# training on a machine that has neither Rust, OpenMPI nor a network (e.g. a lent 16-core GPU
# machine): the release binary built with `--features mpi` (without debug info), OpenMPI's
# runtime packages (installed there under /tmp, not over the system), the enwiki corpus, the
# evaluation sets, the scaling script and the Vulkan loader for GPU ranks. About 45 MB;
# carry .mpi alone in that call:
#   bash .mpi/mpi_device.sh .mpi "1 2 4 8 16" "1 4"   (GPU=1 for GPU ranks too)
#
#   scripts/mpi_pack.sh [SHARED_DIR]    # SHARED_DIR default: ../shared beside the repository
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-../shared}
grep -qx '/.mpi/' .git/info/exclude 2>/dev/null || echo '/.mpi/' >>.git/info/exclude
mkdir -p .mpi/debs
cargo build --release --features mpi
strip -o .mpi/w2v-gpu target/release/w2v-gpu
cp "$SHARED/data/enwiki2015-text8like.zip" .mpi/
cp "$SHARED/data/eval/questions-words.txt" "$SHARED/data/eval/wordsim353.tsv" .mpi/
cp scripts/mpi_scaling.sh scripts/mpi_device.sh scripts/vulkan_loader.sh .mpi/
# OpenMPI 4.1's runtime closure: the libraries the binary and mpirun load, PMIx (mpirun's
# launch protocol) and the shared-memory and TCP transports.
(cd .mpi/debs && apt-get download libopenmpi3 openmpi-bin openmpi-common libpmix2 libmunge2 \
  libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7)
# The Vulkan loader and libglvnd, for GPU ranks (as scripts/gpu_pack.sh).
mkdir -p .mpi/gldebs
(cd .mpi/gldebs && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
du -sh .mpi
