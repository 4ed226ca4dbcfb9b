#!/usr/bin/env python3
"""Side-by-side benchmarks, lsrconv (bench/lsrbench) against PyTorch in one run: the forward pass
and the LSR train step.

    make bench                 (or: .venv-gen/bin/python bench/run.py --lsrbench .build/release/lsrbench)
    make bench BENCH=train     (one of them: BENCH=forward, train or data-parallel; --bench on run.py)

A roberta-base-sized RobertaForSequenceClassification (12 layers, hidden 768, 12 heads,
intermediate 3072, vocab 50265, 2 labels) with random weights (seed 0) is written once by
transformers' save_pretrained under out/bench/roberta-base. Both engines then run the same
forward pass (eval mode, float32, every token real, no padding) at batch 1 × 128 and 16 × 128
tokens with the same number of threads; each time is the median of several runs after a
warm-up, and the engines alternate over several rounds (the median round is reported, every
round's ratio beside it). The table gives tokens/s, lsrconv/PyTorch, and the fraction of the sgemm bound:
(FLOPs of the pass) / (sgemm GFLOP/s measured by lsrbench) over the measured time.
Results are also written to out/bench/forward.json.

The train-step benchmark (issue 6; `--bench train`, `make bench BENCH=train`): the same model,
an LSR adapter r = 4 (2×2), s = 16, α = 8, 768 = 32·24 on query and value of every layer, the
classification head trained, AdamW, dropout off, batch 16 × 128, same threads. lsrconv
(lsrbench --mode train: AdapterTraining.step) and PyTorch (bench/torch_train.py: transformers
with the reference LSR module) each run in their own process, so that each reports its own
peak RSS (VmHWM of /proc/self/status, read by the process itself at its end), alternating over
several rounds (which one goes first alternates too). The table gives every round and the
median of each column: seconds per step, tokens/s, their ratio, peak RSS and its ratio, and the
fraction of the sgemm bound (train-step FLOPs, counted in bench/lsrbench/Train.swift
trainFlops, over the sgemm GFLOP/s lsrbench measured in the same round), and, to read the rest
on a shared machine, each engine's CPU seconds per step (all threads; PyTorch's include
OpenMP's spin-waiting), the same bound in CPU time (FLOPs over the GFLOP per CPU-second of the
row-split sgemm, i.e. one core's rate, against the step's CPU seconds), and the 1-minute load
average when each engine started. Results in
out/bench/train.json.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_model(path: Path):
    import torch
    from transformers import RobertaConfig, RobertaForSequenceClassification

    if (path / "model.safetensors").exists():
        return
    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, num_labels=2)
    model = RobertaForSequenceClassification(config).eval()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)


class TorchForward:
    """transformers' model loaded once; times the forward pass at a batch shape."""

    def __init__(self, path: Path, threads: int):
        import torch
        from transformers import RobertaForSequenceClassification

        torch.set_num_threads(threads)
        self.torch = torch
        self.model = RobertaForSequenceClassification.from_pretrained(path, dtype=torch.float32).eval()

    def __call__(self, batch: int, length: int, iterations: int):
        torch, model = self.torch, self.model
        g = torch.Generator().manual_seed(42)
        ids = torch.randint(3, model.config.vocab_size, (batch, length), generator=g)
        ids[:, 0] = model.config.bos_token_id
        ids[:, -1] = model.config.eos_token_id
        mask = torch.ones_like(ids)
        times = []
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)  # warm-up
            for _ in range(iterations):
                start = time.perf_counter()
                model(input_ids=ids, attention_mask=mask)
                times.append(time.perf_counter() - start)
        times.sort()
        return {"engine": "pytorch", "seconds": times[len(times) // 2], "all_seconds": times,
                "attention": model.config._attn_implementation}


def lsrconv_forward(binary: str, path: Path, batch: int, length: int, threads: int, iterations: int):
    out = subprocess.run([binary, "--model", str(path), "--batch", str(batch), "--length", str(length),
                          "--threads", str(threads), "--iterations", str(iterations), "--warmup", "1"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def run_json(command):
    """Runs one engine's benchmark process; its stdout is one JSON document."""
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"error: {' '.join(command)} exited with {out.returncode}")
    return json.loads(out.stdout)


def train_benchmark(args, model_dir: Path):
    """lsrconv and PyTorch train steps, alternating, each engine in a process of its own."""
    import torch
    import transformers

    common = ["--model", str(model_dir), "--batch", str(args.train_batch), "--length", str(args.length),
              "--threads", str(args.threads), "--iterations", str(args.train_iterations), "--warmup", "1"]
    lsrconv = [args.lsrbench, "--mode", "train"] + common
    pytorch = [sys.executable, str(ROOT / "bench/torch_train.py")] + common
    rounds = []
    for i in range(args.train_rounds):
        order = [("lsrconv", lsrconv), ("pytorch", pytorch)]
        if i % 2:
            order.reverse()
        results, load = {}, {}
        for name, command in order:
            load[name] = os.getloadavg()[0]
            results[name] = run_json(command)
            r = results[name]
            print(f"train round {i + 1}/{args.train_rounds}: {name} {r['seconds']:.2f} s/step "
                  f"({', '.join(f'{x:.2f}' for x in r['all_seconds'])}), peak RSS {r['peak_rss_kib'] / 1024:.0f} MiB",
                  file=sys.stderr, flush=True)
        ours, theirs = results["lsrconv"], results["pytorch"]
        tokens = args.train_batch * args.length
        rounds.append({
            "round": i + 1, "first": order[0][0],
            "lsrconv_seconds": ours["seconds"], "pytorch_seconds": theirs["seconds"],
            "lsrconv_all_seconds": ours["all_seconds"], "pytorch_all_seconds": theirs["all_seconds"],
            "lsrconv_cpu_seconds": ours["cpu_seconds"], "pytorch_cpu_seconds": theirs["cpu_seconds"],
            "lsrconv_load_average": load["lsrconv"], "pytorch_load_average": load["pytorch"],
            "lsrconv_tokens_per_second": tokens / ours["seconds"], "pytorch_tokens_per_second": tokens / theirs["seconds"],
            "ratio": theirs["seconds"] / ours["seconds"],
            "lsrconv_peak_rss_mib": ours["peak_rss_kib"] / 1024, "pytorch_peak_rss_mib": theirs["peak_rss_kib"] / 1024,
            "rss_ratio": ours["peak_rss_kib"] / theirs["peak_rss_kib"],
            "lsrconv_loaded_rss_mib": ours["rss_loaded_kib"] / 1024, "pytorch_loaded_rss_mib": theirs["rss_loaded_kib"] / 1024,
            "sgemm_gflops": ours["sgemm_gflops"], "torch_sgemm_gflops": theirs["torch_sgemm_gflops"], "gflop": ours["gflop"],
            "lsrconv_fastest_seconds": min(ours["all_seconds"]), "pytorch_fastest_seconds": min(theirs["all_seconds"]),
            "lsrconv_fraction_of_sgemm_bound": ours["sgemm_bound_seconds"] / ours["seconds"],
            "pytorch_fraction_of_sgemm_bound": ours["sgemm_bound_seconds"] / theirs["seconds"],
            "sgemm_gflops_per_cpu_second": ours["sgemm_gflops_per_cpu_second"],
            "lsrconv_cpu_fraction_of_sgemm_bound": ours["sgemm_bound_cpu_seconds"] / ours["cpu_seconds"],
            "pytorch_cpu_fraction_of_sgemm_bound": ours["sgemm_bound_cpu_seconds"] / theirs["cpu_seconds"],
            "lsrconv_losses": ours["losses"], "pytorch_losses": theirs["losses"],
            "lsrconv_trained_parameters": ours["trained_parameters"], "pytorch_trained_parameters": theirs["trained_parameters"],
            "pytorch_attention": theirs["attention"],
        })
    keys = [k for k, v in rounds[0].items() if isinstance(v, (int, float)) and k != "round"]
    medians = {k: median([r[k] for r in rounds]) for k in keys}
    env = {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "blas": ours.get("blas", ""),
           "batch": args.train_batch, "length": args.length, "threads": args.threads,
           "adapter": "LSR r=4 (2x2), s=16, alpha=8, 768=32x24, query+value, head trained, AdamW"}
    (ROOT / "out/bench").mkdir(parents=True, exist_ok=True)
    fastest = {e: min(min(r[f"{e}_all_seconds"]) for r in rounds) for e in ("lsrconv", "pytorch")}
    (ROOT / "out/bench/train.json").write_text(
        json.dumps({"environment": env, "rounds": rounds, "medians": medians, "fastest_step_seconds": fastest}, indent=2) + "\n")

    print(f"RoBERTa-base LSR train step (r = 4, s = 16 on query+value, head trained, AdamW), batch {args.train_batch} × "
          f"{args.length}, float32, {args.threads} threads; torch {env['torch']} ({rounds[0]['pytorch_attention']} attention), "
          f"transformers {env['transformers']}; {medians['gflop']:.0f} GFLOP per step; trained parameters: lsrconv "
          f"{rounds[0]['lsrconv_trained_parameters']}, PyTorch {rounds[0]['pytorch_trained_parameters']}")
    print()
    print("| round | lsrconv s/step | PyTorch s/step | lsrconv tokens/s | PyTorch tokens/s | lsrconv / PyTorch | "
          "lsrconv peak RSS | PyTorch peak RSS | RSS lsrconv / PyTorch | sgemm GFLOP/s | lsrconv % of sgemm bound | "
          "PyTorch % of sgemm bound | CPU s/step lsrconv, PyTorch | CPU-time % of sgemm bound lsrconv, PyTorch | "
          "load average lsrconv, PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rounds + [dict(medians, round="median")]:
        label = f"{r['round']} ({r['first']} first)" if "first" in r else "**median**"
        print(f"| {label} | {r['lsrconv_seconds']:.2f} | {r['pytorch_seconds']:.2f} | {r['lsrconv_tokens_per_second']:.0f} | "
              f"{r['pytorch_tokens_per_second']:.0f} | {r['ratio']:.2f}× | {r['lsrconv_peak_rss_mib']:.0f} MiB | "
              f"{r['pytorch_peak_rss_mib']:.0f} MiB | {r['rss_ratio']:.2f} | {r['sgemm_gflops']:.0f} | "
              f"{100 * r['lsrconv_fraction_of_sgemm_bound']:.0f}% | {100 * r['pytorch_fraction_of_sgemm_bound']:.0f}% | "
              f"{r['lsrconv_cpu_seconds']:.1f}, {r['pytorch_cpu_seconds']:.1f} | "
              f"{100 * r['lsrconv_cpu_fraction_of_sgemm_bound']:.0f}%, {100 * r['pytorch_cpu_fraction_of_sgemm_bound']:.0f}% | "
              f"{r['lsrconv_load_average']:.1f}, {r['pytorch_load_average']:.1f} |")
    print()
    print(f"Fastest single step of all rounds (the least disturbed by other processes): lsrconv {fastest['lsrconv']:.2f} s, "
          f"PyTorch {fastest['pytorch']:.2f} s: {fastest['pytorch'] / fastest['lsrconv']:.2f}×; sgemm of each engine's own BLAS, median: "
          f"OpenBLAS {medians['sgemm_gflops']:.0f}, PyTorch {medians['torch_sgemm_gflops']:.0f} GFLOP/s.")
    print(f"Targets (issue 6): tokens/s ≥ 1.3× PyTorch: {medians['ratio']:.2f}× "
          f"({'met' if medians['ratio'] >= 1.3 else 'NOT met'}); peak RSS ≤ ½ PyTorch's: {medians['rss_ratio']:.2f} "
          f"({'met' if medians['rss_ratio'] <= 0.5 else 'NOT met'}). RSS after loading the model: lsrconv "
          f"{medians['lsrconv_loaded_rss_mib']:.0f} MiB, PyTorch {medians['pytorch_loaded_rss_mib']:.0f} MiB.")


def data_parallel_benchmark(args, model_dir: Path):
    """Trainer.run on the roberta-base-sized model (issue 8): 1 rank × 1 thread, 2 MPI ranks × 1
    thread (mpirun), 1 process × 2 threads, the same global batch; alternating rounds. PyTorch
    has no part here: the comparison is lsrconv's scaling against itself on the same cores."""
    common = ["--mode", "data-parallel", "--model", str(model_dir), "--batch", str(args.train_batch), "--length", str(args.length),
              "--iterations", str(args.train_iterations), "--warmup", "1"]
    mpirun = shutil.which("mpirun")
    configs = [("1 rank × 1 thread", [args.lsrbench] + common + ["--threads", "1"])]
    if mpirun:
        configs.append(("2 ranks × 1 thread", [mpirun, "--allow-run-as-root", "-np", "2", args.lsrbench] + common + ["--threads", "1"]))
    else:
        print("data-parallel: no mpirun (make deps installs openmpi-bin): the 2-rank row is left out", file=sys.stderr)
    configs.append(("1 process × 2 threads", [args.lsrbench] + common + ["--threads", "2"]))
    rounds = []
    for i in range(args.train_rounds):
        order = configs if i % 2 == 0 else list(reversed(configs))
        results = {}
        for name, command in order:
            results[name] = run_json(command)
            r = results[name]
            print(f"data-parallel round {i + 1}/{args.train_rounds}: {name}: {r['seconds']:.2f} s/update, "
                  f"all-reduce {1e3 * r['allreduce_seconds']:.2f} ms", file=sys.stderr, flush=True)
        rounds.append(results)
    names = [name for name, _ in configs]
    medians = {n: {k: median([r[n][k] for r in rounds]) for k in ("seconds", "examples_per_second", "allreduce_seconds")} for n in names}
    first = rounds[0][names[0]]
    floats = first["allreduce_floats"]
    (ROOT / "out/bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "out/bench/data-parallel.json").write_text(json.dumps({
        "environment": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "global_batch": args.train_batch,
                        "length": args.length, "adapter": "LSR r=4 (2x2), s=16, alpha=8, query+value, head trained, AdamW"},
        "rounds": rounds, "medians": medians, "allreduce_floats": floats}, indent=2) + "\n")

    base = medians[names[0]]["examples_per_second"]
    print(f"RoBERTa-base LSR training updates (Trainer.run), global batch {args.train_batch} × {args.length}, float32; "
          f"all-reduce per update: {floats} floats = {4 * floats / 1e6:.2f} MB ({first['adapter_parameters']} adapter + "
          f"{floats - first['adapter_parameters']} head parameters)")
    print()
    print("| configuration | s/update | examples/s | vs 1 rank × 1 thread | all-reduce ms/update |")
    print("|---|---|---|---|---|")
    for n in names:
        m = medians[n]
        print(f"| {n} | {m['seconds']:.2f} | {m['examples_per_second']:.2f} | {m['examples_per_second'] / base:.2f}× | "
              f"{1e3 * m['allreduce_seconds']:.2f} |")
    # Projection (weak scaling: each machine keeps this machine's share of a global batch that
    # grows with the machines): a ring all-reduce sends and receives 2(N−1)/N of the buffer per
    # rank in 2(N−1) messages (Patarasuk & Yuan 2009); on 10 Gbit/s Ethernet (1.25 GB/s) with
    # 50 µs per message.
    step = medians[names[-1]]["seconds"]
    print()
    for machines in (8, 64):
        communicate = 2 * (machines - 1) / machines * 4 * floats / 1.25e9 + 2 * (machines - 1) * 50e-6
        print(f"Projected on {machines} machines like this one (10 Gbit/s, 50 µs per message, ring all-reduce): "
              f"{1e3 * communicate:.1f} ms of communication per {step:.2f} s update: "
              f"{100 * step / (step + communicate):.1f}% scaling efficiency, {machines * args.train_batch / (step + communicate):.0f} examples/s.")


def machine_report(args):
    """The facts every figure below depends on, printed first (issue 14): `lsrconv env --json
    --measure` (CPU, its vector features, OpenBLAS and the core in use, the core OpenBLAS picks
    alone, sgemm GFLOP/s) and PyTorch's own CPU capability. Also written to out/bench/env.json."""
    import torch

    lsrconv = Path(args.lsrbench).with_name("lsrconv")
    env = run_json([str(lsrconv), "env", "--json", "--measure"])
    env["pytorch"] = {"version": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                      "mkldnn": torch.backends.mkldnn.is_available(), "threads": torch.get_num_threads()}
    (ROOT / "out/bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "out/bench/env.json").write_text(json.dumps(env, indent=2) + "\n")
    cpu, blas = env["cpu"], env["blas"]
    features = " ".join(name for name, present in cpu["features"].items() if present) or "no AVX"
    print(f"Machine: {cpu['model_name']} ({cpu['vendor']} family {cpu['family']} model {cpu['model']}), {cpu['cores']} cores; {features}")
    default = blas["default_core"] or "not known (OPENBLAS_CORETYPE set)"
    print(f"BLAS: OpenBLAS {blas['version']}, core {blas['core']} (chosen by {blas['chosen_by']}; OpenBLAS alone: {default}); "
          + ", ".join(f"sgemm {m['gflops']:.0f} GFLOP/s on {m['threads']} thread{'s' if m['threads'] > 1 else ''}" for m in env.get("sgemm", [])))
    print(f"PyTorch {torch.__version__}: CPU capability {env['pytorch']['cpu_capability']}, {env['pytorch']['threads']} threads")
    return env


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lsrbench", default=str(ROOT / ".build/release/lsrbench"))
    parser.add_argument("--bench", default="forward,train", help="which benchmarks: forward, train or both (comma- or space-separated)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="alternating lsrconv/PyTorch rounds per batch shape")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--train-iterations", type=int, default=3, help="timed train steps per engine and round (after 1 warm-up)")
    parser.add_argument("--train-rounds", type=int, default=3)
    args = parser.parse_args()
    benches = set(args.bench.replace(",", " ").split())
    if not benches or not benches <= {"forward", "train", "data-parallel"}:
        parser.error(f"--bench {args.bench!r}: forward, train, data-parallel (one or more)")

    machine_report(args)
    print()
    model_dir = ROOT / "out/bench/roberta-base"
    build_model(model_dir)
    if "forward" in benches:
        forward_benchmark(args, model_dir)
    if "train" in benches:
        if "forward" in benches:
            print()
        train_benchmark(args, model_dir)
    if "data-parallel" in benches:
        print()
        data_parallel_benchmark(args, model_dir)


def forward_benchmark(args, model_dir: Path):
    import torch
    import transformers

    torch_forward = TorchForward(model_dir, args.threads)
    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
        # The two engines alternate, `rounds` times: on a shared machine whose speed drifts
        # (seen here: sgemm from 80 to 160 GFLOP/s within minutes) each round compares the two
        # under the same conditions; the table takes the median round.
        rounds = []
        for _ in range(args.rounds):
            ours = lsrconv_forward(args.lsrbench, model_dir, batch, args.length, args.threads, args.iterations)
            theirs = torch_forward(batch, args.length, args.iterations)
            rounds.append((theirs["seconds"] / ours["seconds"], ours, theirs))
        rounds.sort(key=lambda r: r[0])
        ratio, ours, theirs = rounds[len(rounds) // 2]
        tokens = batch * args.length
        rows.append({
            "batch": batch, "length": args.length, "threads": args.threads, "gflop": ours["gflop"],
            "lsrconv_seconds": ours["seconds"], "pytorch_seconds": theirs["seconds"],
            "lsrconv_tokens_per_second": tokens / ours["seconds"], "pytorch_tokens_per_second": tokens / theirs["seconds"],
            "ratio": ratio, "all_ratios": [r[0] for r in rounds], "sgemm_gflops": ours["sgemm_gflops"],
            "lsrconv_fraction_of_sgemm_bound": ours["sgemm_bound_seconds"] / ours["seconds"],
            "pytorch_fraction_of_sgemm_bound": ours["sgemm_bound_seconds"] / theirs["seconds"],
            "pytorch_attention": theirs["attention"], "lsrconv_all_seconds": ours["all_seconds"],
            "pytorch_all_seconds": theirs["all_seconds"],
        })
    env = {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "blas": ours.get("blas", "")}
    (ROOT / "out/bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "out/bench/forward.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=2) + "\n")

    print(f"RoBERTa-base forward, float32, {args.threads} threads; torch {env['torch']}, transformers "
          f"{env['transformers']}; sgemm {rows[-1]['sgemm_gflops']:.0f} GFLOP/s (OpenBLAS, measured)")
    print()
    print("| batch × tokens | GFLOP | lsrconv tokens/s | PyTorch tokens/s | lsrconv / PyTorch (rounds) | lsrconv % of sgemm bound | PyTorch % of sgemm bound |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['batch']} × {r['length']} | {r['gflop']:.0f} | {r['lsrconv_tokens_per_second']:.0f} | "
              f"{r['pytorch_tokens_per_second']:.0f} | {r['ratio']:.2f}× ({', '.join(f'{x:.2f}' for x in r['all_ratios'])}) | {100 * r['lsrconv_fraction_of_sgemm_bound']:.0f}% | "
              f"{100 * r['pytorch_fraction_of_sgemm_bound']:.0f}% |")


if __name__ == "__main__":
    sys.exit(main())
