#!/usr/bin/env python3
"""A pretrained-style checkpoint without a classification head (issue 15): the starting point users
actually have (roberta-base on the Hub is a RobertaForMaskedLM: roberta.*, lm_head.*, no classifier.*).

    .venv-gen/bin/python Fixtures/generate/pretrained_mlm.py      (from the repository root, after learning_task.py)

Writes Fixtures/pretrained-mlm/: a RobertaForMaskedLM saved by transformers' save_pretrained
(model.safetensors, config.json) with the learning task's tokenizer files. Its encoder is the
learning task's (Fixtures/learning/model: the same random RoBERTa, hidden 32, 2 layers), so that
`lsrconv train` on Fixtures/learning/train.jsonl, with a fresh head, has a task it can learn and
`make demo` can start from this checkpoint; its lm_head is transformers' own initialisation
(seed 0), tied to the word embeddings as RobertaForMaskedLM ties them (save_pretrained then leaves
lm_head.decoder.weight out). The config is the learning model's minus every label field, with
architectures ["RobertaForMaskedLM"], as a masked-LM checkpoint's.

Pinned versions: Fixtures/generate/requirements.txt (torch 2.13.0+cpu, transformers 5.23.0).
"""
import shutil
from pathlib import Path

import torch
from transformers import RobertaConfig, RobertaForMaskedLM, RobertaForSequenceClassification

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "Fixtures/learning/model"
OUT = ROOT / "Fixtures/pretrained-mlm"


def main():
    classifier = RobertaForSequenceClassification.from_pretrained(SOURCE)
    config = RobertaConfig.from_pretrained(SOURCE)
    config.architectures = ["RobertaForMaskedLM"]
    for field in ("id2label", "label2id"):
        if hasattr(config, field):
            delattr(config, field)
    config.num_labels = 2  # transformers' default: writes LABEL_0/LABEL_1 unless cleared below
    torch.manual_seed(0)
    mlm = RobertaForMaskedLM(config).eval()
    missing, unexpected = mlm.roberta.load_state_dict(classifier.roberta.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("pooler.") for k in missing), (missing, unexpected)
    if OUT.exists():
        shutil.rmtree(OUT)
    mlm.save_pretrained(OUT)
    # A masked-LM checkpoint names no labels: drop what PretrainedConfig writes by default.
    import json
    path = OUT / "config.json"
    document = json.loads(path.read_text())
    for field in ("id2label", "label2id", "num_labels", "problem_type"):
        document.pop(field, None)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(SOURCE / name, OUT / name)
    print(f"wrote {OUT}: " + ", ".join(sorted(p.name for p in OUT.iterdir())))


if __name__ == "__main__":
    main()
