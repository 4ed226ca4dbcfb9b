#!/usr/bin/env python3
"""Reference values for the backward pass of each RoBERTa layer, computed with torch autograd.

    .venv-gen/bin/python Fixtures/generate/layer_grads_reference.py

Writes Fixtures/reference/layer_grads.safetensors, float32 unless noted. Every "d*" tensor is the
gradient of L = Σ dy ∘ y (dy the stored upstream gradient, y the layer output) or of the stated loss.

Linear, y = x·Wᵀ + b:
  linear.x [5, 6], linear.w [4, 6], linear.b [4], linear.dy [5, 4] (upstream)
  linear.dx [5, 6], linear.dw [4, 6], linear.db [4]
LayerNorm over the last dim, eps 1e-5, y = (x − mean) / sqrt(var_biased + eps) · gamma + beta:
  layernorm.x [5, 8] (rows have mean ≠ 0 and std ≠ 1), layernorm.gamma [8], layernorm.beta [8],
  layernorm.dy [5, 8]; layernorm.dx [5, 8], layernorm.dgamma [8], layernorm.dbeta [8]
Exact GELU (erf form, torch.nn.functional.gelu approximate='none'):
  gelu.x [50] (linspace over [-5, 5]), gelu.dy [50], gelu.dx [50]
tanh: tanh.x [20], tanh.dy [20], tanh.dx [20]
Masked multi-head self-attention, B = 2, T = 5, H = 2, D = 3, C = H·D = 6:
  attention.qkv [B·T, 3C]: per token (row b·T + t) query | key | value, each C wide; head h uses
    columns h·D..(h+1)·D within each block
  attention.mask [B·T]: 1 real token, 0 padding (item 0 all real, item 1 last 2 tokens padding)
  S = Q·Kᵀ/√D per (b, h); padded KEYS set to −inf before softmax (probability exactly 0);
  attention.probs [B, H, T, T] = softmax(S) over the key axis (rows are queries, padded queries kept)
  attention.context [B·T, C] = P·V with heads side by side (head h in columns h·D..(h+1)·D)
  attention.dcontext [B·T, C] (upstream), attention.dqkv [B·T, 3C]
Classification head, logits = out(tanh(dense(x))), loss = torch.nn.CrossEntropyLoss (mean):
  head.x [3, 6] (the <s> rows), head.dense.w [6, 6], head.dense.b [6], head.out.w [2, 6],
  head.out.b [2], head.labels (int64 [3]); head.logits [3, 2], head.loss [1]
  head.dx [3, 6], head.dense.dw [6, 6], head.dense.db [6], head.out.dw [2, 6], head.out.db [2]
Regression head (same x and dense layer), pred = out(tanh(dense(x)))[:, 0],
loss = torch.nn.MSELoss (mean over the batch) against targets:
  head.reg.out.w [1, 6], head.reg.out.b [1], head.reg.targets [3]; head.reg.pred [3], head.reg.loss [1]
  head.reg.dx [3, 6], head.reg.out.dw [1, 6], head.reg.out.db [1],
  head.reg.dense.dw [6, 6], head.reg.dense.db [6]

Inputs are randn(seed 0) in float64, rounded to float32; the references are computed in float64
from those float32 values with autograd, then stored as float32.
Adapter term of a Linear, y = scaling·(x·Downᵀ)·Upᵀ, scaling 2 (drawn after everything above):
  lowrank.x [5, 6], lowrank.up [4, 2], lowrank.down [2, 6], lowrank.dy [5, 4], lowrank.y [5, 4]
  lowrank.dx [5, 6], lowrank.dup [4, 2], lowrank.ddown [2, 6]
"""
import math
from pathlib import Path

import safetensors.torch
import torch

OUT = Path(__file__).resolve().parents[2] / "Fixtures" / "reference"


def main():
    g = torch.Generator().manual_seed(0)

    def rnd(*shape, scale=1.0, shift=0.0):
        """float32-rounded random values, returned as a float64 tensor."""
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale + shift).float().double()

    out = {}

    def leaf(name, t):
        out[name] = t
        return t.clone().requires_grad_(True)

    # 1. Linear
    x, w, b = leaf("linear.x", rnd(5, 6)), leaf("linear.w", rnd(4, 6, scale=0.5)), leaf("linear.b", rnd(4))
    dy = rnd(5, 4)
    out["linear.dy"] = dy
    (dy * torch.nn.functional.linear(x, w, b)).sum().backward()
    out.update({"linear.dx": x.grad, "linear.dw": w.grad, "linear.db": b.grad})

    # 2. LayerNorm
    x = leaf("layernorm.x", (rnd(5, 8) * rnd(5, 1, scale=0.5, shift=2.0) + rnd(5, 1, scale=2.0)).float().double())
    gamma, beta = leaf("layernorm.gamma", rnd(8, scale=0.2, shift=1.0)), leaf("layernorm.beta", rnd(8, scale=0.1))
    dy = rnd(5, 8)
    out["layernorm.dy"] = dy
    (dy * torch.nn.functional.layer_norm(x, (8,), gamma, beta, eps=1e-5)).sum().backward()
    out.update({"layernorm.dx": x.grad, "layernorm.dgamma": gamma.grad, "layernorm.dbeta": beta.grad})

    # 3. GELU (exact)
    x = leaf("gelu.x", torch.linspace(-5, 5, 50, dtype=torch.float64).float().double())
    dy = rnd(50)
    out["gelu.dy"] = dy
    (dy * torch.nn.functional.gelu(x, approximate="none")).sum().backward()
    out["gelu.dx"] = x.grad

    # 4. tanh
    x = leaf("tanh.x", rnd(20, scale=1.5))
    dy = rnd(20)
    out["tanh.dy"] = dy
    (dy * torch.tanh(x)).sum().backward()
    out["tanh.dx"] = x.grad

    # 5. Masked multi-head self-attention from a fused QKV projection
    B, T, H, D = 2, 5, 2, 3
    C = H * D
    qkv = leaf("attention.qkv", rnd(B * T, 3 * C))
    mask = torch.ones(B, T, dtype=torch.float64)
    mask[1, T - 2:] = 0
    out["attention.mask"] = mask.reshape(B * T)
    q, k, v = (qkv[:, i * C:(i + 1) * C].reshape(B, T, H, D).permute(0, 2, 1, 3) for i in range(3))  # [B,H,T,D]
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)  # [B, H, Tq, Tk]
    scores = scores.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    context = (probs @ v).permute(0, 2, 1, 3).reshape(B * T, C)
    dcontext = rnd(B * T, C)
    (dcontext * context).sum().backward()
    assert (probs[1, :, :, T - 2:] == 0).all()
    out.update({"attention.dcontext": dcontext, "attention.context": context.detach(),
                "attention.probs": probs.detach(), "attention.dqkv": qkv.grad})

    # 6. Classification head + cross-entropy, then regression head + MSE on the same dense layer
    hx = rnd(3, 6)
    dense_w, dense_b = rnd(6, 6, scale=0.5), rnd(6, scale=0.1)
    x, dw, db = leaf("head.x", hx), leaf("head.dense.w", dense_w), leaf("head.dense.b", dense_b)
    ow, ob = leaf("head.out.w", rnd(2, 6, scale=0.5)), leaf("head.out.b", rnd(2, scale=0.1))
    labels = torch.tensor([0, 1, 1], dtype=torch.int64)
    out["head.labels"] = labels
    logits = torch.nn.functional.linear(torch.tanh(torch.nn.functional.linear(x, dw, db)), ow, ob)
    loss = torch.nn.CrossEntropyLoss()(logits, labels)
    loss.backward()
    out.update({"head.logits": logits.detach(), "head.loss": loss.detach().reshape(1), "head.dx": x.grad,
                "head.dense.dw": dw.grad, "head.dense.db": db.grad, "head.out.dw": ow.grad, "head.out.db": ob.grad})

    x, dw, db = hx.clone().requires_grad_(True), dense_w.clone().requires_grad_(True), dense_b.clone().requires_grad_(True)
    ow, ob = leaf("head.reg.out.w", rnd(1, 6, scale=0.5)), leaf("head.reg.out.b", rnd(1, scale=0.1))
    targets = rnd(3)
    out["head.reg.targets"] = targets
    pred = torch.nn.functional.linear(torch.tanh(torch.nn.functional.linear(x, dw, db)), ow, ob)[:, 0]
    loss = torch.nn.MSELoss()(pred, targets)
    loss.backward()
    out.update({"head.reg.pred": pred.detach(), "head.reg.loss": loss.detach().reshape(1), "head.reg.dx": x.grad,
                "head.reg.out.dw": ow.grad, "head.reg.out.db": ob.grad,
                "head.reg.dense.dw": dw.grad, "head.reg.dense.db": db.grad})

    # 7. The adapter term of a Linear (drawn last, so the tensors above keep their values):
    #    y = scaling·(x·Downᵀ)·Upᵀ with x [5, 6], Down [2, 6], Up [4, 2], scaling 2.
    x = leaf("lowrank.x", rnd(5, 6))
    up, down = leaf("lowrank.up", rnd(4, 2, scale=0.5)), leaf("lowrank.down", rnd(2, 6, scale=0.5))
    dy = rnd(4 * 5).reshape(5, 4)
    out["lowrank.dy"] = dy
    y = 2.0 * (x @ down.T) @ up.T
    (y * dy).sum().backward()
    out.update({"lowrank.y": y.detach(), "lowrank.dx": x.grad, "lowrank.dup": up.grad, "lowrank.ddown": down.grad})

    out = {k: (v if v.dtype == torch.int64 else v.detach().float()).contiguous() for k, v in out.items()}
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "layer_grads.safetensors"
    safetensors.torch.save_file(out, str(path), metadata={"format": "pt", "torch": torch.__version__})
    print("wrote", path, path.stat().st_size, "bytes")
    for name, t in out.items():
        grad = name.split(".")[-1].startswith("d") and name.split(".")[-1] not in ("dy", "dense", "dcontext")
        extra = f"  max|.| = {t.abs().max().item():.4g}" if grad else ""
        print(f"{name:22s} {str(t.dtype):14s} {list(t.shape)}{extra}")


if __name__ == "__main__":
    main()
