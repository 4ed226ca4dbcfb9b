#!/usr/bin/env python3
"""Heavy interop check: lsrconv's merged models and PEFT exports against torch, transformers, peft.

    .venv-gen/bin/python Tests/interop/check_torch.py [LSRCONV]     (default: .build/debug/lsrconv)

`make interop-torch` runs it in .venv-gen/ (Fixtures/generate/requirements.txt: torch,
transformers, peft 0.21.2). Paths are resolved from the repository root; outputs go to a
temporary directory.

  a. `lsrconv merge` of Fixtures/reference/adapter (an LSR adapter written by PyTorch) into
     Fixtures/tiny-roberta loads with AutoModelForSequenceClassification.from_pretrained; its
     logits equal the reference adapted logits (Fixtures/reference/adapted.safetensors, on the
     batch of Fixtures/reference/forward.safetensors) and lsrconv's `predict --json` on the merged
     directory for the texts of forward.json (tolerance 1e-4).
  b. `lsrconv export --format peft-lora` of the same adapter, with --model (task_type SEQ_CLS, the
     base's classifier under modules_to_save) and without (task_type null): adapter_config.json is
     byte for byte what peft's LoraConfig.save_pretrained writes for the same task_type, r,
     lora_alpha, target_modules (whose order PEFT leaves to a Python set: compared as a set),
     modules_to_save and base_model_name_or_path, and the directory loads with
     PeftModel.from_pretrained(base, dir) and gives the same logits (1e-4); merge_and_unload()
     gives lsrconv merge's weights (1e-5).
  c. A LoRA adapter made by PEFT itself (random A and B, seed fixed), converted to LSR by
     `lsrconv convert-adapter` at full separation rank: merging it with lsrconv reproduces PEFT's
     merge_and_unload() weights (relative error < 1e-5) and logits. Skipped, with a note, while
     lsrconv has no convert-adapter command.
  d. `lsrconv init-adapter --init random` (kind lora, and kind lsr on query + output.dense, where
     target_modules must be a regex), then `export --format peft-lora --model`: PEFT's logits equal those
     of `lsrconv merge` of the same adapter loaded through transformers (1e-4).

  e. From a pretrained checkpoint without a head (issue 15): `lsrconv train` on Fixtures/pretrained-mlm
     (a RobertaForMaskedLM saved by save_pretrained) with a fresh head on the learning task, then
     `merge`: AutoModelForSequenceClassification.from_pretrained loads the merged directory with no
     missing, unexpected or newly initialised weights, the right labels and problem_type, and gives
     `lsrconv predict --adapter`'s logits (1e-4); `export --format peft-lora` loads with
     PeftModel.from_pretrained onto AutoModelForSequenceClassification.from_pretrained(pretrained,
     num_labels, id2label) and gives the same logits.

Prints one line per check and ends with `N passed, M failed`; exits 1 when M > 0.
"""

import json
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import Report  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from peft import LoraConfig, PeftModel, TaskType, get_peft_model  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()
try:
    hf_logging.disable_progress_bar()
except AttributeError:
    pass

LSRCONV = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / ".build/debug/lsrconv").resolve()
MODEL = ROOT / "Fixtures/tiny-roberta"
ADAPTER = ROOT / "Fixtures/reference/adapter"
REFERENCE = ROOT / "Fixtures/reference/adapted.safetensors"
BATCH = ROOT / "Fixtures/reference/forward.safetensors"
FORWARD = json.loads((ROOT / "Fixtures/reference/forward.json").read_text())
EXAMPLES = list(zip(FORWARD["texts"], FORWARD["pairs"]))

LOGITS_TOL = 1e-4
WEIGHTS_TOL = 1e-5


def lsrconv(*args):
    for attempt in range(10):  # ETXTBSY while a concurrent build rewrites the binary
        try:
            result = subprocess.run([str(LSRCONV), *map(str, args)], capture_output=True, text=True)
            break
        except OSError as error:
            if error.errno != 26 or attempt == 9:
                raise RuntimeError(f"lsrconv {' '.join(map(str, args))}: {error}") from error
            time.sleep(2)
    if result.returncode != 0:
        raise RuntimeError(f"lsrconv {' '.join(map(str, args))}: exit {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def predict_logits(model_dir):
    """lsrconv predict --json, one example at a time: [n, labels]."""
    rows = []
    for text, pair in EXAMPLES:
        args = ["predict", "--model", model_dir, "--text", text, "--json"]
        if pair is not None:
            args += ["--pair", pair]
        rows.append(json.loads(lsrconv(*args))["predictions"][0]["logits"])
    return np.array(rows, dtype=np.float64)


def batch_logits(model):
    """Logits on the reference batch (padded input_ids + attention_mask of forward.safetensors)."""
    batch = load_file(str(BATCH))
    with torch.no_grad():
        out = model(
            input_ids=torch.from_numpy(batch["input_ids"].astype(np.int64)),
            attention_mask=torch.from_numpy(batch["attention_mask"].astype(np.int64)),
        )
    return out.logits.double().numpy()


def text_logits(model, tokenizer):
    """Logits for the examples of forward.json, one at a time (no padding)."""
    rows = []
    with torch.no_grad():
        for text, pair in EXAMPLES:
            encoded = tokenizer(text, pair, return_tensors="pt") if pair is not None else tokenizer(text, return_tensors="pt")
            rows.append(model(**encoded).logits[0].double().numpy())
    return np.array(rows)


def difference(label, actual, expected, tol):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return f"{label}: shape {actual.shape} != {expected.shape}"
    d = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    return None if d <= tol else f"{label}: max |Δ| = {d:.3g} > {tol:g}"


def base_model():
    model = AutoModelForSequenceClassification.from_pretrained(str(MODEL))
    return model.eval()


def hf_model(directory):
    return AutoModelForSequenceClassification.from_pretrained(str(directory)).eval()


def peft_model(directory):
    return PeftModel.from_pretrained(base_model(), str(directory)).eval()


def peft_config_problems(directory):
    """adapter_config.json against what peft's LoraConfig.save_pretrained writes for it."""
    ours_bytes = (Path(directory) / "adapter_config.json").read_bytes()
    ours = json.loads(ours_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        LoraConfig(
            task_type=ours["task_type"],
            r=ours["r"],
            lora_alpha=ours["lora_alpha"],
            target_modules=ours["target_modules"],
            modules_to_save=ours["modules_to_save"],
            lora_dropout=0.0,
            base_model_name_or_path=ours["base_model_name_or_path"],
            inference_mode=True,
        ).save_pretrained(tmp)
        theirs_bytes = (Path(tmp) / "adapter_config.json").read_bytes()
    theirs = json.loads(theirs_bytes)
    problems = []
    if sorted(theirs) != sorted(ours):
        problems.append(f"fields: missing {sorted(set(theirs) - set(ours))}, extra {sorted(set(ours) - set(theirs))}")
    tm_ours, tm_theirs = ours.get("target_modules"), theirs.get("target_modules")
    if isinstance(tm_theirs, list) and isinstance(tm_ours, list):
        if sorted(tm_ours) != sorted(tm_theirs):
            problems.append(f"target_modules {tm_ours} != {tm_theirs}")
        theirs["target_modules"] = tm_ours  # PEFT's order is a Python set's
        theirs_bytes = json.dumps(theirs, indent=2, sort_keys=True).encode()
    if ours_bytes != theirs_bytes:
        for n, (a, b) in enumerate(zip(ours_bytes.decode().splitlines(), theirs_bytes.decode().splitlines())):
            if a != b:
                problems.append(f"line {n + 1}: ours {a.strip()!r}, peft {b.strip()!r}")
                break
        else:
            problems.append(f"bytes differ ({len(ours_bytes)} vs {len(theirs_bytes)}: final newline?)")
    return problems


def weight_problems(merged_state, directory, tol, relative=False):
    """Every tensor of a merged transformers model against a merged directory's safetensors."""
    files = sorted(Path(directory).glob("*.safetensors"))
    theirs = {}
    for f in files:
        theirs.update(load_file(str(f)))
    problems = []
    for name, value in merged_state.items():
        if name not in theirs:
            continue
        a, b = value.detach().double().numpy(), theirs[name].astype(np.float64)
        if relative:
            d = float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))
        else:
            d = float(np.max(np.abs(a - b))) if a.size else 0.0
        if a.shape != b.shape or d > tol:
            problems.append(f"{name}: {'relative error' if relative else 'max |Δ|'} {d:.3g}")
    checked = len([n for n in merged_state if n in theirs])
    if checked == 0:
        problems.append("no tensor in common")
    return problems


def main():
    report = Report()
    try:
        run_checks(report)
    except Exception as error:  # a crash is one failure, not a traceback without a tally
        traceback.print_exc()
        report.check("checks ran to the end", f"{type(error).__name__}: {error}")
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


def run_checks(report):
    tmp = Path(tempfile.mkdtemp(prefix="lsrconv-interop-torch-"))
    tokenizer = AutoTokenizer.from_pretrained(str(MODEL))
    reference = load_file(str(REFERENCE))["logits"]

    # a. merge → transformers
    merged = tmp / "merged"
    lsrconv("merge", "--model", MODEL, "--adapter", ADAPTER, "--out", merged)
    hf = hf_model(merged)
    hf_batch = batch_logits(hf)
    report.check("a. merged model (from_pretrained) gives the reference adapted logits", difference("logits", hf_batch, reference, LOGITS_TOL))
    predicted = predict_logits(merged)
    hf_texts = text_logits(hf, tokenizer)
    report.check("a. merged model (from_pretrained) gives lsrconv predict's logits", difference("logits", hf_texts, predicted, LOGITS_TOL))
    base_batch = batch_logits(base_model())
    report.info(f"a. adapted vs base logits differ by {float(np.max(np.abs(base_batch - reference))):.3g} (the checks are not vacuous)")

    # b. export peft-lora → PeftModel: with --model (task_type SEQ_CLS, the base's classifier under
    #    modules_to_save) and without (no head: task_type null, the base model's own head runs)
    for label, extra in [("--model: SEQ_CLS", ["--model", MODEL]), ("no head: task_type null", [])]:
        exported = tmp / ("peft-seqcls" if extra else "peft-plain")
        lsrconv("export", "--adapter", ADAPTER, "--format", "peft-lora", "--out", exported, *extra)
        report.check(f"b. peft-lora ({label}) adapter_config.json is what PEFT writes", peft_config_problems(exported))
        model = peft_model(exported)
        report.check(f"b. PeftModel.from_pretrained(export, {label}) gives the reference adapted logits",
                     difference("logits", batch_logits(model), reference, LOGITS_TOL))
        report.check(f"b. PeftModel.from_pretrained(export, {label}) gives lsrconv predict's logits",
                     difference("logits", text_logits(model, tokenizer), predicted, LOGITS_TOL))
        unloaded = model.merge_and_unload()
        report.check(f"b. merge_and_unload() of the export ({label}) gives lsrconv merge's weights",
                     weight_problems(unloaded.state_dict(), merged, WEIGHTS_TOL))

    # c. PEFT-made LoRA → convert-adapter → lsrconv merge
    try:
        lsrconv("convert-adapter", "--help")
        has_convert = True
    except RuntimeError:
        has_convert = False
    if not has_convert:
        report.info("c. skipped: lsrconv has no convert-adapter command yet")
    else:
        torch.manual_seed(0)
        lora = get_peft_model(
            base_model(),
            LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, target_modules=["query", "value"], lora_dropout=0.0, init_lora_weights=False),
        )
        peft_dir, lsr_dir, lsr_merged = tmp / "peft-made", tmp / "converted", tmp / "converted-merged"
        lora.save_pretrained(str(peft_dir))
        try:
            lsrconv("convert-adapter", "--from", peft_dir, "--out", lsr_dir, "--separation-rank", "full", "--model", MODEL)
            lsrconv("merge", "--model", MODEL, "--adapter", lsr_dir, "--out", lsr_merged)
            peft_merged = peft_model(peft_dir)
            peft_logits = batch_logits(peft_merged)
            state = peft_merged.merge_and_unload().state_dict()
            report.check("c. convert-adapter (full separation rank) + merge reproduces PEFT's merged weights",
                         weight_problems(state, lsr_merged, 1e-5, relative=True))
            report.check("c. ... and PEFT's logits", difference("logits", batch_logits(hf_model(lsr_merged)), peft_logits, LOGITS_TOL))
        except RuntimeError as error:
            report.check("c. convert-adapter of a PEFT-made LoRA adapter", str(error))

    # d. init-adapter --init random → export peft-lora → PeftModel, against lsrconv merge → transformers
    for label, extra in [
        ("lora", ["--kind", "lora", "--targets", "query,value"]),
        ("lsr, query + output.dense", ["--kind", "lsr", "--targets", "query,output.dense", "--separation-rank", "4"]),
    ]:
        name = label.split(",")[0]
        adapter, exported, merged_d = tmp / f"init-{name}", tmp / f"init-{name}-peft", tmp / f"init-{name}-merged"
        try:
            lsrconv("init-adapter", "--model", MODEL, "--out", adapter, "--init", "random", "--seed", 7, *extra)
            lsrconv("export", "--adapter", adapter, "--format", "peft-lora", "--out", exported, "--model", MODEL)
            lsrconv("merge", "--model", MODEL, "--adapter", adapter, "--out", merged_d)
        except RuntimeError as error:
            report.check(f"d. init-adapter ({label}) → export → PEFT", str(error))
            continue
        expected = batch_logits(hf_model(merged_d))
        problems = [difference("logits", batch_logits(peft_model(exported)), expected, LOGITS_TOL)]
        gap = float(np.max(np.abs(expected - base_batch)))
        if gap < 1e-4:
            problems.append(f"random adapter leaves the logits at the base's (max |Δ| {gap:.3g}): check is vacuous")
        target_modules = json.loads((exported / "adapter_config.json").read_text())["target_modules"]
        report.check(f"d. init-adapter --init random ({label}): PeftModel logits = merged model logits (target_modules {target_modules!r})", problems)

    pretrained_checks(report, tmp)


def pretrained_checks(report, tmp):
    """e. Fixtures/pretrained-mlm → train (fresh head) → merge / export → transformers, PEFT."""
    pretrained = ROOT / "Fixtures/pretrained-mlm"
    adapter, merged, exported = tmp / "fresh-adapter", tmp / "fresh-merged", tmp / "fresh-peft"
    try:
        lsrconv("train", "--model", pretrained, "--train", ROOT / "Fixtures/learning/train.jsonl", "--out", adapter,
                "--max-steps", 40, "--lr", "1e-2", "--separation-rank", 4, "--warmup-steps", 4)
        lsrconv("merge", "--model", pretrained, "--adapter", adapter, "--out", merged)
        lsrconv("export", "--adapter", adapter, "--format", "peft-lora", "--out", exported)
    except RuntimeError as error:
        report.check("e. train from a pretrained checkpoint → merge, export", str(error))
        return
    texts = ["map open leaf close bird bus", "leaf close sun bird hat open", "open close map bus sun hat"]
    ours = np.array([json.loads(lsrconv("predict", "--model", pretrained, "--adapter", adapter, "--text", t, "--json"))
                     ["predictions"][0]["logits"] for t in texts])
    tokenizer = AutoTokenizer.from_pretrained(str(pretrained))

    def logits(model):
        with torch.no_grad():
            return np.array([model(**tokenizer(t, return_tensors="pt")).logits[0].double().numpy() for t in texts])

    model, info = AutoModelForSequenceClassification.from_pretrained(str(merged), output_loading_info=True)
    loading = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    report.check("e. merged classifier from a pretrained checkpoint loads with no missing, unexpected or mismatched keys",
                 None if not loading else f"loading info: {loading}")
    config = model.config
    labels_ok = config.id2label == {0: "ordered", 1: "reversed"} and config.label2id == {"ordered": 0, "reversed": 1}
    report.check("e. ... with the labels of the training file and problem_type single_label_classification",
                 None if labels_ok and config.problem_type == "single_label_classification" and config.num_labels == 2
                 else f"id2label {config.id2label}, label2id {config.label2id}, problem_type {config.problem_type}")
    report.check("e. ... and gives lsrconv predict --adapter's logits", difference("logits", logits(model.eval()), ours, LOGITS_TOL))
    base = AutoModelForSequenceClassification.from_pretrained(
        str(pretrained), num_labels=2, id2label={0: "ordered", 1: "reversed"}, label2id={"ordered": 0, "reversed": 1})
    peft = PeftModel.from_pretrained(base, str(exported)).eval()
    report.check("e. PEFT export onto AutoModelForSequenceClassification(pretrained) gives the same logits",
                 difference("logits", logits(peft), ours, LOGITS_TOL))
    gap = float(np.max(np.abs(ours[:, 0] - ours[:, 1])))
    report.info(f"e. trained logits separate the labels by up to {gap:.3g} (the checks are not vacuous)")


if __name__ == "__main__":
    sys.exit(main())
