#!/usr/bin/env python3
"""The learning task of issue 6: a synthetic classification task that only adaptation solves.

    .venv-gen/bin/python Fixtures/generate/learning_task.py          (from the repository root)
    .venv-gen/bin/python Fixtures/generate/learning_reference.py     (then: the PyTorch runs)

The task ("open before close")
------------------------------
Every text is six words: a filler, then five places holding three more fillers and the two
markers "open" and "close" at random (fillers: 20 nouns, drawn uniformly). The label is
"ordered" when "open" comes before "close", "reversed" otherwise (balanced, alternating):
    {"text": "map open leaf close bird bus", "label": "ordered"}
    {"text": "leaf close sun bird hat open", "label": "reversed"}

Why the frozen base does not solve it: both classes have exactly the same distribution of
word multisets (every text holds open, close and four fillers), so nothing that depends on the
bag of words alone can tell them apart; only where the markers stand differs. In this randomly
initialised encoder the attention is close to uniform (over the 8 tokens, the largest weight
is 0.18 on average, against 0.125 for uniform) and the position embeddings are random vectors
with no order in them, mixed into each token only through LayerNorm and GELU, so the <s>
vector the head sees holds almost no trace of which word stands where: a head trained alone
stays at chance (learning_reference.py's head_only run; it ends at 0.49-0.55 over six model
seeds). This is an empirical property of this encoder, not an impossibility: a head given
clean (word, position) features could read the order off them. The frozen features are not
dead either: a head trained alone on the keyword version of the same texts (one marker
removed: which one is left?) reaches ~95% (the control run). An LSR adapter on query and value
makes the attention depend on the words and their places, so that the markers' positions reach
<s>: the PyTorch reference reaches 100% dev accuracy within two of its six epochs (240 steps).

The first word is never a marker because RoBERTa's tokenizer spells a text's first word
without the leading space, as a different token: with markers allowed there, "open"-without-
space occurs only in ordered texts and "close"-without-space only in reversed ones, a keyword
that a head alone picked up (final dev accuracy 0.64-0.70 over six model seeds).

Design notes (measured while designing, with transformers' own initialisation and the same
trainer settings): at initializer_range 0.02 the attention scores are so small that the adapter
needs most of the run to start (0.84 after 15 epochs of 400 rows of 12 words); 0.1 learns
fastest; 0.3 is noisier (0.835). Texts of 12 words with 400 rows overfit (train 100%, dev
93-97% depending on the shuffling seed), too close to the 90% bar for a 2-point comparison; six
words and 640 rows end at 100% for six model seeds and three shuffling seeds in PyTorch and
four shuffling seeds in lsrconv. Tasks that need the relative distance of two words (adjacent
or two apart) or an XOR of two word groups ("are the two markers from the same group of
three?") did not train within the budget (≤ 0.6): random position vectors carry no notion of
"next to", and the group task is a bag-of-words function the adapter found no easier than the
head did. (The issue also warns that labels taken from a planted adapter's logits come out
nearly constant on a random encoder; not tried here.)

What it writes (Fixtures/learning/, ~220 KB with the reference curves)
--------------------------------------------------------------------
  model/config.json, model/pytorch_model.bin
      RobertaForSequenceClassification (hidden 32, 2 layers, 4 heads, intermediate 64, 34
      positions, labels reversed/ordered), weights drawn here as HF initialises them (normal
      with std initializer_range = 0.1, biases 0, LayerNorm 1/0, padding rows 0) but from a
      platform-independent generator, so a rerun writes byte-identical files. The weights file
      is torch.save(model.state_dict()), as transformers < 5 save_pretrained(
      safe_serialization=False) wrote it (transformers 5 writes safetensors only).
  model/tokenizer.json, model/tokenizer_config.json
      a byte-level BPE (RoBERTa's scheme) trained on the task's 22 words so that every word,
      with or without the leading space, is one token: every text is 8 ids with <s> and </s>.
  train.jsonl (640 rows), dev.jsonl (200 rows)   {"text", "label"}; no dev text is in train.
  adapter-init/adapter_config.json + adapter_model.safetensors
      the adapter both trainers start from, in lsrconv's factor-file format (schema
      lsr-adapter): LSR on query and value of both layers, r = 4 = 2·2, s = 4, α = 8,
      32 = 8·4 on both sides, λ = 1 fixed; initialised as lsrconv's init-adapter does (ΔW = 0:
      Down factors and Lᵘ uniform in ±(3·(1/(3·fan·s))^½)^½ with fan = in for Down and r for
      Up, Rᵘ = 0); base_model.weights holds the sha256 of model/pytorch_model.bin.
"""
import hashlib
import json
import math
import os
import random
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import safetensors.torch  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaTokenizerFast  # noqa: E402

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

HERE = Path(__file__).resolve().parent
FIX = HERE.parent
OUT = FIX / "learning"

FILLERS = "cat dog sun sea map cup pen box hat key car bus tree lamp door bird fish rock leaf star".split()
OPEN, CLOSE = "open", "close"
LABELS = ["reversed", "ordered"]  # id 0: close comes first; id 1: open comes first
WORDS_PER_TEXT = 6
TRAIN_ROWS, DEV_ROWS = 640, 200
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4, as RoBERTa

HIDDEN, LAYERS, HEADS, INTERMEDIATE, POSITIONS, INIT_RANGE = 32, 2, 4, 64, 34, 0.1
# The adapter (DESIGN.md §4): 32 = 8·4 on both sides (the split lsrconv picks), r = 2·2.
S, R1, R2, ALPHA = 4, 2, 2, 8.0
RANK = R1 * R2
O1, O2 = 8, 4
I1, I2 = 8, 4
TARGETS = ["query", "value"]


def check_versions():
    pins = {}
    for line in (HERE / "requirements.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("#", 1)[0].strip().split("==", 1)
            pins[name] = version
    have = {"torch": torch.__version__, "transformers": transformers.__version__,
            "safetensors": safetensors.__version__, "tokenizers": tokenizers.__version__}
    bad = {n: (pins.get(n), v) for n, v in have.items() if pins.get(n) != v}
    if bad:
        print("WARNING: versions differ from requirements.txt (files may differ):", bad, file=sys.stderr)


# Platform-independent random numbers (as generate.py does it): only integers come from torch,
# floats are built from them with exact float64 arithmetic.
def uniform64(g, *shape):
    """Uniform [0, 1), 53 random bits."""
    n = math.prod(shape)
    return (torch.randint(0, 1 << 53, (n,), generator=g, dtype=torch.int64).double() * 2.0 ** -53).reshape(shape)


def normal64(g, *shape):
    """Approximately standard normal (Irwin-Hall: 12 uniforms of 32 bits minus 6; exact sums)."""
    n = math.prod(shape)
    u = torch.randint(0, 1 << 32, (12, n), generator=g, dtype=torch.int64).double() * 2.0 ** -32
    return (u.sum(0) - 6.0).reshape(shape)


def fresh_dir(path: Path) -> Path:
    assert OUT == path or OUT in path.parents
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def make_rows():
    """Balanced rows, labels alternating; the dev rows are drawn after the train rows and any
    text already in train is drawn again."""
    rng = random.Random(6)
    rows, seen = [], set()
    while len(rows) < TRAIN_ROWS + DEV_ROWS:
        label = len(rows) % 2
        words = [rng.choice(FILLERS) for _ in range(WORDS_PER_TEXT - 2)]
        # Never at position 0: the tokenizer spells a text's first word without the leading
        # space, as another token, whose mere presence would give the label away.
        first, second = sorted(rng.sample(range(1, WORDS_PER_TEXT), 2))
        words.insert(first, OPEN if label == 1 else CLOSE)
        words.insert(second, CLOSE if label == 1 else OPEN)
        text = " ".join(words)
        if text in seen:
            continue
        seen.add(text)
        rows.append({"text": text, "label": LABELS[label]})
    return rows[:TRAIN_ROWS], rows[TRAIN_ROWS:]


def train_tokenizer():
    """Byte-level BPE on the task's words, each alone and after a space, so that every word is
    one token in both forms (RoBERTa's tokenizer adds no prefix space to the first word)."""
    words = FILLERS + [OPEN, CLOSE]
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, min_frequency=1, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([f"{w} {w}" for w in words], trainer)
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, s
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    state = json.loads(tok.to_str())
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["model"]["merges"]]
    hf = RobertaTokenizerFast(vocab=state["model"]["vocab"], merges=merges, add_prefix_space=False, trim_offsets=True,
                              model_max_length=POSITIONS - 2)
    for w in words:
        assert len(hf(w)["input_ids"]) == 3 and len(hf("cat " + w)["input_ids"]) == 4, w
    return hf


def build_model(vocab_size):
    config = RobertaConfig(
        vocab_size=vocab_size, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE, max_position_embeddings=POSITIONS, type_vocab_size=1, layer_norm_eps=1e-5,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, initializer_range=INIT_RANGE, hidden_act="gelu",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,  # both trainers train without dropout
        num_labels=2, id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)},
    )
    model = RobertaForSequenceClassification(config).eval()
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                p.copy_((INIT_RANGE * normal64(g, *p.shape)).float())
        emb = model.roberta.embeddings
        emb.word_embeddings.weight[config.pad_token_id].zero_()
        emb.position_embeddings.weight[config.pad_token_id].zero_()
    return model


def write_model(directory: Path):
    hf_tok = train_tokenizer()
    model = build_model(len(hf_tok))
    model.save_pretrained(directory)  # config.json + model.safetensors (transformers 5)
    (directory / "model.safetensors").unlink()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, directory / "pytorch_model.bin")
    hf_tok.save_pretrained(directory)
    for extra in ("special_tokens_map.json", "vocab.json", "merges.txt"):
        if (directory / extra).exists():
            (directory / extra).unlink()  # tokenizer.json holds them
    # transformers reads the .bin back to the same weights and logits.
    back = RobertaForSequenceClassification.from_pretrained(directory).eval()
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    return hf_tok


def write_adapter(directory: Path, weights_file: Path):
    """The initial adapter, as lsrconv's AdapterInit makes it (start = zero: ΔW = 0)."""
    g = torch.Generator().manual_seed(7)

    def uniform(shape, fan):
        bound = math.sqrt(3 * math.sqrt(1 / (3 * fan * S)))
        return (bound * (2 * uniform64(g, *shape) - 1)).float()

    tensors, modules = {}, []
    for layer in range(LAYERS):
        for target in TARGETS:
            name = f"roberta.encoder.layer.{layer}.attention.self.{target}"
            parts = {
                "up": (uniform((S, O1, R1), RANK), torch.zeros(S, O2, R2)),
                "down": (uniform((S, R1, I1), HIDDEN), uniform((S, R2, I2), HIDDEN)),
            }
            entry = {"name": name, "out_features": HIDDEN, "in_features": HIDDEN, "out_split": [O1, O2], "in_split": [I1, I2]}
            for factor, (left, right) in parts.items():
                prefix = f"{name}.lsr_{factor}"
                values = {"left": left, "right": right, "scales": torch.ones(S)}
                for part, t in values.items():
                    tensors[f"{prefix}.{part}"] = t.contiguous()
                entry[factor] = {part: {"tensor": f"{prefix}.{part}", "shape": list(t.shape)} for part, t in values.items()}
            modules.append(entry)
    config = {
        "$schema": "urn:lsrconv:schema:lsr-adapter:1", "format_version": 1, "kind": "lsr", "rank": RANK,
        "separation_rank": S, "rank_split": [R1, R2], "trainable_scales": False, "alpha": ALPHA,
        "scaling": ALPHA / RANK, "targets": TARGETS,
        "base_model": {"model_type": "roberta", "hidden_size": HIDDEN, "num_hidden_layers": LAYERS,
                       "num_attention_heads": HEADS, "intermediate_size": INTERMEDIATE,
                       "vocab_size": json.loads((weights_file.parent / "config.json").read_text())["vocab_size"],
                       "weights": [{"file": weights_file.name, "sha256": hashlib.sha256(weights_file.read_bytes()).hexdigest()}]},
        "modules": modules, "head": None,
    }
    (directory / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    safetensors.torch.save_file(tensors, str(directory / "adapter_model.safetensors"), metadata={"format": "lsrconv"})


def main():
    check_versions()
    OUT.mkdir(parents=True, exist_ok=True)
    model_dir = fresh_dir(OUT / "model")
    hf_tok = write_model(model_dir)
    train, dev = make_rows()
    for name, rows in (("train.jsonl", train), ("dev.jsonl", dev)):
        (OUT / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
        assert all(len(hf_tok(r["text"])["input_ids"]) == WORDS_PER_TEXT + 2 for r in rows)
    write_adapter(fresh_dir(OUT / "adapter-init"), model_dir / "pytorch_model.bin")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT}: vocab {len(hf_tok)}, {len(train)} train / {len(dev)} dev rows, {size / 1000:.0f} KB")


if __name__ == "__main__":
    main()
