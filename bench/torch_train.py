#!/usr/bin/env python3
"""PyTorch's side of the train-step benchmark (bench/run.py runs it in its own process, so that
its peak RSS is its own). Prints one JSON document on stdout.

    .venv-gen/bin/python bench/torch_train.py --model out/bench/roberta-base --batch 16 --length 128 --threads 2

The model is transformers' RobertaForSequenceClassification loaded from --model (the random
roberta-base-sized weights bench/run.py writes), in eval mode (dropout off: lsrconv has none),
every base weight frozen. query and value of every layer get the reference LSR term
(DESIGN.md §4, as Fixtures/generate/trajectory_reference.py adds it):

    Up = Σ_k kron(Lᵘ_k, Rᵘ_k) [out, r],  Down = Σ_k kron(Lᵈ_k, Rᵈ_k) [r, in],
    y = x·Wᵀ + b + (α/r)·(x·Downᵀ)·Upᵀ       (ΔW is never formed)

with the Kronecker sum computed in one einsum (Σ_k L[k,a,b]·R[k,c,d] at [(a,c),(b,d)], which
is exactly Σ_k torch.kron(L_k, R_k); checked at start-up) instead of a Python loop of s kron
calls, so PyTorch is not charged for interpreter overhead. r = 4 (2×2), s = 16, α = 8,
768 = 32·24 on both sides, λ fixed at 1; lsrconv's initialisation (Down and Lᵘ uniform, Rᵘ = 0).
The classification head is trained too; torch.optim.AdamW(lr, betas (0.9, 0.999), eps 1e-8,
weight decay 0.01) over the factors and the head, mean cross-entropy on fixed random labels.
A step is zero_grad, forward, loss, backward, optimizer.step, timed with perf_counter (wall) and
process_time (CPU seconds of every thread, which counts OpenMP's spin-waiting too).
"""
import argparse
import json
import math
import time


def status_kib(field: str) -> int:
    """A VmRSS/VmHWM-style field of /proc/self/status, in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--rank-split", default="2,2")
    parser.add_argument("--separation-rank", type=int, default=16)
    parser.add_argument("--split", default="32,24", help="o1,o2 = i1,i2 of the 768×768 query/value")
    parser.add_argument("--alpha", type=float, default=8.0)
    parser.add_argument("--targets", default="query,value")
    parser.add_argument("--lr", type=float, default=1e-4)
    args = parser.parse_args()

    import torch
    from transformers import RobertaForSequenceClassification

    torch.set_num_threads(args.threads)
    rss_start = status_kib("VmRSS")
    model = RobertaForSequenceClassification.from_pretrained(args.model, dtype=torch.float32).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    rss_loaded = status_kib("VmRSS")

    s, r, alpha = args.separation_rank, args.rank, args.alpha
    r1, r2 = (int(v) for v in args.rank_split.split(","))
    n1, n2 = (int(v) for v in args.split.split(","))
    assert r1 * r2 == r

    def kron_sum(left, right):
        # Σ_k kron(left[k], right[k]): [s, a, b] and [s, c, d] → [a·c, b·d].
        _, a, b = left.shape
        _, c, d = right.shape
        return torch.einsum("kab,kcd->acbd", left, right).reshape(a * c, b * d)

    g = torch.Generator().manual_seed(0)
    left, right = torch.randn(s, 3, 2, generator=g), torch.randn(s, 5, 4, generator=g)
    assert torch.allclose(kron_sum(left, right), sum(torch.kron(left[k], right[k]) for k in range(s)), atol=1e-5)

    class LSRLinear(torch.nn.Module):
        """A frozen nn.Linear plus the LSR term (the reference module)."""

        def __init__(self, base: torch.nn.Linear):
            super().__init__()
            self.base = base
            out, inputs = base.out_features, base.in_features
            assert n1 * n2 == out == inputs

            def uniform(shape, fan):
                bound = math.sqrt(3 * math.sqrt(1 / (3 * fan * s)))  # AdapterInit.module's factorBound
                return torch.nn.Parameter((torch.rand(*shape, generator=g) * 2 - 1) * bound)

            self.down_left = uniform((s, r1, n1), inputs)
            self.down_right = uniform((s, r2, n2), inputs)
            self.up_left = uniform((s, n1, r1), r)
            self.up_right = torch.nn.Parameter(torch.zeros(s, n2, r2))
            self.scaling = alpha / r

        def forward(self, x):
            down = kron_sum(self.down_left, self.down_right)  # [r, in]
            up = kron_sum(self.up_left, self.up_right)  # [out, r]
            return self.base(x) + self.scaling * ((x @ down.T) @ up.T)

    targets = args.targets.split(",")
    for layer in model.roberta.encoder.layer:
        for name in targets:
            setattr(layer.attention.self, name, LSRLinear(getattr(layer.attention.self, name)))
    head = list(model.classifier.parameters())
    for p in head:
        p.requires_grad_(True)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)

    ids = torch.randint(3, model.config.vocab_size, (args.batch, args.length), generator=g)
    ids[:, 0] = model.config.bos_token_id
    ids[:, -1] = model.config.eos_token_id
    mask = torch.ones_like(ids)
    labels = torch.randint(0, model.config.num_labels, (args.batch,), generator=g)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(input_ids=ids, attention_mask=mask).logits, labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    losses, seconds, cpu = [], [], []
    for _ in range(args.warmup):
        losses.append(step())
    for _ in range(args.iterations):
        start, cpu_start = time.perf_counter(), time.process_time()
        losses.append(step())
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    median = sorted(seconds)[len(seconds) // 2]
    tokens = args.batch * args.length

    # PyTorch's own sgemm rate (its BLAS, not OpenBLAS) at the shape lsrbench measures OpenBLAS at:
    # N tokens × C → F, x·Wᵀ as nn.Linear computes it. Median of 5 after a warm-up.
    c, f = model.config.hidden_size, model.config.intermediate_size
    rows = min(tokens, 2048)
    a, w = torch.randn(rows, c, generator=g), torch.randn(f, c, generator=g)
    with torch.no_grad():
        a @ w.T
        gemm = []
        for _ in range(5):
            start = time.perf_counter()
            a @ w.T
            gemm.append(time.perf_counter() - start)
    torch_sgemm_gflops = 2 * rows * c * f / sorted(gemm)[2] / 1e9
    print(json.dumps({
        "engine": "pytorch", "mode": "train", "batch": args.batch, "length": args.length, "threads": args.threads,
        "seconds": median, "all_seconds": seconds, "tokens_per_second": tokens / median,
        "cpu_seconds": sorted(cpu)[len(cpu) // 2], "all_cpu_seconds": cpu,
        "trained_parameters": sum(p.numel() for p in trained),
        "adapter_parameters": sum(p.numel() for p in trained) - sum(p.numel() for p in head),
        "losses": losses, "attention": model.config._attn_implementation, "torch": torch.__version__,
        "torch_sgemm_gflops": torch_sgemm_gflops, "torch_blas": "mkl" if torch.backends.mkl.is_available() else "other",
        "rss_start_kib": rss_start, "rss_loaded_kib": rss_loaded, "rss_end_kib": status_kib("VmRSS"),
        "peak_rss_kib": status_kib("VmHWM"),
    }, indent=2))


if __name__ == "__main__":
    main()
