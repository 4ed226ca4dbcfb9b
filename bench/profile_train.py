#!/usr/bin/env python3
"""Where lsrconv's train step spends its time, from `perf` samples (Linux perf, DWARF unwinding).

    python3 bench/profile_train.py [--lsrbench .build/release/lsrbench] [--model out/bench/roberta-base]
                                   [--threads 2] [--iterations 3] [--frequency 199]

Runs `lsrbench --mode train` under `perf record -e cpu-clock --call-graph dwarf`, keeps the
samples of the timed steps (the last Σ all_seconds of the run's step loop: the warm-up step,
model loading and the sgemm measurement are left out), and sorts every sample of every thread
into a category by the engine frames of its stack (innermost first): Linear GEMMs forward and
backward (gemmRows: forward is sgemm_tn, the dX GEMMs sgemm_nn), attention forward/backward
(its GEMMs and softmax apart), LayerNorm, GELU, residual adds, buffer zeroing/copies, adapter
GEMMs (LowRankDelta), Kronecker factors, AdamW. Worker threads' stacks stop at the dispatch
worker, so each sample is classified by its innermost engine frame, which is enough for these
categories. Needs perf_event_paranoid ≤ 2 (user-space sampling).
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (category, substrings of a frame's symbol); the first rule matching the innermost frame that
# matches any rule wins. Order matters: specific before general.
RULES = [
    ("sgemm measurement (excluded)", ["sgemmRate"]),
    ("model loading (excluded)", ["RobertaWeights", "toFloat", "Checkpoint"]),
    ("adapter: LowRankDelta GEMMs", ["LowRankDelta"]),
    ("adapter: Kronecker factors (materialize, backward)", ["KroneckerSum"]),
    ("AdamW", ["Optimizer"]),
    ("attention forward", ["9AttentionO7forward"]),
    ("attention backward", ["9AttentionO8backward"]),
    ("LayerNorm forward", ["9LayerNormV7forward"]),
    ("LayerNorm backward", ["9LayerNormV8backward"]),
    ("GELU forward", ["10ActivationO7forward"]),
    ("GELU backward", ["10ActivationO8backward"]),
    ("residual adds", ["11ElementwiseO3add"]),
    ("embeddings", ["9EmbeddingO"]),
    ("Linear GEMMs", ["gemmRows", "6LinearV"]),
]


def categorize(frames):
    """frames: symbols, innermost first."""
    leaf = frames[0] if frames else "?"
    for frame in frames:
        for category, needles in RULES:
            if any(n in frame for n in needles):
                if category == "Linear GEMMs":
                    if any("sgemm_nn" in f for f in frames):
                        return "Linear GEMMs backward (dX = dY·W)"
                    if any("sgemm_tn" in f for f in frames):
                        return "Linear GEMMs forward (Y = X·Wᵀ)"
                    return "Linear (bias copy etc.)"
                if category.startswith("attention"):
                    part = "GEMMs" if "sgemm" in leaf else ("softmax exp" if "exp" in leaf else "softmax/other")
                    return f"{category}: {part}"
                return category
    if "memset" in leaf or "memmove" in leaf or "memcpy" in leaf or "clear_page" in leaf or "page_fault" in leaf:
        return "buffer zeroing/copies (memset, memmove, page faults)"
    if any(s in leaf for s in ("dispatch", "futex", "sched", "yield", "schedule", "spin")):
        return "thread hand-off (dispatch, futex, scheduler)"
    return "other: " + leaf[:60]


def parse(script_output: str):
    """perf script text → [(tid, time, [symbols innermost first])]."""
    samples = []
    for block in script_output.split("\n\n"):
        lines = [l for l in block.splitlines() if l.strip()]
        if not lines:
            continue
        head = lines[0].split()
        try:
            tid, t = int(head[0]), float(head[1].rstrip(":"))
        except (ValueError, IndexError):
            continue
        frames = []
        for line in lines[1:]:
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else "?")
        samples.append((tid, t, frames))
    return samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lsrbench", default=str(ROOT / ".build/release/lsrbench"))
    parser.add_argument("--model", default=str(ROOT / "out/bench/roberta-base"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--frequency", type=int, default=199)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--perf-data", help="reuse this perf.data (with --bench-json) instead of recording")
    parser.add_argument("--bench-json")
    parser.add_argument("--json-out", default=str(ROOT / "out/bench/train-profile.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lsrprofile-") as tmp:  # perf.data: ~250 MB, removed after
        profile(args, args.perf_data or os.path.join(tmp, "perf.data"))


def profile(args, data: str):
    if args.perf_data:
        result = json.loads(Path(args.bench_json).read_text())
    else:
        command = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(args.frequency), "--call-graph", "dwarf,32768", "-o", data, "--",
                   args.lsrbench, "--mode", "train", "--model", args.model, "--batch", str(args.batch), "--length", str(args.length),
                   "--threads", str(args.threads), "--iterations", str(args.iterations), "--warmup", "1"]
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            raise SystemExit("perf record failed")
        result = json.loads(out.stdout)
    script = subprocess.run(["perf", "script", "-i", data, "-F", "tid,time,ip,sym"], capture_output=True, text=True).stdout
    samples = parse(script)
    main_tid = min(tid for tid, _, _ in samples)
    # The step loop: main-thread samples inside AdapterTraining (step, computeGradients, update).
    loop = [t for tid, t, frames in samples if tid == main_tid and any("15AdapterTraining" in f for f in frames)]
    # lsrbench measures sgemm right after the steps (and AdapterTraining is freed at exit): the
    # steps end where that measurement starts.
    after = [t for tid, t, frames in samples if any("sgemmRate" in f for f in frames)]
    end = max(t for t in loop if not after or t < min(after))
    start = end - sum(result["all_seconds"])
    window = [(tid, frames) for tid, t, frames in samples if start <= t <= end]
    counts = collections.Counter(categorize(frames) for _, frames in window)
    total = sum(counts.values())
    step = result["seconds"]
    rows = [{"category": c, "samples": n, "fraction": n / total} for c, n in counts.most_common()]
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps({"bench": result, "window_seconds": end - start, "samples": total, "rows": rows}, indent=2) + "\n")
    print(f"lsrconv train step, batch {args.batch} × {args.length}, {args.threads} threads: {step:.2f} s/step (median of "
          f"{', '.join(f'{s:.2f}' for s in result['all_seconds'])}); {total} samples at {args.frequency} Hz over the timed steps "
          f"(all threads; CPU time, so shares of the {args.threads} cores' busy time)")
    print()
    print("| category | share of samples | ≈ s/step (share × step) |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['category']} | {100 * r['fraction']:.1f}% | {r['fraction'] * step:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
