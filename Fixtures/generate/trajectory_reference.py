#!/usr/bin/env python3
"""Five AdamW steps on the adapted tiny model, in PyTorch: the reference for the trainer's step
(issue 6, trajectory parity).

    .venv-gen/bin/python Fixtures/generate/trajectory_reference.py   (after adapter_reference.py)

Setup as model_grads_reference.py: the tiny RoBERTa frozen, the LSR adapter of
Fixtures/reference/adapter on query and value (λ fixed at 1: the scales are not trained), the
classification head trained, dropout off, the 6-row batch of forward.safetensors with labels
[0, 1, 1, 0, 1, 0], mean cross-entropy. torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
weight_decay=0.01) over the factor tensors (left, right of Up and Down) and the four head tensors,
in float32 (as the engine trains). Writes Fixtures/reference/trajectory.safetensors:
  losses [5]: the loss of each step, computed before its update
  <factor tensor>.after [..]: every trained factor after the 5 updates
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
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(FIX / "tiny-roberta", dtype=torch.float32).eval()
    head = lsr_torch.freeze_all_but_head(model)
    config = json.loads((REF / "adapter/adapter_config.json").read_text())
    tensors = safetensors.torch.load_file(str(REF / "adapter/adapter_model.safetensors"))
    factors = {k: v.clone().requires_grad_(not k.endswith(".scales")) for k, v in tensors.items()}
    lsr_torch.attach(model, config, factors)

    trained = [t for k, t in factors.items() if not k.endswith(".scales")] + head
    optimizer = torch.optim.AdamW(trained, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    batch = safetensors.torch.load_file(str(REF / "forward.safetensors"))
    ids, mask = batch["input_ids"].long(), batch["attention_mask"].long()
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = torch.nn.CrossEntropyLoss()(model(input_ids=ids, attention_mask=mask).logits, torch.tensor(LABELS))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    out = {"losses": torch.tensor(losses, dtype=torch.float32)}
    out.update({k + ".after": v.detach().clone() for k, v in factors.items() if not k.endswith(".scales")})
    safetensors.torch.save_file(out, str(REF / "trajectory.safetensors"), metadata={"format": "pt", "torch": torch.__version__})
    print("losses", losses)


if __name__ == "__main__":
    main()
