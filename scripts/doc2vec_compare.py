#!/usr/bin/env python3
"""Paragraph vectors, w2v-gpu against gensim's Doc2Vec, on held-out text.

Cuts the first WORDS words of CORPUS (a text8-like file) into documents of 1,000 words;
each document's first 800 words are its training text, its last 200 the query. Both tools
train document vectors on the training texts (the same settings: gensim's defaults, dim 100,
10 epochs, min_count 5, sample 1e-3, window 5, negative 5), then infer a vector for each
query; a query's rank is the number of trained document vectors closer to it (cosine) than
its own document's. Reported: top-1 and top-10 rates and the median rank (the same code for
both tools), training time (wall clock around training only: gensim's `train`, w2v-gpu's
own training time), the whole inference time. gensim runs twice: from a file
(`corpus_file`, its fastest multi-threaded mode) and from a list of TaggedDocuments.

    /tmp/venv/bin/python scripts/doc2vec_compare.py CORPUS [WORDS] [THREADS] [WORKDIR] [ROUNDS]

Every tool trains ROUNDS times (default 3), the tools taking turns within each round; the
table gives each one's median training time and the quality and inference time of its
first round (on a shared virtual machine one run's speed can be off by 2x).

With HS=1 in the environment both tools train by hierarchical softmax alone (gensim's
hs=1, negative=0; w2v-gpu's --hs --negative 0); with CONCAT=1 only PV-DM runs, over the
concatenated context (gensim's dm_concat=1, w2v-gpu's --dm-concat); with WORDS=1 only
PV-DBOW runs, with skip-gram on the words (gensim's dbow_words=1, w2v-gpu's --dbow-words).
MODES=list skips
gensim's corpus_file runs, MODES=none all of gensim's. BACKENDS=cpu,vulkan runs w2v-gpu on
each backend named (default cpu; a GPU backend trains and infers on its kernels).

Needs gensim 4.4 and numpy (a venv) and a release build of w2v-gpu.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
from gensim.models.doc2vec import Doc2Vec, TaggedDocument

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "w2v-gpu")
corpus = sys.argv[1]
n_words = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000_000
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
work = sys.argv[4] if len(sys.argv) > 4 else "/tmp/doc2vec_compare"
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
hs = os.environ.get("HS") == "1"
loss = dict(hs=1, negative=0) if hs else {}
loss_flags = ["--hs", "--negative", "0"] if hs else []
modes = [m for m in os.environ.get("MODES", "corpus_file,list").split(",") if m != "none"]
backends = os.environ.get("BACKENDS", "cpu").split(",")
concat = os.environ.get("CONCAT") == "1"
if concat:
    loss["dm_concat"] = 1
    loss_flags.append("--dm-concat")
dbow_words = os.environ.get("WORDS") == "1"
if dbow_words:
    loss["dbow_words"] = 1
    loss_flags.append("--dbow-words")
os.makedirs(work, exist_ok=True)
train_txt, query_txt = os.path.join(work, "train.txt"), os.path.join(work, "query.txt")

with open(corpus) as f:
    words = f.read(n_words * 12).split()[:n_words]
with open(train_txt, "w") as t, open(query_txt, "w") as q:
    for i in range(0, len(words) - 999, 1000):
        d = words[i:i + 1000]
        t.write(" ".join(d[:800]) + "\n")
        q.write(" ".join(d[800:]) + "\n")
queries = [line.split() for line in open(query_txt)]


def unit(m):
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-30)


def ranks(trained, inferred):
    s = unit(inferred) @ unit(trained).T
    own = s[np.arange(len(s)), np.arange(len(s))]
    return (s > own[:, None]).sum(axis=1)


def load_w2v_text(path):
    with open(path) as f:
        n, d = map(int, f.readline().split())
        keys, rows = [], []
        for line in f:
            t = line.rstrip().split(" ")
            keys.append(t[0])
            rows.append(np.array(t[1:], dtype=np.float32))
    order = np.argsort(np.array(keys, dtype=np.int64))
    return np.vstack(rows)[order]


results = {}


def report(tool, dm, train_s, infer_s=None, trained=None, inferred=None):
    key = (tool, "PV-DM" if dm else "PV-DBOW")
    r = results.setdefault(key, {"train": []})
    r["train"].append(train_s)
    if trained is not None:
        rk = ranks(trained, inferred)
        r.update(infer=infer_s, top1=np.mean(rk == 0), top10=np.mean(rk < 10), median=np.median(rk))
    print(key, r, flush=True)


for rnd in range(rounds):
    first = rnd == 0
    for dm in (1,) if concat else (0,) if dbow_words else (0, 1):
        for mode in modes:
            m = Doc2Vec(vector_size=100, min_count=5, epochs=10, dm=dm, workers=threads, seed=1,
                        **loss)
            if mode == "corpus_file":
                m.build_vocab(corpus_file=train_txt)
                s = time.time()
                m.train(corpus_file=train_txt, total_examples=m.corpus_count,
                        total_words=m.corpus_total_words, epochs=m.epochs)
            else:
                docs = [TaggedDocument(line.split(), [i]) for i, line in enumerate(open(train_txt))]
                m.build_vocab(docs)
                s = time.time()
                m.train(docs, total_examples=len(docs), epochs=m.epochs)
            train_s = time.time() - s
            if not first:
                report(f"gensim 4.4 ({mode})", dm, train_s)
                continue
            s = time.time()
            inferred = np.vstack([m.infer_vector(q) for q in queries])
            infer_s = time.time() - s
            trained = np.vstack([m.dv[i] for i in range(len(queries))])
            report(f"gensim 4.4 ({mode})", dm, train_s, infer_s, trained, inferred)

        kind = "dm" if dm else "dbow"
        for backend in backends:
            tool = f"w2v-gpu ({backend})"
            out = os.path.join(work, f"w_{kind}_{backend}.vec")
            model = os.path.join(work, f"w_{kind}_{backend}.d2v")
            inf = os.path.join(work, f"w_{kind}_{backend}_inf.vec")
            r = subprocess.run([BIN, "doc2vec", "--input", train_txt, "--output", out,
                                "--model", kind, "--threads", str(threads), "--save-model", model,
                                "--backend", backend, "--json"] + loss_flags,
                               check=True, capture_output=True, text=True)
            train_s = json.loads(r.stdout)["train_seconds"]
            if not first:
                report(tool, dm, train_s)
                continue
            s = time.time()
            subprocess.run([BIN, "infer", "--model", model, "--input", query_txt, "--output", inf,
                            "--threads", str(threads), "--backend", backend], check=True)
            infer_s = time.time() - s
            report(tool, dm, train_s, infer_s, load_w2v_text(out), load_w2v_text(inf))

print(f"\n{len(queries)} documents of 800 training words, queries of 200 words, {threads} threads"
      + (", hierarchical softmax" if hs else "") + (", dm_concat" if concat else "")
      + (", dbow_words" if dbow_words else "") + "\n")
print(f"| tool | model | training (median) | training, each round | inference ({len(queries):,} queries) | top-1 | top-10 | median rank |")
print("|---|---|---:|---|---:|---:|---:|---:|")
for (tool, model), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    each = ", ".join(f"{t:.1f}" for t in r["train"])
    print(f"| {tool} | {model} | {np.median(r['train']):.2f} s | {each} | {r['infer']:.2f} s | "
          f"{100 * r['top1']:.2f}% | {100 * r['top10']:.2f}% | {r['median']:.0f} |")
