#!/usr/bin/env python3
"""Gradients of the whole adapted model, computed with torch autograd: the reference for the
engine's backward pass (issue 6, gradient parity).

    .venv-gen/bin/python Fixtures/generate/model_grads_reference.py   (after adapter_reference.py)

The tiny RoBERTa (Fixtures/tiny-roberta, float32, eval mode: dropout off) with its weights frozen,
the LSR adapter of Fixtures/reference/adapter (query and value of both layers; Up = Σ λ kron(L, R),
Down likewise; ΔW = (α/r)·Up·Down added to W), the trained classification head, and the batch of
Fixtures/reference/forward.safetensors (6 rows with padding and pairs) with labels [0, 1, 1, 0, 1, 0].
Loss: mean cross-entropy (torch.nn.CrossEntropyLoss). Writes Fixtures/reference/model_grads.safetensors:
  loss [1]
  <factor tensor name>.grad for every tensor of adapter_model.safetensors (left, right, scales)
  classifier.{dense,out_proj}.{weight,bias}.grad
all float32, computed in float64 from the float32 weights. Then two more layouts (below
more_layouts): LoRA on query/value (reference/adapter-lora, model_grads_lora.safetensors) and LSR
on all six Linear modules (reference/adapter-lsr6, model_grads_lsr6.safetensors).
"""
import json
from pathlib import Path

import safetensors.torch
import torch
from transformers import AutoModelForSequenceClassification

import lsr_torch  # Fixtures/generate/lsr_torch.py: the adapter hooks

FIX = Path(__file__).resolve().parents[2] / "Fixtures"
REF = FIX / "reference"
LABELS = [0, 1, 1, 0, 1, 0]


def main():
    model = AutoModelForSequenceClassification.from_pretrained(FIX / "tiny-roberta", dtype=torch.float32).eval().double()
    head = lsr_torch.freeze_all_but_head(model)
    config = json.loads((REF / "adapter/adapter_config.json").read_text())
    factors = {k: v.double().requires_grad_(True) for k, v in safetensors.torch.load_file(str(REF / "adapter/adapter_model.safetensors")).items()}
    # W + ΔW through a forward hook on each adapted Linear: y += scaling·(x·Downᵀ)·Upᵀ.
    lsr_torch.attach(model, config, factors)

    batch = safetensors.torch.load_file(str(REF / "forward.safetensors"))
    ids, mask = batch["input_ids"].long(), batch["attention_mask"].long()
    logits = model(input_ids=ids, attention_mask=mask).logits
    loss = torch.nn.CrossEntropyLoss()(logits, torch.tensor(LABELS))
    loss.backward()
    out = {"loss": loss.detach().float().reshape(1)}
    for name, t in factors.items():
        out[name + ".grad"] = t.grad.float()
    for name, p in zip(["classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"], head):
        out[name + ".grad"] = p.grad.float()
    out = {k: v.contiguous() for k, v in out.items()}
    safetensors.torch.save_file(out, str(REF / "model_grads.safetensors"), metadata={"format": "pt", "torch": torch.__version__})
    print("loss", loss.item())
    for k, v in out.items():
        print(f"{k:60s} {list(v.shape)} max|.| = {v.abs().max().item():.4g}")



# --------------------------------------------------------------------------------------------
# More adapter layouts for the same check (written by this script, then their gradients):
#   reference/adapter-lora/   LoRA on query and value, r 4, α 8, up (B) and down (A) randn·0.3
#   reference/adapter-lsr6/   LSR on all six Linear modules of both layers: r 4 = 2·2, s 3,
#                             splits auto (64 = 8·8, 256 = 16·16), factors randn·0.3 (at 0.6 ΔW
#                             dwarfs W and even torch in float32 is 1.7% off its float64 gradients)
# and model_grads_lora.safetensors / model_grads_lsr6.safetensors with the same tensor naming.
# --------------------------------------------------------------------------------------------

SIX = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
       "intermediate.dense", "output.dense"]


def split(n):
    small = max(i for i in range(1, int(n ** 0.5) + 1) if n % i == 0)
    return [n // small, small]


def write_adapter(directory, kind, paths, seed):
    import hashlib
    g = torch.Generator().manual_seed(seed)
    tensors, modules = {}, []
    shapes = {"attention.self.query": (64, 64), "attention.self.key": (64, 64), "attention.self.value": (64, 64),
              "attention.output.dense": (64, 64), "intermediate.dense": (256, 64), "output.dense": (64, 256)}
    for layer in range(2):
        for path in paths:
            name = f"roberta.encoder.layer.{layer}.{path}"
            out, inp = shapes[path]
            entry = {"name": name, "out_features": out, "in_features": inp}
            if kind == "lora":
                up = 0.3 * torch.randn(out, 4, generator=g)
                down = 0.3 * torch.randn(4, inp, generator=g)
                tensors[name + ".lora_up.weight"], tensors[name + ".lora_down.weight"] = up, down
                entry["up"] = {"weight": {"tensor": name + ".lora_up.weight", "shape": [out, 4]}}
                entry["down"] = {"weight": {"tensor": name + ".lora_down.weight", "shape": [4, inp]}}
            else:
                (o1, o2), (i1, i2) = split(out), split(inp)
                entry["out_split"], entry["in_split"] = [o1, o2], [i1, i2]
                for side, (a, b) in (("up", ((3, o1, 2), (3, o2, 2))), ("down", ((3, 2, i1), (3, 2, i2)))):
                    prefix = f"{name}.lsr_{side}"
                    parts = {"left": 0.3 * torch.randn(*a, generator=g), "right": 0.3 * torch.randn(*b, generator=g),
                             "scales": torch.ones(3)}
                    entry[side] = {}
                    for part, t in parts.items():
                        tensors[f"{prefix}.{part}"] = t
                        entry[side][part] = {"tensor": f"{prefix}.{part}", "shape": list(t.shape)}
            modules.append(entry)
    digest = hashlib.sha256((FIX / "tiny-roberta/model.safetensors").read_bytes()).hexdigest()
    config = {"$schema": "urn:lsrconv:schema:lsr-adapter:1", "format_version": 1, "kind": kind, "rank": 4}
    if kind == "lsr":
        config.update({"separation_rank": 3, "rank_split": [2, 2], "trainable_scales": False})
    config.update({"alpha": 8.0, "scaling": 2.0, "targets": [p.split(".")[-1] if p.startswith("attention.self") else p for p in paths],
                   "base_model": {"model_type": "roberta", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                                  "intermediate_size": 256, "vocab_size": 1000,
                                  "weights": [{"file": "model.safetensors", "sha256": digest}]},
                   "modules": modules, "head": None})
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    safetensors.torch.save_file(tensors, str(directory / "adapter_model.safetensors"), metadata={"format": "lsrconv"})
    return config


def gradients(config, directory, out_name):
    model = AutoModelForSequenceClassification.from_pretrained(FIX / "tiny-roberta", dtype=torch.float32).eval().double()
    head = lsr_torch.freeze_all_but_head(model)
    factors = {k: v.double().requires_grad_(True) for k, v in safetensors.torch.load_file(str(directory / "adapter_model.safetensors")).items()}
    lsr_torch.attach(model, config, factors)
    batch = safetensors.torch.load_file(str(REF / "forward.safetensors"))
    logits = model(input_ids=batch["input_ids"].long(), attention_mask=batch["attention_mask"].long()).logits
    loss = torch.nn.CrossEntropyLoss()(logits, torch.tensor(LABELS))
    loss.backward()
    out = {"loss": loss.detach().float().reshape(1)}
    out.update({name + ".grad": t.grad.float().contiguous() for name, t in factors.items()})
    for name, p in zip(["classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"], head):
        out[name + ".grad"] = p.grad.float().contiguous()
    safetensors.torch.save_file(out, str(REF / out_name), metadata={"format": "pt", "torch": torch.__version__})
    print(out_name, "loss", loss.item())


def more_layouts():
    for kind, paths, seed, directory, out_name in (
            ("lora", ["attention.self.query", "attention.self.value"], 11, REF / "adapter-lora", "model_grads_lora.safetensors"),
            ("lsr", SIX, 12, REF / "adapter-lsr6", "model_grads_lsr6.safetensors")):
        gradients(write_adapter(directory, kind, paths, seed), directory, out_name)


if __name__ == "__main__":
    main()
    more_layouts()
