#!/usr/bin/env python3
"""Gradients of the adapted model with training-mode dropout, computed with torch autograd: the
reference for the engine's dropout (issue 6, item 2; Tests/LSRAdaptersTests/DropoutParityTests.swift).

    .venv-gen/bin/python Fixtures/generate/dropout_reference.py   (after model_grads_reference.py)

The masks are not torch's (its generator cannot be reproduced outside torch): this script
computes lsrconv's counter-based masks (Sources/LSREngine/Dropout.swift) in numpy uint64
arithmetic and multiplies them in at every place transformers' RobertaForSequenceClassification
applies dropout (modeling_roberta.py, transformers 5.23):
  site 0          RobertaEmbeddings.dropout, after the LayerNorm            [B, T, C]  hidden p
  site 1 + 3l     eager_attention_forward, softmax probabilities before ·V  [B, H, T, T] attention p
  site 2 + 3l     RobertaSelfOutput.dropout, on dense(x) (+ adapter)        [B, T, C]  hidden p
  site 3 + 3l     RobertaOutput.dropout, on dense(x) (+ adapter)            [B, T, C]  hidden p
  site 1 + 3L     RobertaClassificationHead.dropout before dense            [B, C]     classifier p
  site 2 + 3L     the same module again, before out_proj                    [B, C]     classifier p
(l = layer, L = 2 layers). Each nn.Dropout is replaced by a module multiplying by its mask and
scale 1/(1 - p); the attention runs transformers' eager path (attn_implementation="eager") with
its probability dropout, nn.functional.dropout, replaced by the mask product.

Mask bit of element i (flat row-major index in the site's tensor):
  mix(z) = SplitMix64's output function; key = mix(mix(mix(seed) + stream) + site);
  keep(i) = mix(key + (i + 1)·0x9E3779B97F4A7C15) >> 32  >=  floor(p·2^32)   (mod 2^64 throughout)

Model, adapter and batch: the tiny RoBERTa (Fixtures/tiny-roberta, weights frozen), the LSR adapter
on all six Linear modules of both layers (Fixtures/reference/adapter-lsr6, written by
model_grads_reference.py: adapters sit right before the attention-output and FFN-output dropout),
the trained head, the batch of Fixtures/reference/forward.safetensors (6 rows, padding, pairs),
labels [0, 1, 1, 0, 1, 0], mean cross-entropy; p = 0.1 at all three kinds of site, seed 1234,
stream 5. Writes Fixtures/reference/model_grads_dropout.safetensors:
  loss [1]; <factor tensor>.grad for every tensor of the adapter; classifier.{dense,out_proj}.{weight,bias}.grad
all float32, computed in float64 from the float32 weights (masks exact, scale 1/(1 - p) in float64
with p the float32 0.1 the engine uses).
"""
import json
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from transformers import AutoModelForSequenceClassification
from transformers.models.roberta import modeling_roberta

import lsr_torch  # Fixtures/generate/lsr_torch.py: the adapter hooks

FIX = Path(__file__).resolve().parents[2] / "Fixtures"
REF = FIX / "reference"
ADAPTER = REF / "adapter-lsr6"
LABELS = [0, 1, 1, 0, 1, 0]
SEED, STREAM = 1234, 5
P = float(np.float32(0.1))  # hidden, attention and classifier alike
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    """SplitMix64's output function on numpy uint64 arrays (multiplication wraps mod 2^64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def mix_int(z):
    return int(mix(np.array([z & M64], dtype=np.uint64))[0])


def dropout_mask(shape, p, site):
    """float64 tensor of `shape`: 1/(1 - p) where lsrconv keeps the element, 0 where it drops it."""
    key = mix_int((mix_int((mix_int(SEED) + STREAM) & M64) + site) & M64)
    count = int(np.prod(shape))
    with np.errstate(over="ignore"):
        counters = np.uint64(key) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(GOLDEN)
    keep = (mix(counters) >> np.uint64(32)) >= np.uint64(int(p * 2 ** 32))
    return torch.from_numpy(keep.reshape(shape).astype(np.float64) / (1 - p))


class MaskDropout(torch.nn.Module):
    """Stands in for an nn.Dropout: multiplies its i-th call's input by masks[i]."""

    def __init__(self, masks):
        super().__init__()
        self.masks, self.calls = masks, 0

    def forward(self, x):
        mask = self.masks[self.calls]
        self.calls += 1
        assert mask.shape == x.shape, (mask.shape, x.shape)
        return x * mask


def main():
    model = AutoModelForSequenceClassification.from_pretrained(
        FIX / "tiny-roberta", dtype=torch.float32, attn_implementation="eager").eval().double()
    cfg = model.config
    assert cfg.hidden_dropout_prob == cfg.attention_probs_dropout_prob == 0.1 and cfg.classifier_dropout is None
    head = lsr_torch.freeze_all_but_head(model)

    # The adapter, as model_grads_reference.py attaches it: y += (α/r)·(x·Downᵀ)·Upᵀ on each Linear.
    config = json.loads((ADAPTER / "adapter_config.json").read_text())
    factors = {k: v.double().requires_grad_(True) for k, v in safetensors.torch.load_file(str(ADAPTER / "adapter_model.safetensors")).items()}
    lsr_torch.attach(model, config, factors)

    batch = safetensors.torch.load_file(str(REF / "forward.safetensors"))
    ids, mask = batch["input_ids"].long(), batch["attention_mask"].long()
    (b, t), c, h = ids.shape, cfg.hidden_size, cfg.num_attention_heads
    layers = cfg.num_hidden_layers

    # Every dropout site with its mask.
    model.roberta.embeddings.dropout = MaskDropout([dropout_mask((b, t, c), P, 0)])
    probs_masks = {}
    for l, layer in enumerate(model.roberta.encoder.layer):
        probs_masks[l] = dropout_mask((b, h, t, t), P, 1 + 3 * l)
        layer.attention.output.dropout = MaskDropout([dropout_mask((b, t, c), P, 2 + 3 * l)])
        layer.output.dropout = MaskDropout([dropout_mask((b, t, c), P, 3 + 3 * l)])
    model.classifier.dropout = MaskDropout([dropout_mask((b, c), P, 1 + 3 * layers), dropout_mask((b, c), P, 2 + 3 * layers)])

    # transformers' eager attention (modeling_roberta.eager_attention_forward) with its
    # nn.functional.dropout on the probabilities replaced by the site's mask. The module looks
    # the function up by name at each call, so replacing the module attribute reaches it.
    eager_calls = []

    def masked_eager_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
        if attention_mask is not None:
            attn_weights = attn_weights + attention_mask
        attn_weights = torch.nn.functional.softmax(attn_weights, dim=-1)
        attn_weights = attn_weights * probs_masks[module.layer_idx]
        eager_calls.append(module.layer_idx)
        attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
        return attn_output, attn_weights

    modeling_roberta.eager_attention_forward = masked_eager_attention

    logits = model(input_ids=ids, attention_mask=mask).logits
    loss = torch.nn.CrossEntropyLoss()(logits, torch.tensor(LABELS))
    loss.backward()
    # Every site was used exactly once (the head's module twice), the attention in layer order.
    assert eager_calls == list(range(layers)), eager_calls
    assert model.roberta.embeddings.dropout.calls == 1 and model.classifier.dropout.calls == 2
    for layer in model.roberta.encoder.layer:
        assert layer.attention.output.dropout.calls == 1 and layer.output.dropout.calls == 1

    out = {"loss": loss.detach().float().reshape(1)}
    out.update({name + ".grad": f.grad.float().contiguous() for name, f in factors.items()})
    for name, p in zip(["classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"], head):
        out[name + ".grad"] = p.grad.float().contiguous()
    safetensors.torch.save_file(out, str(REF / "model_grads_dropout.safetensors"), metadata={
        "format": "pt", "torch": torch.__version__, "seed": str(SEED), "stream": str(STREAM), "p": "0.1"})
    kept = np.mean([float((m != 0).double().mean()) for m in probs_masks.values()])
    print("loss", loss.item(), f"(attention probs kept: {kept:.3f})")
    for k, v in out.items():
        print(f"{k:60s} {list(v.shape)} max|.| = {v.abs().max().item():.4g}")


if __name__ == "__main__":
    main()
