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
all float32, computed in float64 from the float32 weights.
"""
import json
from pathlib import Path

import safetensors.torch
import torch
from transformers import AutoModelForSequenceClassification

FIX = Path(__file__).resolve().parents[2] / "Fixtures"
REF = FIX / "reference"
LABELS = [0, 1, 1, 0, 1, 0]


def main():
    model = AutoModelForSequenceClassification.from_pretrained(FIX / "tiny-roberta", dtype=torch.float32).eval().double()
    for p in model.parameters():
        p.requires_grad_(False)
    head = [model.classifier.dense.weight, model.classifier.dense.bias, model.classifier.out_proj.weight, model.classifier.out_proj.bias]
    for p in head:
        p.requires_grad_(True)
    config = json.loads((REF / "adapter/adapter_config.json").read_text())
    factors = {k: v.double().requires_grad_(True) for k, v in safetensors.torch.load_file(str(REF / "adapter/adapter_model.safetensors")).items()}
    scaling = config["alpha"] / config["rank"]

    def kron_sum(entry):
        left, right, scales = (factors[entry[p]["tensor"]] for p in ("left", "right", "scales"))
        return sum(scales[k] * torch.kron(left[k], right[k]) for k in range(left.shape[0]))

    # W + ΔW through a forward hook on each adapted Linear: y += scaling·(x·Downᵀ)·Upᵀ.
    for module in config["modules"]:
        linear = model.get_submodule(module["name"])

        def hook(mod, inputs, output, entry=module):
            up, down = kron_sum(entry["up"]), kron_sum(entry["down"])
            return output + scaling * (inputs[0] @ down.T) @ up.T
        linear.register_forward_hook(hook)

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


if __name__ == "__main__":
    main()
