#!/usr/bin/env python3
"""Interop check: lsrconv against the real safetensors library.

    python Tests/interop/check_safetensors.py [LSRCONV]     (default: .build/debug/lsrconv)

Run from anywhere; paths are resolved from the repository root.  `make interop` runs it in
.venv-interop/ with the pinned packages of requirements.txt (safetensors, numpy; nothing else).

  a. Reading: every fixture *.safetensors under Fixtures/ (Fixtures/malformed/ excepted), and the
     sharded fixture directory, is opened with safetensors.safe_open(framework="numpy") and with
     `lsrconv inspect PATH --json --checksums`; names, dtypes, shapes, byte counts, the SHA-256 of
     every tensor's bytes and the metadata must agree.
  b. Writing: `lsrconv import` runs on the HF, PyTorch and fairseq fixtures into a temporary
     directory (keep, --dtype f16/bf16/f32, --max-shard-size); every file written is opened with
     the safetensors library, its metadata must be {"format": "pt"}, config.json's dtype must
     match the tensors, and every tensor must equal, bit for bit, what the source holds under its
     canonical name (or its numpy / PyTorch conversion).  Sharded outputs: the index's weight_map
     names exactly the tensors of each shard and total_size is the sum of their byte sizes.
     "info" lines (not counted) say whether an output is byte-identical to the file the real
     producer wrote for the same tensors.

The expected values of the PyTorch and fairseq imports are the committed safetensors fixtures of
the same weights (Fixtures/generate/torch_fixtures.py asserts that equality with torch).

numpy has no bfloat16, float8 or float4: for those dtypes the library still reports dtype and
shape (get_slice), and the values are compared as raw little-endian bytes read from the file
(8-byte little-endian header length, JSON header, data_offsets), a parser that is itself
checked against the library on every dtype numpy does have.

Prints one line per check and ends with `N passed, M failed`; exits 1 when M > 0.
"""

import hashlib
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import safetensors
from safetensors import safe_open

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Fixtures"
TIMEOUT_S = 120  # one lsrconv run on these fixtures takes well under a second

# safetensors dtypes numpy cannot represent: compared as raw bytes.
NUMPY_LACKS = {"BF16", "F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0", "F4",
               "F6_E2M3", "F6_E3M2"}
CONFIG_DTYPE = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


class Tensor:
    """One tensor as a reader sees it: safetensors dtype name, shape, little-endian C-order bytes."""

    def __init__(self, dtype, shape, data):
        self.dtype, self.shape, self.data = dtype, list(shape), data

    def array(self, np_dtype):
        return np.frombuffer(self.data, dtype=np.dtype(np_dtype).newbyteorder("<")).reshape(self.shape)


# --------------------------------------------------------------------------
# reading safetensors files
# --------------------------------------------------------------------------

def raw_header(path):
    """(metadata, {name: (dtype, shape, begin, end)}, data start) from the file's own header."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    metadata = header.pop("__metadata__", None)
    entries = {k: (v["dtype"], v["shape"], *v["data_offsets"]) for k, v in header.items()}
    return metadata, entries, 8 + n


def read_safetensors(path):
    """(metadata, {name: Tensor}) through the safetensors library; raw bytes where numpy lacks the
    dtype.  Raises on any disagreement between the library and the raw header."""
    metadata, entries, start = raw_header(path)
    blob = Path(path).read_bytes()
    tensors = {}
    with safe_open(str(path), framework="numpy") as f:
        lib_metadata = f.metadata()
        names = list(f.keys())
        if set(names) != set(entries):
            raise ValueError(f"{path}: library keys differ from the header keys")
        for name in names:
            sl = f.get_slice(name)
            dtype, shape = sl.get_dtype(), list(sl.get_shape())
            h_dtype, h_shape, begin, end = entries[name]
            if (dtype, shape) != (h_dtype, h_shape):
                raise ValueError(f"{path}: {name}: library sees {dtype}{shape}, header {h_dtype}{h_shape}")
            raw = blob[start + begin:start + end]
            if dtype in NUMPY_LACKS:
                data = raw
            else:
                array = f.get_tensor(name)
                data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
                if data != raw:
                    raise ValueError(f"{path}: {name}: library values differ from the raw bytes")
            tensors[name] = Tensor(dtype, shape, data)
    return lib_metadata, tensors


def read_output_dir(path):
    """{name: Tensor} and [(file, metadata)] of an HF model directory, single file or sharded.
    Also returns the parsed index (None when not sharded)."""
    index_path = path / "model.safetensors.index.json"
    if index_path.exists():
        index = json.loads(index_path.read_text())
        files = sorted(set(index["weight_map"].values()))
    else:
        index, files = None, ["model.safetensors"]
    tensors, per_file = {}, []
    for name in files:
        metadata, ts = read_safetensors(path / name)
        per_file.append((name, metadata, ts))
        for k, t in ts.items():
            if k in tensors:
                raise ValueError(f"{path}: tensor {k} appears in two shards")
            tensors[k] = t
    return tensors, per_file, index


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------

from report import Report, lsrconv_binary  # noqa: E402  (Tests/interop/report.py, beside this script)


def rel(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def run_lsrconv(binary, args):
    """(exit status, stdout, stderr); a timeout counts as status -1."""
    try:
        p = subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {TIMEOUT_S} s"


def first_error_line(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    return next((l for l in lines if l.startswith("error:")), lines[-1] if lines else "(no stderr)")


def as_f64(t):
    """The values of a float tensor as float64 (None for dtypes this script does not decode)."""
    if t.dtype == "BF16":
        return (np.frombuffer(t.data, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    np_dtype = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}.get(t.dtype)
    return None if np_dtype is None else np.frombuffer(t.data, dtype=np_dtype).astype(np.float64)


def diff_values(name, got, want):
    """How `got` differs from `want` (same dtype and shape), or None when bit-identical."""
    if got.data == want.data:
        return None
    g, w = as_f64(got), as_f64(want)
    if g is None or w is None or g.size != w.size:
        return f"{name}: bytes differ"
    ne = np.flatnonzero(~((g == w) | (np.isnan(g) & np.isnan(w))) | (np.signbit(g) != np.signbit(w)))
    if ne.size == 0:
        return f"{name}: bytes differ (NaN payloads)"
    i = int(ne[0])
    return (f"{name}: {ne.size} of {g.size} elements differ, max |diff| {np.nanmax(np.abs(g - w)):.3g}, "
            f"first at flat index {i} (got {float(g[i])!r}, want {float(w[i])!r})")


def compare_tensors(got, want):
    """Problems between two {name: Tensor} maps: names, dtype, shape, bytes."""
    problems = []
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing:
        problems.append(f"missing {missing}")
    if extra:
        problems.append(f"unexpected {extra}")
    for name in sorted(set(got) & set(want)):
        g, w = got[name], want[name]
        if (g.dtype, g.shape) != (w.dtype, w.shape):
            problems.append(f"{name}: got {g.dtype}{g.shape}, want {w.dtype}{w.shape}")
            continue
        problems.append(diff_values(name, g, w))
    return [p for p in problems if p]


# --------------------------------------------------------------------------
# a. reading: lsrconv inspect vs the safetensors library
# --------------------------------------------------------------------------

def check_inspect(report, binary, path, tensors, metadata):
    label = f"inspect {rel(path)}"
    status, out, err = run_lsrconv(binary, ["inspect", str(path), "--json", "--checksums"])
    if status != 0:
        report.check(label, f"exit status {status}: {first_error_line(err)}")
        return
    doc = json.loads(out)
    seen = {t["name"]: t for t in doc["tensors"]}
    problems = []
    if len(seen) != len(doc["tensors"]):
        problems.append("duplicate tensor names in --json output")
    missing, extra = sorted(set(tensors) - set(seen)), sorted(set(seen) - set(tensors))
    if missing:
        problems.append(f"lsrconv does not list {missing}")
    if extra:
        problems.append(f"lsrconv lists unknown {extra}")
    for name in sorted(set(tensors) & set(seen)):
        t, s = tensors[name], seen[name]
        if s["dtype"] != t.dtype or list(s["shape"]) != t.shape:
            problems.append(f"{name}: lsrconv {s['dtype']}{s['shape']}, safetensors {t.dtype}{t.shape}")
        if s["bytes"] != len(t.data):
            problems.append(f"{name}: lsrconv {s['bytes']} bytes, safetensors {len(t.data)}")
        if s.get("sha256") != hashlib.sha256(t.data).hexdigest():
            problems.append(f"{name}: sha256 of the bytes differs")
    if doc.get("tensor_count") != len(tensors):
        problems.append(f"tensor_count {doc.get('tensor_count')}, safetensors {len(tensors)}")
    if (doc.get("metadata") or {}) != (metadata or {}):
        problems.append(f"metadata {doc.get('metadata')}, safetensors {metadata}")
    report.check(f"{label}: {len(tensors)} tensors, names/dtypes/shapes/sha256/metadata", problems)


def check_reading(report, binary):
    files = sorted(p for p in FIXTURES.rglob("*.safetensors") if "malformed" not in p.relative_to(FIXTURES).parts)
    loaded = {}
    for path in files:
        try:
            metadata, tensors = read_safetensors(path)
        except Exception as e:  # the fixture itself or our raw parser disagrees with the library
            report.check(f"safetensors opens {rel(path)}", f"{type(e).__name__}: {e}")
            continue
        loaded[path] = tensors
        check_inspect(report, binary, path, tensors, metadata)
    # the sharded directory as one checkpoint: the union of its shards
    shard_dir = FIXTURES / "tiny-roberta-sharded"
    union = {}
    for path in sorted(shard_dir.glob("*.safetensors")):
        union.update(loaded.get(path, {}))
    check_inspect(report, binary, shard_dir, union, {"format": "pt"})
    return loaded


# --------------------------------------------------------------------------
# b. writing: lsrconv import, read back by the safetensors library
# --------------------------------------------------------------------------

def canonical(name):
    """The HF name lsrconv writes for an old-style name (None: the tensor is dropped)."""
    if name.endswith("embeddings.position_ids"):
        return None
    name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
    if not name.startswith(("roberta.", "classifier.", "lm_head.")):
        name = "roberta." + name
    return name


def renamed(tensors):
    out = {}
    for k, t in tensors.items():
        c = canonical(k)
        if c is not None:
            out[c] = t
    return out


def to_f16(tensors):
    """numpy's f32 → f16 (round to nearest even)."""
    out = {}
    for k, t in tensors.items():
        assert t.dtype == "F32", k
        out[k] = Tensor("F16", t.shape, t.array(np.float32).astype(np.float16).astype("<f2").tobytes())
    return out


def to_bf16(tensors):
    """f32 → bf16 by round to nearest even on the bit pattern (NaN kept quiet)."""
    out = {}
    for k, t in tensors.items():
        assert t.dtype == "F32", k
        u = t.array(np.float32).view(np.uint32).astype(np.uint64)
        rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
        nan = np.isnan(t.array(np.float32))
        rounded[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
        out[k] = Tensor("BF16", t.shape, rounded.astype("<u2").tobytes())
    return out


def bf16_to_f32(tensors):
    """bf16 → f32 is exact: the bits shifted up by 16."""
    out = {}
    for k, t in tensors.items():
        assert t.dtype == "BF16", k
        bits = np.frombuffer(t.data, dtype="<u2").astype(np.uint32) << 16
        out[k] = Tensor("F32", t.shape, bits.astype("<u4").tobytes())
    return out


def parse_size(text):
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
    for unit, scale in units.items():
        if text.upper().endswith(unit):
            return int(text[: -len(unit)]) * scale
    return int(text)


def check_shards(report, label, per_file, index, max_shard):
    problems = []
    weight_map = index.get("weight_map", {})
    for name, _, ts in per_file:
        mapped = {k for k, f in weight_map.items() if f == name}
        if mapped != set(ts):
            problems.append(f"{name}: weight_map lists {sorted(mapped ^ set(ts))[:3]} wrongly")
        size = sum(len(t.data) for t in ts.values())
        if max_shard is not None and size > max_shard and len(ts) > 1:
            problems.append(f"{name}: {size} tensor bytes over the {max_shard}-byte limit")
    n = len(per_file)
    expected_names = [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    if [name for name, _, _ in per_file] != expected_names:
        problems.append(f"shard files {[name for name, _, _ in per_file]}, want {expected_names}")
    total = sum(len(t.data) for _, _, ts in per_file for t in ts.values())
    got_total = index.get("metadata", {}).get("total_size")
    if got_total != total:
        problems.append(f"total_size {got_total}, tensors hold {total} bytes")
    report.check(f"{label}: index weight_map matches the {n} shards, total_size {total}", problems)


def check_import(report, binary, tmp, label, source, args, want, want_dtype, same_as=None, max_shard=None):
    out = tmp / label.replace(" ", "_").replace("/", "_")
    status, stdout, err = run_lsrconv(binary, ["import", str(source), "--out", str(out), *args])
    label = f"import {rel(source)} {' '.join(args)}".rstrip()
    if status != 0:
        report.check(f"{label}: exit status", f"exit status {status}: {first_error_line(err)}")
        return
    try:
        got, per_file, index = read_output_dir(out)
    except Exception as e:
        report.check(f"{label}: safetensors opens the output", f"{type(e).__name__}: {e}")
        return
    bad_meta = [f"{name}: {m}" for name, m, _ in per_file if m != {"format": "pt"}]
    stray = sorted({p.name for p in out.glob("*.safetensors")} - {name for name, _, _ in per_file})
    if stray:
        bad_meta.append(f"files outside the index: {stray}")
    report.check(f"{label}: {len(per_file)} file(s) open in safetensors, metadata {{'format': 'pt'}}", bad_meta)
    report.check(f"{label}: {len(want)} tensors, names/dtypes/shapes/values bit-exact", compare_tensors(got, want))
    config = json.loads((out / "config.json").read_text()) if (out / "config.json").exists() else {}
    dtypes = {t.dtype for t in got.values()}
    want_config = CONFIG_DTYPE.get(want_dtype)
    report.check(f"{label}: config.json dtype {want_config}",
                 None if config.get("dtype") == want_config and dtypes == {want_dtype}
                 else f"config dtype {config.get('dtype')!r}, tensors {sorted(dtypes)}, want {want_config}")
    if index is not None:
        check_shards(report, label, per_file, index, max_shard)
    elif max_shard is not None:
        report.check(f"{label}: sharded output", "no model.safetensors.index.json written")
    if same_as is not None:  # informational: lsrconv's bytes against the real writer's
        for name in [n for n, _, _ in per_file] + (["model.safetensors.index.json"] if index else []):
            a, b = out / name, same_as / name
            same = b.exists() and a.read_bytes() == b.read_bytes()
            report.info(f"{label}: {name} {'byte-identical to' if same else 'differs from'} {rel(b)}")


def check_writing(report, binary, loaded):
    st = lambda d, f="model.safetensors": loaded[FIXTURES / d / f]  # noqa: E731
    f32, f16, bf16 = st("tiny-roberta"), st("tiny-roberta-f16"), st("tiny-roberta-bf16")
    oldnames = st("tiny-roberta-oldnames")
    fairseq = st("torch/fairseq", "expected_hf.safetensors")

    # The generator's own claims, which the expectations below rest on.
    report.check("fixtures: tiny-roberta-f16 == numpy astype(float16) of tiny-roberta",
                 compare_tensors(to_f16(f32), f16))
    report.check("fixtures: tiny-roberta-bf16 == round-to-nearest-even bf16 of tiny-roberta",
                 compare_tensors(to_bf16(f32), bf16))
    report.check("fixtures: tiny-roberta-oldnames under canonical names == tiny-roberta-f16",
                 compare_tensors(renamed(oldnames), f16))

    tr = FIXTURES / "tiny-roberta"
    with tempfile.TemporaryDirectory(prefix="lsrconv-interop-") as d:
        tmp = Path(d)
        cases = [
            ("keep", tr, [], f32, "F32", tr),
            ("keep file", tr / "model.safetensors", [], f32, "F32", tr),
            ("f16", tr, ["--dtype", "f16"], to_f16(f32), "F16", FIXTURES / "tiny-roberta-f16"),
            ("bf16", tr, ["--dtype", "bf16"], bf16, "BF16", FIXTURES / "tiny-roberta-bf16"),
            ("bf16 to f32", FIXTURES / "tiny-roberta-bf16", ["--dtype", "f32"], bf16_to_f32(bf16), "F32", None),
            ("sharded", FIXTURES / "tiny-roberta-sharded", [], f32, "F32", tr),
            ("oldnames", FIXTURES / "tiny-roberta-oldnames", [], renamed(oldnames), "F16", None),
            ("torch zip", FIXTURES / "torch" / "zip", [], f32, "F32", tr),
            ("torch legacy", FIXTURES / "torch" / "legacy", [], f16, "F16", FIXTURES / "tiny-roberta-f16"),
            ("torch zip-bf16", FIXTURES / "torch" / "zip-bf16", [], bf16, "BF16", FIXTURES / "tiny-roberta-bf16"),
            ("torch nested", FIXTURES / "torch" / "nested", [], f16, "F16", None),
            ("torch module", FIXTURES / "torch" / "module", [], f16, "F16", None),
            ("torch sharded", FIXTURES / "torch" / "sharded", [], f32, "F32", None),
            # fairseq: HF names, the fused in_proj split into q/k/v, a zero token_type_embeddings,
            # lm_head and `version` dropped (expected_hf.safetensors was written by torch).
            ("fairseq", FIXTURES / "torch" / "fairseq" / "model.pt", [], fairseq, "F16", None),
            ("fairseq decoder", FIXTURES / "torch" / "fairseq" / "model_decoder.pt", [], fairseq, "F16", None),
        ]
        for label, source, args, want, dtype, same_as in cases:
            check_import(report, binary, tmp, label, source, args, want, dtype, same_as)
        check_import(report, binary, tmp, "max shard", tr, ["--max-shard-size", "300KB"], f32, "F32",
                     FIXTURES / "tiny-roberta-sharded", max_shard=parse_size("300KB"))
        check_import(report, binary, tmp, "max shard f16", tr, ["--dtype", "f16", "--max-shard-size", "100KB"],
                     to_f16(f32), "F16", None, max_shard=parse_size("100KB"))


def main():
    binary = lsrconv_binary(sys.argv, ROOT)
    if binary is None:
        return 2
    print(f"lsrconv {binary}; safetensors {safetensors.__version__}, numpy {np.__version__}")
    report = Report()
    loaded = check_reading(report, binary)
    check_writing(report, binary, loaded)
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
