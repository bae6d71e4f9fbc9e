#!/usr/bin/env python3
"""The two labelled texts of BENCHMARKS.md "Text classification", in fastText's format.

    scripts/classifier_data.py ENWIKI AG_NEWS_TEST_CSV OUTDIR

ENWIKI: ../shared/data/enwiki2015-text8like (unzipped). Cut into 200-word documents, each
labelled by the most frequent of 18 topic words when it occurs at least twice and no other
topic word as often; the topic words are then removed from the text (the classifier must
infer the topic from the rest). 18,608 documents, shuffled (seed 1), 90% train / 10% test:
OUTDIR/wiki_train.txt, OUTDIR/wiki_test.txt.

AG_NEWS_TEST_CSV (`-`: none, the enwiki texts only): AG News' test.csv (7,600 rows `class,title,description`; GitHub
madhubandru/Text-Classification-on-News-Articles-using-BERT-Framework, ag_news_csv/test.csv,
whose train.csv is not stored), lower-cased, punctuation split off as fastText's
classification example does, shuffled (seed 0), 6,000 train / 1,600 test:
OUTDIR/ag_train.txt, OUTDIR/ag_test.txt.
"""
import collections
import csv
import os
import random
import re
import sys

enwiki, ag_csv, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)

words = open(enwiki).read().split()
topics = ["music", "film", "war", "church", "football", "species", "computer", "river",
          "election", "album", "king", "university", "disease", "novel", "army", "game",
          "island", "language"]
T = set(topics)
docs = []
for i in range(0, len(words) - 200, 200):
    d = words[i:i + 200]
    c = collections.Counter(w for w in d if w in T)
    if not c:
        continue
    (w1, n1), *rest = c.most_common(2)
    if n1 < 2 or (rest and rest[0][1] == n1):
        continue
    docs.append(f"__label__{w1} " + " ".join(w for w in d if w not in T))
random.seed(1)
random.shuffle(docs)
cut = int(len(docs) * 0.9)
open(os.path.join(out, "wiki_train.txt"), "w").write("\n".join(docs[:cut]) + "\n")
open(os.path.join(out, "wiki_test.txt"), "w").write("\n".join(docs[cut:]) + "\n")


def norm(t):
    t = t.replace("\\", " ").lower()
    t = re.sub(r"([.!?,'/()\"])", r" \1 ", t)
    return " ".join(t.split())


if ag_csv == "-":
    print(f"{len(docs)} enwiki documents")
    sys.exit(0)
rows = list(csv.reader(open(ag_csv)))[1:]
random.seed(0)
random.shuffle(rows)
lines = [f"__label__{r[0]} {norm(r[1] + ' ' + r[2])}" for r in rows]
open(os.path.join(out, "ag_train.txt"), "w").write("\n".join(lines[:6000]) + "\n")
open(os.path.join(out, "ag_test.txt"), "w").write("\n".join(lines[6000:]) + "\n")
print(f"{len(docs)} enwiki documents, {len(rows)} AG News rows")
