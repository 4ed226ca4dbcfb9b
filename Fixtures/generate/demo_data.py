#!/usr/bin/env python3
"""The demo's data: a keyword task on the tiny model's vocabulary (stdlib only, no torch).

    python3 Fixtures/generate/demo_data.py

Writes Fixtures/demo/train.jsonl (48 rows) and dev.jsonl (16 rows): six random filler words
(seed 0) with "wonderful" (label positive) or "dreadful" (negative) inserted at a random place,
labels alternating. The base model cannot tell them apart (dev accuracy 0.5); an LSR adapter on
query and value with the head learns it in a few hundred steps (`make demo`). It is a smoke test
of the pipeline, not the learning benchmark of the trainer issue.
"""
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "Fixtures" / "demo"
WORDS = "the a film story actor plot music scene day night city river book song".split()


def main():
    random.seed(0)
    rows = []
    for i in range(64):
        label = i % 2
        words = [random.choice(WORDS) for _ in range(6)]
        words.insert(random.randrange(7), "wonderful" if label else "dreadful")
        rows.append({"text": " ".join(words), "label": ["negative", "positive"][label]})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:48]))
    (OUT / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[48:]))


if __name__ == "__main__":
    main()
