#!/usr/bin/env python3
"""Reference values for the LSR math (DESIGN.md §4), computed with torch.kron and autograd.

    .venv-gen/bin/python Fixtures/generate/lsr_reference.py

Writes Fixtures/reference/lsr.safetensors, float32 unless noted:
  up.left [s, o1, r1], up.right [s, o2, r2], up.scales [s]        Up   = Σ λ (L ⊗ R)  [out, r]
  down.left [s, r1, i1], down.right [s, r2, i2], down.scales [s]  Down = Σ λ (L ⊗ R)  [r, in]
  up, down, delta_w = (alpha / r) · Up · Down                      [out, in]
  g_up [out, r], g_down [r, in]: upstream gradients; grad.<factor>: d<g_up,Up> + <g_down,Down>
  / d factor, for every factor and scale (torch autograd)
  alpha (float32 [1])
Shapes: out = 12 = 4·3, in = 10 = 5·2, r = 4 = 2·2, s = 3 (small, so the test reads every
element). Factors are randn(seed 0) in float64, rounded to float32, and the reference is
computed in float64 from those float32 values, then stored as float32.
"""
from pathlib import Path

import safetensors.torch
import torch

OUT = Path(__file__).resolve().parents[2] / "Fixtures" / "reference"


def kron_sum(left, right, scales):
    return sum(scales[k] * torch.kron(left[k], right[k]) for k in range(left.shape[0]))


def main():
    g = torch.Generator().manual_seed(0)
    s, (o1, o2), (i1, i2), (r1, r2), alpha = 3, (4, 3), (5, 2), (2, 2), 8.0
    r = r1 * r2
    shapes = {
        "up.left": (s, o1, r1), "up.right": (s, o2, r2), "up.scales": (s,),
        "down.left": (s, r1, i1), "down.right": (s, r2, i2), "down.scales": (s,),
    }
    f32 = {k: torch.randn(*v, generator=g, dtype=torch.float64).float() for k, v in shapes.items()}
    f32["up.scales"] = 1 + 0.25 * f32["up.scales"]
    f32["down.scales"] = 1 + 0.25 * f32["down.scales"]
    params = {k: v.double().requires_grad_(True) for k, v in f32.items()}
    up = kron_sum(params["up.left"], params["up.right"], params["up.scales"])
    down = kron_sum(params["down.left"], params["down.right"], params["down.scales"])
    g_up = torch.randn(o1 * o2, r, generator=g, dtype=torch.float64).float().double()
    g_down = torch.randn(r, i1 * i2, generator=g, dtype=torch.float64).float().double()
    ((g_up * up).sum() + (g_down * down).sum()).backward()
    delta = (alpha / r) * up @ down
    assert up.shape == (12, 4) and down.shape == (4, 10) and delta.shape == (12, 10)

    out = {k: v for k, v in f32.items()}
    out.update({"up": up.detach().float(), "down": down.detach().float(), "delta_w": delta.detach().float(),
                "g_up": g_up.float(), "g_down": g_down.float(), "alpha": torch.tensor([alpha])})
    out.update({"grad." + k: p.grad.float() for k, p in params.items()})
    OUT.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: v.contiguous() for k, v in out.items()}, str(OUT / "lsr.safetensors"),
                                metadata={"format": "pt", "torch": torch.__version__})
    print("wrote", OUT / "lsr.safetensors")


if __name__ == "__main__":
    main()
