#!/usr/bin/env python3
"""fastText's `supervised` and w2v-gpu's, the same command line, timed the same way.

    scripts/classifier_compare.py TRAIN TEST THREADS ROUNDS WORKDIR [FLAG VALUE ...]

Each round runs both tools on TRAIN with the flags given (fastText's names), and again with
`-epoch 0` (reading the text, building the dictionary and writing the model, no training);
the training time is the difference, wall clock. P@1 and R@1 on TEST are printed by each
tool's own `test`, and by the other tool reading the model (both read fastText's .bin).
Prints a markdown table of medians. Needs `fasttext` (Debian: apt-get install fasttext).

With QUANTIZE="FLAGS" in the environment, each tool then quantizes its last model with
`quantize -input TRAIN -output MODEL FLAGS -thread THREADS` (whole command, wall clock) and
the .ftz is tested as the .bin was.
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = os.path.join(ROOT, "target", "release", "w2v-gpu")
train, test, threads, rounds, work = sys.argv[1:6]
flags = sys.argv[6:]
os.makedirs(work, exist_ok=True)
tools = {"fastText": "fasttext", "w2v-gpu": OURS}


def run(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def p_at_1(tool, model):
    out = subprocess.run([tool, "test", model, test], check=True, capture_output=True, text=True)
    return dict(line.split("\t") for line in out.stdout.split("\n") if "\t" in line)["P@1"]


rows = []
quant = []
for name, tool in tools.items():
    out = os.path.join(work, name)
    base = [tool, "supervised", "-input", train, "-output", out, "-thread", threads, "-verbose", "0"]
    times = []
    for _ in range(int(rounds)):
        whole = run(base + flags)
        setup = run(base[:5] + [out + "_e0"] + base[6:] + flags + ["-epoch", "0"])
        times.append(whole - setup)
    other = [t for n, t in tools.items() if n != name][0]
    rows.append((name, statistics.median(times), min(times), max(times),
                 p_at_1(tool, out + ".bin"), p_at_1(other, out + ".bin")))
    if os.environ.get("QUANTIZE") is not None:
        seconds = run([tool, "quantize", "-input", train, "-output", out, "-thread", threads]
                      + os.environ["QUANTIZE"].split())
        quant.append((name, seconds, os.path.getsize(out + ".ftz"),
                      p_at_1(tool, out + ".ftz"), p_at_1(other, out + ".ftz")))

print(f"flags: {' '.join(flags) or '(defaults)'}; threads {threads}; {rounds} rounds")
print("| tool | training s (median, min–max) | P@1 (own test) | P@1 (other's test) |")
print("|---|---:|---:|---:|")
for name, med, lo, hi, p, q in rows:
    print(f"| {name} | {med:.2f} ({lo:.2f}–{hi:.2f}) | {p} | {q} |")
ratio = rows[0][1] / rows[1][1] if rows[1][1] > 0 else float("nan")
print(f"w2v-gpu / fastText speed: {ratio:.2f}×")
if quant:
    print(f"\nquantize {os.environ['QUANTIZE']}:")
    print("| tool | quantize s (whole command) | .ftz bytes | P@1 (own test) | P@1 (other's test) |")
    print("|---|---:|---:|---:|---:|")
    for name, sec, size, p, q in quant:
        print(f"| {name} | {sec:.2f} | {size} | {p} | {q} |")
