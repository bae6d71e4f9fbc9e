#!/usr/bin/env python3
"""Makes the fastText classifiers, validation text and expected values of
tests/formats.rs's `classifier_predictions_and_meters_equal_fasttexts`:

    python3 scripts/fasttext_meter_golden.py tests/data/fasttext_classifier

Needs Debian's `fasttext` (0.9.2) and fastText's Python module (`pip install
fasttext-wheel`, 0.9.2). Lines of 25 words from data/text8-4m.gz, labelled with the quarter
of the corpus they come from (so the labels are learnable, not perfectly): 3,000 train two
classifiers (`-dim 8 -bucket 0 -minCount 12 -epoch 10 -lr 0.5 -thread 1 -seed 3`, softmax
and hs), 200 others are the validation text. For each model it writes what fastText itself
computes: every validation line's probabilities (k = -1, threshold 0, fastText's
`predict`), then for k = 1, 2 and -1 fastText's meter (`getMeter`): for all labels and each
label, the precision-recall curve's length and sums, and precision at recall / recall at
precision at 5%, 10%, ..., 95%.
"""
import gzip
import os
import random
import subprocess
import sys

import fasttext


def e9(x):
    # Rust's `{:.8e}` writes e-1 where Python writes e-01.
    m, e = f"{x:.8e}".split("e")
    return f"{m}e{int(e)}"


def expected(model_path, valid, out):
    model = fasttext.load_model(model_path)
    lines = open(valid, encoding="utf-8").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    print = lambda s: out.write(s + "\n")
    for line in lines:
        p = model.f.predict(line + "\n", -1, 0.0, "strict")
        print(" ".join(f"{label}:{e9(s)}" for s, label in p))
    qs = [i / 20 for i in range(1, 20)]
    for k in (1, 2, -1):
        meter = model.f.getMeter(valid, k)
        for label in [None] + list(model.labels):
            if label is None:
                curve = meter.precisionRecallCurve()
                par = meter.precisionAtRecall
                rap = meter.recallAtPrecision
            else:
                i = model.f.getLabelId(label)
                curve = meter.precisionRecallCurveLabel(i)
                par = lambda q, i=i: meter.precisionAtRecallLabel(i, q)
                rap = lambda q, i=i: meter.recallAtPrecisionLabel(i, q)
            sp, sr = 0.0, 0.0
            for p, r in curve:
                sp += p
                sr += r
            name = label or "all"
            print(f"k={k} {name} curve {len(curve)} {sp:.12f} {sr:.12f}")
            print(f"k={k} {name} precisionAtRecall " + " ".join(f"{par(q):.12f}" for q in qs))
            print(f"k={k} {name} recallAtPrecision " + " ".join(f"{rap(q):.12f}" for q in qs))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    words = gzip.open(os.path.join(root, "data", "text8-4m.gz"), "rt").read().split()
    n = 25
    windows = [words[i : i + n] for i in range(0, len(words) - n, n)]
    order = list(range(len(windows)))
    random.Random(7).shuffle(order)
    line = lambda i: f"__label__{i * 4 // len(windows)} " + " ".join(windows[i])
    train = os.path.join(out, "train.txt")
    valid = os.path.join(out, "valid.txt")
    with open(train, "w") as f:
        f.write("\n".join(line(i) for i in order[:3000]) + "\n")
    with open(valid, "w") as f:
        f.write("\n".join(line(i) for i in order[3000:3200]) + "\n")
    for loss in ("softmax", "hs"):
        model = os.path.join(out, f"t8_{loss}")
        flags = "-dim 8 -bucket 0 -minCount 12 -epoch 10 -lr 0.5 -thread 1 -seed 3 -verbose 0"
        subprocess.run(
            ["fasttext", "supervised", "-input", train, "-output", model, "-loss", loss]
            + flags.split(),
            check=True,
        )
        os.remove(model + ".vec")
        with open(model + ".expected.txt", "w") as f:
            expected(model + ".bin", valid, f)
    os.remove(train)


if __name__ == "__main__":
    main()
