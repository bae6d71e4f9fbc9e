#!/usr/bin/env python3
"""Loads a w2v-gpu subword model (--fasttext-bin) with gensim's load_facebook_model and
compares gensim's vectors with w2v-gpu's for an in-vocabulary and an unseen word.

    python3 scripts/check_fasttext_bin.py MODEL.bin VECTORS.txt W2V_GPU_BINARY WORD UNSEEN

VECTORS.txt is the text vectors file of the same run; the unseen word's w2v-gpu vector is
taken from `w2v-gpu vector --vectors MODEL.bin UNSEEN`. Exits non-zero when a vector differs
by more than 1e-6 (max absolute difference).
"""
import subprocess
import sys

import numpy as np
from gensim.models.fasttext import load_facebook_model

model_bin, vectors_txt, binary, word, unseen = sys.argv[1:6]
m = load_facebook_model(model_bin)
ours = {}
with open(vectors_txt, encoding="utf-8") as f:
    next(f)
    for line in f:
        parts = line.rstrip("\n").split(" ")
        ours[parts[0]] = np.array([float(x) for x in parts[1:] if x], dtype=np.float32)
out = subprocess.run([binary, "vector", "--vectors", model_bin, unseen],
                     check=True, capture_output=True, text=True).stdout.split()
unseen_ours = np.array([float(x) for x in out[1:]], dtype=np.float32)
worst = 0.0
for w, v in [(word, ours[word]), (unseen, unseen_ours)]:
    g = m.wv[w]
    d = float(np.max(np.abs(g - v)))
    worst = max(worst, d)
    print(f"{w!r}: in gensim's vocabulary {w in m.wv.key_to_index}, max |gensim - w2v-gpu| = {d:.2e}")
sys.exit(0 if worst <= 1e-6 else 1)
