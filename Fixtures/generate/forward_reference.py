#!/usr/bin/env python3
"""Reference outputs of the tiny RoBERTa's forward pass, computed by transformers, for the
engine's parity tests (Tests/LSRModelTests/ForwardParityTests.swift).

Run from the repository root, after generate.py (it reads the fixtures that script wrote):

    .venv-gen/bin/python Fixtures/generate/forward_reference.py

Writes Fixtures/reference/forward.safetensors and forward.json:
  input_ids, attention_mask   int32 [B, T]: one padded batch mixing lengths, an empty string
                              and sentence pairs, tokenized by the fixture's own tokenizer
                              (Fixtures/tiny-roberta/tokenizer.json) with padding=True.
  <model>.logits              float32 [B, 2]
  <model>.last_hidden_state   float32 [B, T, 64] (hidden_states[-1], padding rows included)
for three models:
  f32      Fixtures/tiny-roberta                    (float32 weights)
  f16      Fixtures/tiny-roberta-f16 loaded as float32 (the same weights rounded to float16)
  fairseq  Fixtures/torch/fairseq/expected_hf.safetensors as float32 (f16 weights, token type
           embeddings zero: what an import of the fairseq checkpoints gives)
The models run in eval mode with transformers' default attention implementation (sdpa) on
torch's CPU kernels in float32. forward.json holds the texts, pairs and the versions used.
"""
import json
import sys
from pathlib import Path

import safetensors.torch
import torch
import transformers
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "Fixtures"
OUT = FIX / "reference"

TEXTS = [
    ("Hello world!", None),
    ("A much longer sentence that goes on for a while, with punctuation; numbers like 1234 "
     "and 56.7%, and enough words to make every other row of this batch need padding.", None),
    ("", None),
    ("Short one", "and its pair, a second segment"),
    ("Is this a question?", "Yes: it is one, with <mask> text and émojis 🙂 too."),
    ("Ünïcödé, 中文 and русский текст", None),
]


def run(model, enc):
    model.eval()
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=True)
    return out.logits.float().contiguous(), out.hidden_states[-1].float().contiguous()


def main():
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(FIX / "tiny-roberta")
    texts = [t for t, _ in TEXTS]
    pairs = [p for _, p in TEXTS]
    # A batch of singles and pairs: tokenize each, then pad together (a tokenizer call takes
    # either all pairs or none).
    rows = [tok(t, p)["input_ids"] if p is not None else tok(t)["input_ids"] for t, p in TEXTS]
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    enc = {"input_ids": ids, "attention_mask": mask}

    tensors = {"input_ids": ids.to(torch.int32), "attention_mask": mask.to(torch.int32)}
    f32 = AutoModelForSequenceClassification.from_pretrained(FIX / "tiny-roberta", dtype=torch.float32)
    f16 = AutoModelForSequenceClassification.from_pretrained(FIX / "tiny-roberta-f16", dtype=torch.float32)
    config = AutoConfig.from_pretrained(FIX / "tiny-roberta-f16")
    fairseq = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    state = safetensors.torch.load_file(str(FIX / "torch/fairseq/expected_hf.safetensors"))
    missing, unexpected = fairseq.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    assert not unexpected and all("position_ids" in m for m in missing), (missing, unexpected)
    for name, model in (("f32", f32), ("f16", f16), ("fairseq", fairseq)):
        logits, hidden = run(model, enc)
        tensors[f"{name}.logits"] = logits
        tensors[f"{name}.last_hidden_state"] = hidden
        print(name, "attn:", model.config._attn_implementation, "logits:", logits.tolist()[0])

    OUT.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(tensors, str(OUT / "forward.safetensors"), metadata={"format": "pt"})
    meta = {
        "texts": texts, "pairs": pairs,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "python": sys.version.split()[0]},
        "attention": f32.config._attn_implementation,
    }
    (OUT / "forward.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    print("wrote", OUT / "forward.safetensors", (OUT / "forward.safetensors").stat().st_size, "bytes")


if __name__ == "__main__":
    main()
