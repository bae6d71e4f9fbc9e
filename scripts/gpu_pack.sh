#!/usr/bin/env bash
# Fills .gpu/ (git-ignored) with what scripts/gpu_table.sh needs on a GPU machine that has no
# Rust and no network: the release binary (without debug info), the enwiki corpus, the
# evaluation sets, the PyTorch baseline and the Vulkan loader package. Run it here, then run
# gpu_table.sh there with .gpu carried along (about 50 MB).
#
#   scripts/gpu_pack.sh [SHARED_DIR]    # SHARED_DIR default: ../shared beside the repository
#
# BASE="<git ref> ..." also builds those commits' binaries as .gpu/w2v-gpu-<ref> (in a scratch
# worktree under /tmp; kept in .gpu-base/ for the next pack), for gpu_table.sh's `NAME@<ref>` rows: a change measured against the
# code before it on the same machine (each binary is about 8 MB of the 64 MiB a call carries).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-../shared}
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
mkdir -p .gpu/debs
# Binaries and corpora of earlier packs would count against the device's 64 MiB carry limit.
rm -f .gpu/w2v-gpu .gpu/w2v-gpu-* .gpu/*.zip
cargo build --release
strip -o .gpu/w2v-gpu target/release/w2v-gpu
# A commit's binary never changes, so each is built once and kept in .gpu-base/ (git-ignored,
# outside what a device call carries) by its full hash.
grep -qx '/.gpu-base/' .git/info/exclude || echo '/.gpu-base/' >>.git/info/exclude
for ref in ${BASE:-}; do
  sha=$(git rev-parse --verify "$ref^{commit}")
  if [ ! -x ".gpu-base/w2v-gpu-$sha" ]; then
    WT=/tmp/w2v-gpu-base-worktree
    git worktree remove --force "$WT" 2>/dev/null || rm -rf "$WT"
    git worktree add --detach "$WT" "$sha"
    (cd "$WT" && CARGO_TARGET_DIR=/tmp/w2v-gpu-base-target cargo build --release)
    mkdir -p .gpu-base
    strip -o ".gpu-base/w2v-gpu-$sha" /tmp/w2v-gpu-base-target/release/w2v-gpu
    git worktree remove --force "$WT"
  fi
  cp ".gpu-base/w2v-gpu-$sha" ".gpu/w2v-gpu-$ref"
  echo "binary of $ref: .gpu/w2v-gpu-$ref" >&2
done
cp "$SHARED/data/enwiki2015-text8like.zip" .gpu/
cp "$SHARED/data/eval/questions-words.txt" "$SHARED/data/eval/EN-WS-353-ALL.txt" .gpu/
cp "$SHARED/peers/torch_sgns.py" .gpu/
cp scripts/gpu_table.sh scripts/vulkan_loader.sh scripts/classifier_data.py .gpu/
if ! ls .gpu/debs/libglvnd0_*.deb >/dev/null 2>&1; then
  (cd .gpu/debs && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh .gpu
if [ "$(du -sb .gpu | cut -f1)" -gt $((64 << 20)) ]; then
  echo "warning: .gpu is over the 64 MiB a device call carries" >&2
fi
