#!/usr/bin/env python3
"""An LSR adapter on the tiny RoBERTa and its effect, computed with PyTorch: the reference for
the adapted forward pass, merge and export (DESIGN.md §4–5).

    .venv-gen/bin/python Fixtures/generate/adapter_reference.py     (after forward_reference.py)

Writes
  Fixtures/reference/adapter/adapter_config.json + adapter_model.safetensors
      an LSR adapter in lsrconv's factor-file format, written here independently of lsrconv
      (so the reader is tested on a file it did not write): query and value of both layers,
      64 = 8·8 on both sides, r = 4 = 2·2, s = 3, alpha = 8 (scaling 2), λ = 1, factors
      randn·0.6 (seed 1); base_model.weights holds the sha256 of Fixtures/tiny-roberta/model.safetensors.
  Fixtures/reference/adapted.safetensors
      <module>.delta_w [64, 64]  ΔW = (alpha/r)·Up·Down, Up = Σ λ kron(Lᵘ, Rᵘ), Down = Σ λ kron(Lᵈ, Rᵈ)
      logits [B, 2], last_hidden_state [B, T, 64]  RobertaForSequenceClassification with
      W + ΔW in those modules, on forward.safetensors' batch (eval mode, float32)
"""
import hashlib
import json
from pathlib import Path

import safetensors.torch
import torch
from transformers import AutoModelForSequenceClassification

FIX = Path(__file__).resolve().parents[2] / "Fixtures"
OUT = FIX / "reference"
S, R1, R2, O1, O2, I1, I2, ALPHA = 3, 2, 2, 8, 8, 8, 8, 8.0
RANK = R1 * R2


def kron_sum(left, right, scales):
    return sum(scales[k] * torch.kron(left[k], right[k]) for k in range(left.shape[0]))


def main():
    g = torch.Generator().manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(FIX / "tiny-roberta", dtype=torch.float32).eval()
    batch = safetensors.torch.load_file(str(OUT / "forward.safetensors"))
    ids, mask = batch["input_ids"].long(), batch["attention_mask"].long()
    with torch.no_grad():
        base_logits = model(input_ids=ids, attention_mask=mask).logits

    tensors, modules, deltas = {}, [], {}
    for layer in range(2):
        for target in ("query", "value"):
            name = f"roberta.encoder.layer.{layer}.attention.self.{target}"
            entry = {"name": name, "out_features": 64, "in_features": 64, "out_split": [O1, O2], "in_split": [I1, I2]}
            factors = {}
            for factor, shapes in (("up", ((S, O1, R1), (S, O2, R2))), ("down", ((S, R1, I1), (S, R2, I2)))):
                left = 0.6 * torch.randn(*shapes[0], generator=g)
                right = 0.6 * torch.randn(*shapes[1], generator=g)
                scales = torch.ones(S)
                prefix = f"{name}.lsr_{factor}"
                tensors.update({prefix + ".left": left, prefix + ".right": right, prefix + ".scales": scales})
                entry[factor] = {part: {"tensor": f"{prefix}.{part}", "shape": list(t.shape)}
                                 for part, t in (("left", left), ("right", right), ("scales", scales))}
                factors[factor] = kron_sum(left, right, scales)
            delta = (ALPHA / RANK) * factors["up"] @ factors["down"]
            deltas[name + ".delta_w"] = delta.contiguous()
            modules.append(entry)
            with torch.no_grad():
                module = model.get_submodule(name)
                module.weight += delta
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    change = (out.logits - base_logits).abs().max().item()
    assert change > 1e-2, f"the adapter barely changes the logits ({change}): the test would prove little"
    print("max logit change from the adapter:", change)

    digest = hashlib.sha256((FIX / "tiny-roberta/model.safetensors").read_bytes()).hexdigest()
    config = {
        "$schema": "urn:lsrconv:schema:lsr-adapter:1", "format_version": 1, "kind": "lsr", "rank": RANK,
        "separation_rank": S, "rank_split": [R1, R2], "trainable_scales": False, "alpha": ALPHA,
        "scaling": ALPHA / RANK, "targets": ["query", "value"],
        "base_model": {"model_type": "roberta", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                       "intermediate_size": 256, "vocab_size": 1000,
                       "weights": [{"file": "model.safetensors", "sha256": digest}]},
        "modules": modules, "head": None,
    }
    d = OUT / "adapter"
    d.mkdir(parents=True, exist_ok=True)
    (d / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    safetensors.torch.save_file(tensors, str(d / "adapter_model.safetensors"), metadata={"format": "lsrconv"})
    result = dict(deltas)
    result["logits"] = out.logits.contiguous()
    result["last_hidden_state"] = out.hidden_states[-1].contiguous()
    safetensors.torch.save_file(result, str(OUT / "adapted.safetensors"), metadata={"format": "pt"})
    print("wrote", d, "and", OUT / "adapted.safetensors")


if __name__ == "__main__":
    main()
