#!/usr/bin/env python3
"""The PyTorch reference runs on the learning task (issue 6): what lsrconv's trainer must match.

    .venv-gen/bin/python Fixtures/generate/learning_reference.py   (after learning_task.py)

Three runs on Fixtures/learning/ (the task and why only adaptation solves it: learning_task.py),
all with the settings lsrconv's Trainer uses: the base model frozen and in eval mode (no
dropout), the classification head trained, torch.optim.AdamW (betas 0.9/0.999, eps 1e-8,
weight decay 0.01), transformers' get_linear_schedule_with_warmup (warm-up 10% of the steps,
then linear decay to 0), mean cross-entropy, batches of 16 in a freshly shuffled order each
epoch, dev accuracy and loss after every epoch, float32.
  lsr        the adapter of adapter-init/ on query and value (Up = Σ λ kron(L, R), Down likewise,
             ΔW = (α/r)·Up·Down added to the Linear's output; λ fixed at 1), its factors and
             the head trained: must reach ≥ 90% dev accuracy.
  head_only  the same model with only the head trained (the adapter stays at its ΔW = 0 start):
             must stay near chance (≤ 65%).
  control    head only on the keyword version of the task, built here in memory: the same
             words, but only one marker per text (label: is it "open"?). The frozen features
             carry the words, so a head alone learns this (≥ 80%): the head-only failure above
             is the order task's, not dead features.
Writes Fixtures/learning/reference_curves.json (settings + per-epoch curves) and
Fixtures/learning/curves.svg (dev accuracy per epoch of the three runs). Float results can
differ in the last digits on another machine (PyTorch's kernels differ by CPU); the
assertions above hold with a wide margin.
"""
import json
import math
import os
import random
import sys
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import safetensors.torch  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup  # noqa: E402

import lsr_torch  # noqa: E402  (Fixtures/generate/lsr_torch.py: the adapter hooks)

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

FIX = Path(__file__).resolve().parents[1]
DIR = FIX / "learning"
SETTINGS = {
    "epochs": 6, "batch_size": 16, "learning_rate": 1e-2, "warmup_ratio": 0.1, "weight_decay": 0.01,
    "betas": [0.9, 0.999], "eps": 1e-8, "max_length": 32, "dropout": 0.0, "loss": "mean cross-entropy",
    "schedule": "linear with warm-up (transformers get_linear_schedule_with_warmup)", "shuffle_seed": 0,
    "trained": "lsr: the adapter factors (left, right of Up and Down; scales fixed) and the head; head_only, control: the head",
}


def read_rows(path, tokenizer, label2id):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    ids = torch.tensor([tokenizer(r["text"], truncation=True, max_length=SETTINGS["max_length"])["input_ids"] for r in rows])
    return ids, torch.tensor([label2id[r["label"]] for r in rows])


def load_model():
    model = AutoModelForSequenceClassification.from_pretrained(DIR / "model", dtype=torch.float32).eval()
    return model, lsr_torch.freeze_all_but_head(model)


def attach_adapter(model):
    """Forward hooks adding (α/r)·x·Downᵀ·Upᵀ to each adapted Linear; returns the trained factors."""
    config = json.loads((DIR / "adapter-init/adapter_config.json").read_text())
    tensors = safetensors.torch.load_file(str(DIR / "adapter-init/adapter_model.safetensors"))
    factors = {k: v.clone().requires_grad_(not k.endswith(".scales")) for k, v in tensors.items()}
    lsr_torch.attach(model, config, factors)
    return [t for k, t in factors.items() if not k.endswith(".scales")]


def evaluate(model, ids, labels):
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        loss = torch.nn.functional.cross_entropy(logits, labels).item()
        accuracy = (logits.argmax(-1) == labels).double().mean().item()
    return accuracy, loss


def train(model, parameters, train_data, dev_data):
    s = SETTINGS
    optimizer = torch.optim.AdamW(parameters, lr=s["learning_rate"], betas=tuple(s["betas"]), eps=s["eps"], weight_decay=s["weight_decay"])
    per_epoch = math.ceil(len(train_data[1]) / s["batch_size"])
    total = per_epoch * s["epochs"]
    schedule = get_linear_schedule_with_warmup(optimizer, round(total * s["warmup_ratio"]), total)
    generator = torch.Generator().manual_seed(s["shuffle_seed"])
    curve, step = [], 0
    for epoch in range(1, s["epochs"] + 1):
        order = torch.randperm(len(train_data[1]), generator=generator)
        losses = []
        for start in range(0, len(order), s["batch_size"]):
            batch = order[start:start + s["batch_size"]]
            ids, labels = train_data[0][batch], train_data[1][batch]
            loss = torch.nn.functional.cross_entropy(model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            step += 1
        accuracy, dev_loss = evaluate(model, *dev_data)
        curve.append({"epoch": epoch, "step": step, "train_loss": round(sum(losses) / len(losses), 6),
                      "dev_loss": round(dev_loss, 6), "dev_accuracy": round(accuracy, 6)})
        print(f"  epoch {epoch}  step {step}  train loss {curve[-1]['train_loss']:.4f}  dev loss {dev_loss:.4f}  dev accuracy {accuracy:.3f}")
    return curve


def keyword_rows(path):
    """The control task from the same texts: drop one of the two markers; label 1 when "open" is left."""
    rows = []
    for i, line in enumerate(path.read_text().splitlines()):
        words = json.loads(line)["text"].split()
        drop = "close" if i % 2 else "open"
        words.remove(drop)
        rows.append({"text": " ".join(words), "label": "ordered" if i % 2 else "reversed"})
    return rows


def svg(runs, path):
    """Dev accuracy per epoch, one polyline per run."""
    w, h, left, bottom, top, right = 520, 300, 50, 40, 20, 150
    epochs = SETTINGS["epochs"]
    x = lambda e: left + (w - left - right) * e / epochs  # noqa: E731
    y = lambda a: top + (h - top - bottom) * (1 - (a - 0.4) / 0.6)  # noqa: E731  accuracy 0.4..1.0
    colors = {"lsr": "#1f77b4", "head_only": "#d62728", "control": "#7f7f7f"}
    names = {"lsr": "LSR adapter + head", "head_only": "head only", "control": "head only, keyword task"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    for a in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(a):.1f}" y2="{y(a):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y(a) + 4:.1f}" text-anchor="end">{a:.1f}</text>')
    for e in range(epochs + 1):
        out.append(f'<text x="{x(e):.1f}" y="{h - bottom + 15}" text-anchor="middle">{e}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 8}" text-anchor="middle">epoch</text>')
    out.append(f'<text x="12" y="{(top + h - bottom) / 2}" transform="rotate(-90 12 {(top + h - bottom) / 2})" '
               'text-anchor="middle">dev accuracy (PyTorch reference)</text>')
    for i, (name, curve) in enumerate(runs.items()):
        points = [(0, 0.5)] + [(c["epoch"], c["dev_accuracy"]) for c in curve]
        dash = ' stroke-dasharray="4 3"' if name == "control" else ""
        out.append(f'<polyline fill="none" stroke="{colors[name]}" stroke-width="2"{dash} points="'
                   + " ".join(f"{x(e):.1f},{y(a):.1f}" for e, a in points) + '"/>')
        ly = top + 10 + 18 * i
        out.append(f'<line x1="{w - right + 10}" x2="{w - right + 30}" y1="{ly}" y2="{ly}" stroke="{colors[name]}" stroke-width="2"{dash}/>'
                   f'<text x="{w - right + 35}" y="{ly + 4}">{names[name]}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)  # the runs are tiny; one thread keeps them reproducible here
    tokenizer = AutoTokenizer.from_pretrained(DIR / "model")
    label2id = json.loads((DIR / "model/config.json").read_text())["label2id"]
    train_data = read_rows(DIR / "train.jsonl", tokenizer, label2id)
    dev_data = read_rows(DIR / "dev.jsonl", tokenizer, label2id)
    runs = {}

    print("lsr: adapter + head")
    model, head = load_model()
    runs["lsr"] = train(model, attach_adapter(model) + head, train_data, dev_data)
    print("head_only: head alone")
    model, head = load_model()
    runs["head_only"] = train(model, head, train_data, dev_data)

    print("control: head alone on the keyword task")
    encode = lambda rows: (torch.tensor([tokenizer(r["text"])["input_ids"] for r in rows]),  # noqa: E731
                           torch.tensor([label2id[r["label"]] for r in rows]))
    model, head = load_model()
    runs["control"] = train(model, head, encode(keyword_rows(DIR / "train.jsonl")), encode(keyword_rows(DIR / "dev.jsonl")))

    final = {name: curve[-1]["dev_accuracy"] for name, curve in runs.items()}
    assert final["lsr"] >= 0.90, final
    assert final["head_only"] <= 0.65, final
    assert final["control"] >= 0.80, final
    document = {
        "task": "open before close (Fixtures/generate/learning_task.py): label ordered when 'open' precedes 'close'",
        "torch": torch.__version__, "transformers": transformers.__version__,
        "settings": SETTINGS,
        "train_rows": len(train_data[1]), "dev_rows": len(dev_data[1]),
        "steps": runs["lsr"][-1]["step"],
        "runs": runs,
    }
    (DIR / "reference_curves.json").write_text(json.dumps(document, indent=2) + "\n")
    svg(runs, DIR / "curves.svg")
    print("final dev accuracy:", final)
    print("wrote", DIR / "reference_curves.json", "and", DIR / "curves.svg")


if __name__ == "__main__":
    sys.exit(main())
