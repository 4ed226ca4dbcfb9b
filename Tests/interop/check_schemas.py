#!/usr/bin/env python3
"""Interop check: lsrconv's JSON against the official python-jsonschema, and the adapter format
against a numpy reading of it.

    python Tests/interop/check_schemas.py [LSRCONV]     (default: .build/debug/lsrconv)

Run from anywhere; paths are resolved from the repository root.  `make interop` runs it in
.venv-interop/ with the pinned packages of requirements.txt (jsonschema, safetensors, numpy).

  a. Schemas: every schemas/*.schema.json is a valid draft 2020-12 schema for python-jsonschema's
     Draft202012Validator.check_schema, and `lsrconv schema NAME` prints the file byte for byte.
  b. Adapter configs: adapter directories written here by hand (numpy + safetensors, following
     the format of DESIGN.md §5: an LSR one with a trained head, a LoRA one), the PyTorch-written
     Fixtures/reference/adapter and, when the command exists, `lsrconv init-adapter`'s (lsr, lora), are
     valid for python-jsonschema against lsr-adapter.schema.json, and `lsrconv validate DIR
     --model Fixtures/tiny-roberta` finds them valid with no warning.
  c. Verdicts: single faults planted in a config (a wrong type, a range, a pattern, an unknown
     property, a missing field, ...) make both validators say invalid, with as many errors.
  d. Outputs: every JSON document lsrconv prints (inspect, import, predict, predict --data lines,
     tokenize, validate; --json) is valid for python-jsonschema against its schema.
  e. ΔW: the README's numpy snippet (README_SNIPPET below, which README.md must quote verbatim
     once it has the "Adapter files and schemas" section) rebuilds ΔW from adapter_config.json and
     adapter_model.safetensors alone; it matches PyTorch's ΔW for Fixtures/reference/adapter,
     `lsrconv merge`'s W' − W, and `lsrconv export --format delta` (each when the command exists;
     a missing command is a printed note, not a failure).  Tolerance: 1e-5 relative to max |ΔW|.

Prints one line per check and ends with `N passed, M failed`; exits 1 when M > 0.
"""

import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
from jsonschema import Draft202012Validator
from safetensors.numpy import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Fixtures"
SCHEMAS = ROOT / "schemas"
MODEL = FIXTURES / "tiny-roberta"
TIMEOUT_S = 120  # one lsrconv run on these fixtures takes well under a second
TOLERANCE = 1e-5

# The README's snippet, verbatim (section "Adapter files and schemas").
README_SNIPPET = '''\
import json
import numpy as np
from safetensors.numpy import load_file

def delta_weights(adapter_dir):
    """ΔW [out, in] of every module of an lsrconv adapter directory, by module name."""
    config = json.load(open(f"{adapter_dir}/adapter_config.json"))
    tensors = load_file(f"{adapter_dir}/adapter_model.safetensors")
    scaling = config["alpha"] / config["rank"]
    deltas = {}
    for module in config["modules"]:
        factor = {}
        for side in ("up", "down"):
            if config["kind"] == "lsr":  # Σ_k λ_k · kron(L_k, R_k)
                left, right, scales = (tensors[module[side][part]["tensor"]] for part in ("left", "right", "scales"))
                factor[side] = sum(scales[k] * np.kron(left[k], right[k]) for k in range(len(scales)))
            else:  # lora: the matrices themselves
                factor[side] = tensors[module[side]["weight"]["tensor"]]
        deltas[module["name"]] = scaling * factor["up"] @ factor["down"]  # [out, r] @ [r, in]
    return deltas
'''


from report import Report, lsrconv_binary  # noqa: E402  (Tests/interop/report.py, beside this script)


def run_lsrconv(binary, args):
    """(exit status, stdout, stderr); a timeout counts as status -1."""
    try:
        p = subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {TIMEOUT_S} s"


def has_command(binary, name):
    """Whether `lsrconv --help` lists subcommand `name` (`lsrconv NAME --help` shows the root's help
    for an unknown NAME, with status 0)."""
    status, out, _ = run_lsrconv(binary, ["--help"])
    listed = out.split("SUBCOMMANDS:", 1)[-1].splitlines()
    return status == 0 and any(line.split()[:1] == [name] for line in listed)


def first_error_line(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    return next((l for l in lines if l.startswith("error:")), lines[-1] if lines else "(no stderr)")


def validator(name):
    return Draft202012Validator(json.loads((SCHEMAS / f"{name}.schema.json").read_text()))


def schema_errors(name, document):
    """python-jsonschema's errors for `document` against schemas/NAME.schema.json."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator(name).iter_errors(document)]


def output_follows(report, binary, label, args, name, want_status=0):
    """Runs lsrconv and checks that its stdout is valid against schema NAME; returns the document."""
    status, out, err = run_lsrconv(binary, args)
    if status != want_status:
        report.check(label, f"exit status {status}, want {want_status}: {first_error_line(err)}")
        return None
    try:
        document = json.loads(out)
    except json.JSONDecodeError as e:
        report.check(label, f"stdout is not JSON: {e}")
        return None
    report.check(f"{label} follows {name}", schema_errors(name, document))
    return document


# --------------------------------------------------------------------------
# adapter directories written by hand, following adapter_config.json's format
# --------------------------------------------------------------------------

def model_summary():
    config = json.loads((MODEL / "config.json").read_text())
    digest = hashlib.sha256((MODEL / "model.safetensors").read_bytes()).hexdigest()
    return {
        "model_type": "roberta", "hidden_size": config["hidden_size"], "num_hidden_layers": config["num_hidden_layers"],
        "num_attention_heads": config["num_attention_heads"], "intermediate_size": config["intermediate_size"],
        "vocab_size": config["vocab_size"], "weights": [{"file": "model.safetensors", "sha256": digest}],
    }


def write_adapter(directory, kind, seed):
    """An adapter for the tiny model: query and value of layer 0 and intermediate.dense of layer 1
    (256×64 = 16·16 × 8·8), r = 4 = 2·2, s = 3; random factors so ΔW ≠ 0; the LSR one with a head."""
    rng = np.random.default_rng(seed)
    rank, separation, (r1, r2), alpha = 4, 3, (2, 2), 8.0
    shapes = {
        "roberta.encoder.layer.0.attention.self.query": (64, 64, (8, 8), (8, 8)),
        "roberta.encoder.layer.0.attention.self.value": (64, 64, (8, 8), (8, 8)),
        "roberta.encoder.layer.1.intermediate.dense": (256, 64, (16, 16), (8, 8)),
    }
    tensors, modules = {}, []
    for name, (out, inputs, (o1, o2), (i1, i2)) in shapes.items():
        entry = {"name": name, "out_features": out, "in_features": inputs}

        def add(tensor, array):
            tensors[tensor] = np.ascontiguousarray(array, dtype=np.float32)
            return {"tensor": tensor, "shape": list(array.shape)}

        if kind == "lsr":
            entry["out_split"], entry["in_split"] = [o1, o2], [i1, i2]
            for side, (left, right) in (("up", ((o1, r1), (o2, r2))), ("down", ((r1, i1), (r2, i2)))):
                prefix = f"{name}.lsr_{side}"
                entry[side] = {
                    "left": add(prefix + ".left", 0.5 * rng.standard_normal((separation, *left))),
                    "right": add(prefix + ".right", 0.5 * rng.standard_normal((separation, *right))),
                    "scales": add(prefix + ".scales", 1 + 0.1 * rng.standard_normal(separation)),
                }
        else:
            entry["up"] = {"weight": add(f"{name}.lora_up.weight", 0.3 * rng.standard_normal((out, rank)))}
            entry["down"] = {"weight": add(f"{name}.lora_down.weight", 0.3 * rng.standard_normal((rank, inputs)))}
        modules.append(entry)
    config = {"$schema": "urn:lsrconv:schema:lsr-adapter:1", "format_version": 1, "kind": kind, "rank": rank}
    if kind == "lsr":
        config.update({"separation_rank": separation, "rank_split": [r1, r2], "trainable_scales": True})
    config.update({"alpha": alpha, "scaling": alpha / rank, "targets": ["query", "value", "intermediate.dense"],
                   "base_model": model_summary(), "modules": modules, "head": None})
    if kind == "lsr":
        head = [add("classifier.dense.weight", 0.1 * rng.standard_normal((64, 64))), add("classifier.dense.bias", np.zeros(64)),
                add("classifier.out_proj.weight", 0.1 * rng.standard_normal((3, 64))), add("classifier.out_proj.bias", np.zeros(3))]
        config["head"] = {"num_labels": 3, "id2label": {"0": "a", "1": "b", "2": "c"}, "tensors": head}
    os.makedirs(directory, exist_ok=True)
    (Path(directory) / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file(tensors, str(Path(directory) / "adapter_model.safetensors"), metadata={"format": "lsrconv"})
    return config


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------

def check_schemas(report, binary):
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        name = path.name[: -len(".schema.json")]
        problems = []
        try:
            Draft202012Validator.check_schema(json.loads(path.read_text()))
        except Exception as e:  # SchemaError, or JSON that is not JSON
            problems.append(str(e).splitlines()[0])
        status, out, err = run_lsrconv(binary, ["schema", name])
        if status != 0 or out != path.read_text():
            problems.append(f"`lsrconv schema {name}` does not print the file (status {status}): {first_error_line(err)}")
        report.check(f"schema {name}: valid 2020-12, bundled verbatim", problems)


def check_adapters(report, binary, tmp):
    """Returns the adapter directories it checked, for the ΔW checks."""
    directories = {"reference": FIXTURES / "reference/adapter"}
    directories["hand-made lsr"] = Path(tmp) / "lsr"
    write_adapter(directories["hand-made lsr"], "lsr", seed=5)
    directories["hand-made lora"] = Path(tmp) / "lora"
    write_adapter(directories["hand-made lora"], "lora", seed=6)
    if has_command(binary, "init-adapter"):
        init = "--init"
        for kind in ("lsr", "lora"):
            target = Path(tmp) / f"init-{kind}"
            args = ["init-adapter", "--model", str(MODEL), "--out", str(target), "--kind", kind,
                    "--targets", "query,value,intermediate.dense", init, "random"]
            status, _, err = run_lsrconv(binary, args)
            if status == 0:
                directories[f"init-adapter {kind}"] = target
            else:
                report.check(f"lsrconv init-adapter --kind {kind}", first_error_line(err))
    else:
        report.info("lsrconv has no init-adapter command yet: its configs are not checked")
    for label, directory in directories.items():
        config = json.loads((directory / "adapter_config.json").read_text())
        report.check(f"{label} adapter_config.json follows lsr-adapter (python-jsonschema)", schema_errors("lsr-adapter", config))
        document = output_follows(report, binary, f"validate {label} --model --json",
                                  ["validate", str(directory), "--model", str(MODEL), "--json"], "validate-output")
        if document is not None:
            report.check(f"lsrconv finds the {label} adapter valid, no warning",
                         [] if document["valid"] and not document["warnings"]
                         else [f"{p['location']}: {p['message']}" for p in document["problems"] + document["warnings"]])
    return directories


def check_verdicts(report, binary, tmp, config):
    """Single faults: python-jsonschema and lsrconv both say invalid, with as many errors."""
    def module(c):
        return c["modules"][0]

    faults = {
        "rank 0": lambda c: c.update(rank=0),
        "rank as a string": lambda c: c.update(rank="4"),
        "alpha missing": lambda c: c.pop("alpha"),
        "unknown top-level property": lambda c: c.update(comment="x"),
        "format_version 2": lambda c: c.update(format_version=2),
        "kind dora": lambda c: c.update(kind="dora"),
        "rank_split of one number": lambda c: c.update(rank_split=[4]),
        "rank_split with a zero": lambda c: c.update(rank_split=[4, 0]),
        "unknown target": lambda c: c.update(targets=["qkv"]),
        "duplicate target": lambda c: c.update(targets=["query", "query"]),
        "uppercase sha256": lambda c: c["base_model"]["weights"][0].update(sha256="A" * 64),
        "weights file with a directory": lambda c: c["base_model"]["weights"][0].update(file="x/model.safetensors"),
        "unknown base_model property": lambda c: c["base_model"].update(dtype="float32"),
        "bad module name": lambda c: module(c).update(name="roberta.encoder.layer.0.attention.self.qkv"),
        "unknown module property": lambda c: module(c).update(bias=True),
        "module without in_split": lambda c: module(c).pop("in_split"),
        "factor shape of two dims": lambda c: module(c)["up"]["left"].update(shape=[3, 8]),
        "negative shape": lambda c: module(c)["up"]["scales"].update(shape=[-3]),
        "lora weight in an lsr module": lambda c: module(c)["down"].update(weight={"tensor": "w", "shape": [4, 64]}),
        "head tensor of another name": lambda c: c["head"]["tensors"][0].update(tensor="pooler.dense.weight"),
        "id2label key not an integer": lambda c: c["head"]["id2label"].update(x="d"),
        "no modules": lambda c: c.update(modules=[]),
    }
    for label, plant in faults.items():
        spoiled = copy.deepcopy(config)
        plant(spoiled)
        path = Path(tmp) / "fault.json"
        path.write_text(json.dumps(spoiled))
        python = schema_errors("lsr-adapter", spoiled)
        status, out, err = run_lsrconv(binary, ["validate", str(path), "--schema", "lsr-adapter", "--json"])
        problems = []
        if not python:
            problems.append("python-jsonschema finds it valid")
        if status != 1:
            problems.append(f"lsrconv validate exit status {status}, want 1: {first_error_line(err)}")
        else:
            ours = json.loads(out)["problems"]
            if len(python) == 1 and len(ours) != 1:
                problems.append(f"python-jsonschema: {python}; lsrconv: {[p['location'] + ': ' + p['message'] for p in ours]}")
        report.check(f"fault '{label}': both invalid", problems)


def check_outputs(report, binary, tmp):
    inspected = ["tiny-roberta", "tiny-roberta-sharded", "torch/legacy", "torch/sharded", "torch/fairseq/model.pt", "reference/adapter"]
    for path in inspected:
        output_follows(report, binary, f"inspect {path} --json", ["inspect", str(FIXTURES / path), "--json"], "inspect-output")
    output_follows(report, binary, "inspect --checksums --json",
                   ["inspect", str(FIXTURES / "safetensors/all_dtypes.safetensors"), "--checksums", "--json"], "inspect-output")
    imports = [("tiny-roberta", ["--dtype", "f16"]), ("torch/fairseq/model.pt", []), ("torch/zip/pytorch_model.bin", ["--max-shard-size", "200kB"])]
    for i, (source, args) in enumerate(imports):
        output_follows(report, binary, f"import {source} {' '.join(args)} --json".replace("  ", " "),
                       ["import", str(FIXTURES / source), "--out", str(Path(tmp) / f"import{i}"), *args, "--json"], "import-output")
    output_follows(report, binary, "predict --text --json", ["predict", "--model", str(MODEL), "--text", "a fine day", "--json"],
                   "predict-output")
    output_follows(report, binary, "predict --text --pair --json",
                   ["predict", "--model", str(MODEL), "--text", "one", "--pair", "two", "--json"], "predict-output")
    rows = Path(tmp) / "rows.jsonl"
    rows.write_text('{"text": "a"}\n{"text": "b c", "text_pair": "d"}\n')
    status, out, err = run_lsrconv(binary, ["predict", "--model", str(MODEL), "--data", str(rows)])
    lines = out.splitlines()
    report.check("predict --data lines follow predict-line",
                 [f"exit status {status}: {first_error_line(err)}"] if status != 0 else
                 ([f"{len(lines)} lines, want 2"] if len(lines) != 2 else
                  [e for line in lines for e in schema_errors("predict-line", json.loads(line))]))
    output_follows(report, binary, "tokenize --json", ["tokenize", "--tokenizer", str(MODEL), "--text", "Hello world", "--json"],
                   "tokenize-output")
    output_follows(report, binary, "tokenize --pair --max-length --json",
                   ["tokenize", "--tokenizer", str(MODEL), "--text", "one", "--pair", "two", "--max-length", "5", "--json"],
                   "tokenize-output")
    bad = Path(tmp) / "bad.json"
    bad.write_text('{"ids": [-1], "tokens": [], "attention_mask": [2]}')
    output_follows(report, binary, "validate (invalid) --json", ["validate", str(bad), "--schema", "tokenize-output", "--json"],
                   "validate-output", want_status=1)
    output_follows(report, binary, "validate (warning) --json",
                   ["validate", str(FIXTURES / "reference/adapter"), "--model", str(FIXTURES / "tiny-roberta-f16"), "--json"],
                   "validate-output")
    if has_command(binary, "train"):
        # train's files: trainer_state.json (top and in a checkpoint) and every metrics.jsonl line.
        out_dir = Path(tmp) / "trained"
        learning = FIXTURES / "learning"
        status, _, err = run_lsrconv(binary, ["train", "--model", str(learning / "model"), "--train", str(learning / "dev.jsonl"),
                                              "--eval", str(learning / "dev.jsonl"), "--out", str(out_dir), "--max-steps", "6",
                                              "--eval-every", "3", "--batch-size", "50", "--separation-rank", "2"])
        problems = [f"exit status {status}: {first_error_line(err)}"] if status != 0 else []
        if status == 0:
            states = [out_dir / "trainer_state.json"] + sorted((out_dir / "checkpoints").glob("step-*/trainer_state.json"))
            for path in states:
                problems += [f"{path.relative_to(out_dir)}: {e}" for e in schema_errors("trainer-state", json.loads(path.read_text()))]
            lines = (out_dir / "metrics.jsonl").read_text().splitlines()
            if len(lines) != 2:
                problems.append(f"metrics.jsonl has {len(lines)} lines, want 2")
            for i, line in enumerate(lines):
                problems += [f"metrics.jsonl line {i + 1}: {e}" for e in schema_errors("training-metrics-line", json.loads(line))]
        report.check("train's trainer_state.json and metrics.jsonl follow their schemas", problems)


def compare(label, got, want):
    """Problems between two {module: ΔW} maps, relative to max |want|."""
    if set(got) != set(want):
        return [f"{label}: modules {sorted(got)} vs {sorted(want)}"]
    problems = []
    for name in sorted(want):
        g, w = np.asarray(got[name], dtype=np.float64), np.asarray(want[name], dtype=np.float64)
        if g.shape != w.shape:
            problems.append(f"{name}: shape {g.shape} vs {w.shape}")
            continue
        scale = max(np.abs(w).max(), 1e-30)
        d = np.abs(g - w).max() / scale
        if not d <= TOLERANCE:
            problems.append(f"{name}: max |Δ| / max |ΔW| = {d:.3g} > {TOLERANCE}")
    return problems


def check_delta(report, binary, tmp, directories):
    namespace = {}
    exec(README_SNIPPET, namespace)
    delta_weights = namespace["delta_weights"]

    readme = (ROOT / "README.md").read_text()
    if "Adapter files and schemas" in readme:
        report.check("README.md quotes the numpy snippet verbatim", None if README_SNIPPET in readme else "the snippet in README.md differs")
    else:
        report.info("README.md has no 'Adapter files and schemas' section yet: the snippet is checked here only")

    reference = load_file(str(FIXTURES / "reference/adapted.safetensors"))
    torch_delta = {k[: -len(".delta_w")]: v for k, v in reference.items() if k.endswith(".delta_w")}
    report.check("numpy snippet: ΔW of Fixtures/reference/adapter is PyTorch's",
                 compare("reference", delta_weights(directories["reference"]), torch_delta))

    base = load_file(str(MODEL / "model.safetensors"))
    merge, export = has_command(binary, "merge"), has_command(binary, "export")
    if not merge:
        report.info("lsrconv has no merge command yet: W' − W is not compared")
    if not export:
        report.info("lsrconv has no export command yet: export --format delta is not compared")
    for label, directory in directories.items():
        numpy_delta = delta_weights(directory)
        if merge:
            out = Path(tmp) / f"merged-{label.replace(' ', '-')}"
            status, _, err = run_lsrconv(binary, ["merge", "--model", str(MODEL), "--adapter", str(directory), "--out", str(out)])
            if status != 0:
                report.check(f"merge {label}", first_error_line(err))
            else:
                merged = load_file(str(out / "model.safetensors"))
                got = {name: merged[name + ".weight"].astype(np.float64) - base[name + ".weight"] for name in numpy_delta}
                report.check(f"numpy snippet: ΔW of {label} is lsrconv merge's W' − W", compare(label, got, numpy_delta))
        if export:
            out = Path(tmp) / f"delta-{label.replace(' ', '-')}"
            status, _, err = run_lsrconv(binary, ["export", "--adapter", str(directory), "--format", "delta", "--out", str(out)])
            if status != 0:
                report.check(f"export --format delta {label}", first_error_line(err))
                continue
            files = sorted(out.glob("*.safetensors"))
            exported = {}
            for f in files:
                exported.update(load_file(str(f)))
            # The export's names: the module's, or the module's with a suffix (.weight, .delta_w, ...).
            got = {}
            for key, value in exported.items():
                name = next((m for m in numpy_delta if key == m or key.startswith(m + ".")), None)
                if name is not None:
                    got[name] = value
            report.check(f"numpy snippet: ΔW of {label} is lsrconv export --format delta's", compare(label, got, numpy_delta))


def main():
    binary = lsrconv_binary(sys.argv, ROOT)
    if binary is None:
        return 2
    print(f"lsrconv {binary}; jsonschema {version('jsonschema')}, safetensors {version('safetensors')}, numpy {np.__version__}")
    report = Report()
    with tempfile.TemporaryDirectory(prefix="lsrconv-schemas-") as tmp:
        check_schemas(report, binary)
        directories = check_adapters(report, binary, tmp)
        check_verdicts(report, binary, tmp, json.loads((directories["hand-made lsr"] / "adapter_config.json").read_text()))
        check_outputs(report, binary, tmp)
        check_delta(report, binary, tmp, directories)
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
