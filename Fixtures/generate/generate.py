#!/usr/bin/env python3
"""Regenerate the lsrconv test fixtures under Fixtures/.

Run from the repository root:

    .venv-gen/bin/python Fixtures/generate/generate.py

Everything below is (re)written, overwriting what is there; the script is
deterministic (fixed seeds), so running it twice gives byte-identical files.

What it makes
-------------
  Fixtures/tiny-roberta/           tiny RobertaForSequenceClassification, float32,
                                   written by save_pretrained (model.safetensors,
                                   config.json) plus the byte-level BPE tokenizer
                                   written by tokenizer.save_pretrained.
  Fixtures/tiny-roberta-f16/       same weights cast with .half()   (config.json + model.safetensors)
  Fixtures/tiny-roberta-bf16/      same weights cast to bfloat16    (config.json + model.safetensors)
  Fixtures/tiny-roberta-sharded/   the float32 model in exactly 3 shards + model.safetensors.index.json
  Fixtures/tiny-roberta-oldnames/  the float16 weights under old HF key names (no `roberta.` prefix,
                                   LayerNorm.gamma/beta, plus the embeddings.position_ids buffer),
                                   written with safetensors.torch.save_file; config.json copied.
  Fixtures/safetensors/all_dtypes.safetensors + all_dtypes.json
                                   one tensor of every dtype safetensors can write from torch,
                                   and the expected dtype/shape/sha256 of each tensor.
  Fixtures/dtype/conversions.safetensors
                                   reference values for exact dtype conversion tests, all
                                   produced by torch (f32->f16/bf16/f8, f64->f32, every
                                   f16/bf16/f8 bit pattern -> f32).
  Fixtures/torch/                  the same model as PyTorch checkpoints: zip and legacy
                                   torch.save files, bf16, nested/module wrappers, sharded .bin
                                   with its index, fairseq layouts (+ the HF tensors an importer
                                   must produce from them), and an edge-case file of views and
                                   shared storages.  See torch_fixtures.py (next to this file).
  Fixtures/malformed/              hostile and broken checkpoints (pickle attacks, memo/stack
                                   bombs, zip damage, zip bombs, truncated legacy files) with a
                                   README.md naming, for each, the check that must catch it.
                                   See malformed.py; torch_formats.py holds the byte-level
                                   helpers both use (zip writer, pickle assembler, deflate).

Pinned versions (see requirements.txt next to this file; checked at start):
  torch==2.13.0+cpu, transformers==5.23.0, safetensors==0.8.0,
  tokenizers==0.23.3, numpy==2.4.6, peft==0.21.2

Text used to train the tokenizer (corpus.txt, public domain, typed from memory,
so it may differ from the canonical texts in small details):
  - Abraham Lincoln, the Gettysburg Address (1863, "Bliss copy" wording)
  - The United States Declaration of Independence (1776), the text of the
    declaration proper (without the list of signers)
  - Abraham Lincoln, Second Inaugural Address (1865)
  - Genesis chapter 1, King James Version (1611)
  - William Shakespeare, Sonnets XVIII, XXIX, LV, LX, LXXIII, CXVI, CXXX (1609)
  - a few short lines and words in French, German, Spanish, Greek, Russian and
    Japanese (the French Revolution motto, the opening of the 1789 Declaration
    of the Rights of Man, Descartes, Goethe, Schiller, Cervantes, John 1:1 in
    Greek, and common words) to put non-ASCII bytes into the corpus.
"""

import hashlib
import json
import os
import shutil
import struct
import sys
import types
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent
sys.path.insert(0, str(HERE))  # torch_fixtures, malformed, torch_formats
CORPUS = HERE / "corpus.txt"
REQUIREMENTS = HERE / "requirements.txt"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy  # noqa: E402
import peft  # noqa: E402
import safetensors  # noqa: E402
import safetensors.torch  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    RobertaConfig,
    RobertaForSequenceClassification,
    RobertaTokenizerFast,
)

import malformed  # noqa: E402
import torch_fixtures  # noqa: E402

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()
warnings.filterwarnings("ignore")


# --------------------------------------------------------------------------
# version check
# --------------------------------------------------------------------------

def check_versions():
    installed = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": numpy.__version__,
        "peft": peft.__version__,
    }
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and "==" in line:
            name, ver = line.split("==", 1)
            pins[name.strip()] = ver.strip()
    bad = [(n, pins.get(n), v) for n, v in installed.items() if pins.get(n) != v]
    bad += [(n, p, None) for n, p in pins.items() if n not in installed]
    if bad:
        bar = "!" * 78
        print(bar, file=sys.stderr)
        print("!!! WARNING: installed package versions differ from requirements.txt pins.", file=sys.stderr)
        print("!!! The fixtures written now may NOT match the committed ones.", file=sys.stderr)
        for name, pin, have in bad:
            print(f"!!!   {name}: pinned {pin}, installed {have}", file=sys.stderr)
        print(bar, file=sys.stderr)
    else:
        print("versions: " + ", ".join(f"{n}=={v}" for n, v in installed.items()) + " (match pins)")


# Platform-independent random numbers.  torch.randn/normal_/rand and transcendental ops
# (exp2, log, cos) take different code paths depending on the CPU's SIMD capability
# (ATEN_CPU_CAPABILITY default vs avx2/avx512, x86 vs arm64), which changes the low bits
# of the results, so fixtures built with them would differ from machine to machine.
# We only draw integers from torch (torch.randint on a seeded torch.Generator, exact on
# every platform) and build floats from them with exact float64 arithmetic.

def rand64(g, *shape):
    """Uniform [0, 1) float64 with 53 random bits; exact and platform-independent."""
    n = 1
    for d in shape:
        n *= d
    return (torch.randint(0, 1 << 53, (n,), generator=g, dtype=torch.int64).double() * 2.0 ** -53).reshape(shape)


def randn64(g, *shape):
    """Approximately standard normal float64 (Irwin-Hall: sum of 12 uniforms minus 6, range
    +-6).  Each uniform has 32 bits, so every partial sum is exact in float64 and the result
    does not depend on summation order or platform."""
    n = 1
    for d in shape:
        n *= d
    u = torch.randint(0, 1 << 32, (12, n), generator=g, dtype=torch.int64).double() * 2.0 ** -32
    return (u.sum(0) - 6.0).reshape(shape)


def fresh_dir(path: Path) -> Path:
    """Remove and recreate one output directory (only ever under Fixtures/)."""
    assert FIXTURES in path.resolve().parents and path.resolve() != HERE
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def read_header(path: Path):
    """Return (header_len, raw header bytes, parsed header) of a .safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        raw = f.read(n)
    return n, raw, json.loads(raw)


def save_file_canonical(tensors, path: Path, metadata):
    """safetensors.torch.save_file, retried until the header is canonical.

    safetensors 0.8.0 serializes `__metadata__` from a Rust HashMap, so with more than one
    metadata key their order in the header changes from call to call (random hasher seed),
    which makes the file bytes nondeterministic.  Tensor entries are not affected (they are
    sorted by dtype, then name).  We simply write again until the metadata keys come out in
    sorted order; every byte of the result is still exactly what save_file wrote.
    """
    want = sorted(metadata)
    for _ in range(200):
        safetensors.torch.save_file(tensors, str(path), metadata=metadata)
        _, _, header = read_header(path)
        if list(header["__metadata__"]) == want:
            return
    raise SystemExit(f"could not get a canonical metadata order in {path}")


# --------------------------------------------------------------------------
# a. tokenizer
# --------------------------------------------------------------------------

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4


def train_tokenizer():
    tok = tokenizers.Tokenizer(models.BPE())  # no unk: byte-level covers every byte
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train([str(CORPUS)], trainer)
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False
    )

    # Wrap as the transformers RoBERTa tokenizer (in transformers 5 RobertaTokenizerFast
    # is an alias of RobertaTokenizer, which is backed by `tokenizers`).  It rebuilds the
    # BPE model from vocab + merges with the same ByteLevel pre-tokenizer/decoder and
    # RobertaProcessing post-processor.
    state = json.loads(tok.to_str())
    vocab = state["model"]["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["model"]["merges"]]
    hf = RobertaTokenizerFast(
        vocab=vocab,
        merges=merges,
        add_prefix_space=False,
        trim_offsets=True,
        model_max_length=128,
    )
    for i, s in enumerate(SPECIALS):
        assert hf.convert_tokens_to_ids(s) == i, (s, hf.convert_tokens_to_ids(s))
    # The wrapped tokenizer must encode exactly as the trained one.
    for line in CORPUS.read_text(encoding="utf-8").splitlines()[:400]:
        a = tok.encode(line).ids
        b = hf(line)["input_ids"]
        assert a == b, (line, a, b)
    return tok, hf


# --------------------------------------------------------------------------
# b-e. models
# --------------------------------------------------------------------------

def build_model(vocab_size: int):
    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        max_position_embeddings=130,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        num_labels=2,
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
        hidden_act="gelu",
    )
    model = RobertaForSequenceClassification(config)
    model.eval()
    # Re-draw every parameter from a platform-independent RNG seeded with 0 (see randn64),
    # mimicking the HF init: weights ~ N(0, initializer_range=0.02), with the padding rows of
    # the word and position embeddings zero.  LayerNorm weights (1 +- (0.02 + 0.1|N|)) and LayerNorm
    # biases and every other bias (0.05 N) are perturbed so that none is trivially 1 or 0
    # (a reader that mixes up weight/bias or gamma/beta must then fail a test).
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            z = randn64(g, *p.shape)
            if name.endswith("LayerNorm.weight"):
                # keep |w - 1| >= 0.02 so that no weight rounds to exactly 1 in bf16/f16
                p.copy_((1.0 + 0.1 * z + torch.where(z >= 0, 0.02, -0.02)).float())
            elif name.endswith(".bias"):
                p.copy_((0.05 * z).float())
            else:
                p.copy_((config.initializer_range * z).float())
        emb = model.roberta.embeddings
        emb.word_embeddings.weight[config.pad_token_id].zero_()
        emb.position_embeddings.weight[config.pad_token_id].zero_()
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        for name, p in model.state_dict().items():
            if name.endswith(".bias") or "LayerNorm" in name:
                q = p.to(dtype)
                assert not torch.any(q == 0) and not torch.any(q == 1), (name, dtype)
    return model


def rename_old(key: str) -> str:
    if key.startswith("roberta."):
        key = key[len("roberta."):]
    if key.endswith("LayerNorm.weight"):
        key = key[: -len("weight")] + "gamma"
    elif key.endswith("LayerNorm.bias"):
        key = key[: -len("bias")] + "beta"
    return key


def write_models(hf_tok):
    vocab_size = len(hf_tok)
    model = build_model(vocab_size)

    # b. float32 + tokenizer
    out = fresh_dir(FIXTURES / "tiny-roberta")
    model.save_pretrained(out)
    hf_tok.save_pretrained(out)

    # c. float16 / bfloat16
    f16 = build_model(vocab_size).half()
    out16 = fresh_dir(FIXTURES / "tiny-roberta-f16")
    f16.save_pretrained(out16)
    bf16 = build_model(vocab_size).to(torch.bfloat16)
    outbf = fresh_dir(FIXTURES / "tiny-roberta-bf16")
    bf16.save_pretrained(outbf)

    # d. sharded float32.  transformers parses "300KB" as 300*1000 bytes and fills shards
    # greedily; for this 707 KB model that gives exactly 3 shards.
    outsh = fresh_dir(FIXTURES / "tiny-roberta-sharded")
    model.save_pretrained(outsh, max_shard_size="300KB")
    shards = sorted(p.name for p in outsh.glob("model-*.safetensors"))
    assert shards == [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)], shards
    assert (outsh / "model.safetensors.index.json").exists()

    # e. old HF names, float16, with the position_ids buffer
    outold = fresh_dir(FIXTURES / "tiny-roberta-oldnames")
    old = {rename_old(k): v.contiguous() for k, v in f16.state_dict().items()}
    old["embeddings.position_ids"] = torch.arange(130, dtype=torch.int64).unsqueeze(0)
    assert len(old) == len(f16.state_dict()) + 1
    safetensors.torch.save_file(old, str(outold / "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(out16 / "config.json", outold / "config.json")

    # sanity: everything reloads to the same weights / logits
    ids = torch.tensor([hf_tok("We hold these truths to be self-evident.")["input_ids"]])
    with torch.no_grad():
        ref = model(ids).logits
        re32 = RobertaForSequenceClassification.from_pretrained(out).eval()
        resh = RobertaForSequenceClassification.from_pretrained(outsh).eval()
        assert torch.equal(re32(ids).logits, ref)
        assert torch.equal(resh(ids).logits, ref)
        for d in (out16, outbf):
            m = RobertaForSequenceClassification.from_pretrained(d).eval()
            sd_ref = (f16 if d == out16 else bf16).state_dict()
            for k, v in m.state_dict().items():
                assert torch.equal(v, sd_ref[k]), (d, k)
    back = AutoTokenizer.from_pretrained(out)
    line = "Four score and seven years ago -- Liberté, Größe, São Paulo!"
    assert back(line)["input_ids"] == hf_tok(line)["input_ids"]
    assert back.model_max_length == 128
    print(f"model: vocab {vocab_size}, logits for a test sentence {ref.tolist()}")
    return model


# --------------------------------------------------------------------------
# f. all dtypes
# --------------------------------------------------------------------------

def all_dtype_tensors():
    g = torch.Generator().manual_seed(2)

    def randint(lo, hi, shape, dtype):
        return torch.randint(lo, hi, shape, generator=g, dtype=torch.int64).to(dtype)

    def bits(dtype, values, shape):
        """Tensor of the given raw bit patterns (as unsigned ints), viewed as dtype."""
        width = dtype.itemsize
        carrier = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[width]
        signed = [v - (1 << (8 * width)) if carrier != torch.uint8 and v >= 1 << (8 * width - 1) else v
                  for v in values]
        return torch.tensor(signed, dtype=carrier).view(dtype).reshape(shape)

    t = {}
    t["t_bool"] = torch.tensor([True, False, False, True, True, False, True], dtype=torch.bool)
    t["t_u8"] = torch.tensor([0, 1, 127, 128, 200, 255], dtype=torch.uint8).reshape(2, 3)
    t["t_i8"] = torch.cat([torch.tensor([-128, -1, 0, 1, 127]), randint(-128, 128, (7,), torch.int64)]).to(torch.int8).reshape(3, 4)
    t["t_i16"] = torch.cat([torch.tensor([-32768, -1, 0, 32767]), randint(-32768, 32768, (6,), torch.int64)]).to(torch.int16).reshape(2, 5)
    t["t_u16"] = bits(torch.uint16, [0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x1234, 0xBEEF, 0xCAFE], (2, 2, 2))
    t["t_i32"] = torch.cat([torch.tensor([-2**31, -1, 0, 2**31 - 1]), randint(-2**31, 2**31, (5,), torch.int64)]).to(torch.int32).reshape(3, 3)
    t["t_u32"] = bits(torch.uint32, [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xDEADBEEF], (6,))
    t["t_i64"] = torch.tensor([-2**63, -1, 0, 1, 2**63 - 1, 1234567890123456789, -987654321987654321, 42], dtype=torch.int64).reshape(2, 4)
    t["t_u64"] = bits(torch.uint64, [0, 1, 2**63 - 1, 2**63, 2**64 - 1, 0x0123456789ABCDEF], (3, 2))
    t["t_f16"] = torch.cat([(randn64(g, 9) * 100).float(),
                            torch.tensor([65504.0, -0.0, float("inf"), 2**-24])]).half().reshape(13)
    t["t_bf16"] = torch.cat([(randn64(g, 8) * 1e4).float(),
                             torch.tensor([3.0e38, -0.0, float("-inf"), 1e-40])]).to(torch.bfloat16).reshape(3, 4)
    t["t_f32"] = torch.cat([randn64(g, 7).float(),
                            torch.tensor([3.4028235e38, 1.4e-45, -0.0, float("nan"), 1e-30])]).reshape(2, 2, 3)
    t["t_f64"] = torch.cat([randn64(g, 6) * 1e100,
                            torch.tensor([5e-324, -0.0, 1.0 / 3.0, float("-inf")], dtype=torch.float64)]).reshape(5, 2)
    t["t_f8_e4m3fn"] = (randn64(g, 10) * 50).float().to(torch.float8_e4m3fn)
    t["t_f8_e5m2"] = (randn64(g, 2, 5) * 1000).float().to(torch.float8_e5m2)
    t["t_f8_e4m3fnuz"] = (randn64(g, 9) * 20).float().to(torch.float8_e4m3fnuz)
    t["t_f8_e5m2fnuz"] = (randn64(g, 3, 3) * 500).float().to(torch.float8_e5m2fnuz)
    t["t_f8_e8m0fnu"] = bits(torch.float8_e8m0fnu, [0, 1, 0x7E, 0x7F, 0x80, 0xFE, 0xFF, 0x42], (8,))
    # float4_e2m1fn_x2: one byte holds two fp4 values; safetensors records it as dtype F4
    # with the last dimension doubled (torch shape [2,3] -> header shape [2,6]).
    t["t_f4_e2m1fn_x2"] = bits(torch.float4_e2m1fn_x2, [0x12, 0x34, 0x56, 0x78, 0x9A, 0xF0], (2, 3))
    t["t_c64"] = torch.complex(randn64(g, 5).float(), randn64(g, 5).float())
    t["scalar_f32"] = torch.tensor(3.1415927, dtype=torch.float32)
    t["empty_f32"] = torch.zeros(0, dtype=torch.float32)
    t["empty_2d_i64"] = torch.zeros(3, 0, dtype=torch.int64)
    return t


# torch dtypes tried beyond the ones above; they fail in safetensors 0.8.0 (KeyError in
# safetensors.torch._SIZE), recorded in all_dtypes.json for reference.
UNSUPPORTED = ["complex32", "complex128", "uint1", "uint2", "uint3", "uint4", "uint5", "uint6",
               "uint7", "int1", "int2", "int3", "int4", "int5", "int6", "int7", "bits8", "bits16",
               "bits1x8", "bits2x4", "bits4x2", "qint8", "quint8", "qint32", "quint4x2", "quint2x4"]


def write_all_dtypes():
    out = fresh_dir(FIXTURES / "safetensors")
    tensors = all_dtype_tensors()
    path = out / "all_dtypes.safetensors"
    metadata = {"format": "pt", "source": "lsrconv fixture"}
    save_file_canonical(tensors, path, metadata)

    # Confirm the dtypes listed as unsupported really are.
    failed = []
    for name in UNSUPPORTED:
        dt = getattr(torch, name, None)
        if dt is None:
            failed.append(f"{name} (not in torch)")
            continue
        try:
            x = torch.zeros(2, dtype=dt)
        except Exception:
            try:
                x = torch.empty(2, dtype=dt)
            except Exception:
                failed.append(f"{name} (torch cannot create a tensor of it)")
                continue
        try:
            safetensors.torch.save({"x": x})
            raise SystemExit(f"dtype {name} now serializes; add it to all_dtype_tensors()")
        except SystemExit:
            raise
        except Exception as e:
            failed.append(f"{name} (safetensors: {type(e).__name__} {e})")

    data = path.read_bytes()
    header_len, raw, header = read_header(path)
    entries = safetensors.deserialize(data)
    by_name = {name: info for name, info in entries}
    assert set(by_name) == set(tensors)
    result = {
        "file": "all_dtypes.safetensors",
        "header_len": header_len,
        "metadata": header["__metadata__"],
        "header_key_order": [k for k in header if k != "__metadata__"],
        "data_order": sorted((k for k in header if k != "__metadata__"),
                             key=lambda k: header[k]["data_offsets"][0]),
        "tensors": {},
        "not_serializable_torch_dtypes": failed,
    }
    assert result["metadata"] == metadata
    for name in result["header_key_order"]:
        info = by_name[name]
        blob = bytes(info["data"])
        assert info["dtype"] == header[name]["dtype"] and list(info["shape"]) == header[name]["shape"]
        begin, end = header[name]["data_offsets"]
        assert data[8 + header_len + begin: 8 + header_len + end] == blob
        result["tensors"][name] = {
            "dtype": info["dtype"],
            "shape": list(info["shape"]),
            "data_offsets": [begin, end],
            "sha256": hashlib.sha256(blob).hexdigest(),
        }
    (out / "all_dtypes.json").write_text(json.dumps(result, indent=2) + "\n")
    print("all_dtypes: " + ", ".join(f"{k}:{v['dtype']}" for k, v in result["tensors"].items()))
    print("all_dtypes: not serializable: " + ", ".join(failed))
    return result


# --------------------------------------------------------------------------
# g. dtype conversion references
# --------------------------------------------------------------------------

def f32_bits(values):
    return torch.tensor([v - (1 << 32) if v >= 1 << 31 else v for v in values], dtype=torch.int32).view(torch.float32)


def f64_bits(values):
    return torch.tensor([v - (1 << 64) if v >= 1 << 63 else v for v in values], dtype=torch.int64).view(torch.float64)


def make_f32_src():
    g = torch.Generator().manual_seed(3)
    parts = []

    # random normals at many scales, 1e-8 .. 1e6
    for e in range(-8, 7):
        parts.append((randn64(g, 100) * float(f"1e{e}")).float())  # (parsing is exact; ** uses libm)

    # f16 round-to-nearest-even halfway cases: midpoints between adjacent finite f16
    # values (exact in f32), for even and odd lower neighbours, plus +-1 f32 ulp.
    h = torch.randint(0, 0x7BFF, (110,), generator=g, dtype=torch.int64)
    h = torch.cat([h & ~1, h | 1])  # even and odd low bits
    h = torch.cat([h, torch.tensor([0, 1, 2, 0x3FF, 0x400, 0x7BFE])])  # subnormal / edge neighbours
    lo = h.to(torch.int16).view(torch.float16).double()
    hi = (h + 1).to(torch.int16).view(torch.float16).double()
    mid = ((lo + hi) / 2).float()
    assert torch.equal(mid.double(), (lo + hi) / 2)
    mid = mid * torch.where(torch.arange(mid.numel()) % 3 == 0, -1.0, 1.0)  # some negative
    mb = mid.view(torch.int32)
    parts += [mid, (mb + 1).view(torch.float32), (mb - 1).view(torch.float32)]

    # bf16 halfway cases: low 16 bits exactly 0x8000, even and odd upper half, +-1 ulp.
    u = torch.randint(0, 0x7F7F, (100,), generator=g, dtype=torch.int64)
    u = torch.cat([u & ~1, u | 1, torch.tensor([0, 1, 0x7F, 0x80, 0x7F7E])])
    sign = torch.where(torch.arange(u.numel()) % 4 == 1, 1 << 31, 0)
    b = (u << 16) | 0x8000 | sign
    parts += [f32_bits(b.tolist()), f32_bits((b + 1).tolist()), f32_bits((b - 1).tolist())]

    # f16 subnormal range and underflow: k*2^-24, (k+1/2)*2^-24, below 2^-25, random.
    k = torch.arange(0, 40, dtype=torch.float64)
    parts += [(k * 2.0 ** -24).float(), ((k + 0.5) * 2.0 ** -24).float(),
              -((k + 0.25) * 2.0 ** -24).float(), ((k + 0.75) * 2.0 ** -24).float()]
    parts.append(torch.tensor([2.0 ** -25, 2.0 ** -25 * 1.0000001, 2.0 ** -25 * 0.9999999, 2.0 ** -26,
                               2.0 ** -14, 2.0 ** -14 * (1 - 2.0 ** -11), 2.0 ** -14 * (1 - 2.0 ** -12)],
                              dtype=torch.float64).float())
    parts.append((rand64(g, 60) * 2.0 ** -14 * torch.where(torch.arange(60) % 2 == 0, 1.0, -1.0)).float())

    # bf16 subnormal range: f32 subnormals (bf16 keeps the f32 exponent range).
    s = torch.randint(1, 1 << 23, (60,), generator=g, dtype=torch.int64)
    s = torch.cat([s, torch.tensor([1, 0x8000, 0x8001, 0x7FFF, 0x18000, 0x7F8000, 0x7FFFFF])])
    s = s | torch.where(torch.arange(s.numel()) % 3 == 2, 1 << 31, 0)
    parts.append(f32_bits(s.tolist()))
    parts.append(torch.tensor([1.1754944e-38, 1.1754942e-38, 9.2e-41, 1e-45], dtype=torch.float32))

    # around f16 max (65504; 65520 is the tie that rounds to inf) and bf16 max (0x7F7F0000)
    parts.append(torch.tensor([65504.0, 65505.0, 65519.0, 65519.996, 65520.0, 65520.004, 65536.0, 70000.0,
                               1e5, 1e10, -65504.0, -65520.0, -65519.0, -1e5], dtype=torch.float32))
    bfm = [0x7F7F0000, 0x7F7F7FFF, 0x7F7F8000, 0x7F7F8001, 0x7F7FFFFF, 0x7F7E8000, 0x7F800000]
    parts.append(f32_bits(bfm + [v | (1 << 31) for v in bfm]))

    # specials
    parts.append(torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan")], dtype=torch.float32))

    # f8 edges.  e4m3fn: max 448, next step would be 480 (tie 464), min subnormal 2^-9.
    # e5m2: max 57344, next step 65536=inf (tie 61440), min subnormal 2^-16.
    # e4m3fnuz/e5m2fnuz edges (240, 57344) are covered as a bonus.
    e = [448.0, 449.0, 456.0, 460.0, 463.9999, 464.0, 464.0001, 470.0, 479.99, 480.0, 500.0, 1000.0,
         240.0, 248.0, 256.0, 416.0, 432.0, 440.0,
         57344.0, 57345.0, 59392.0, 61439.0, 61440.0, 61441.0, 65535.0, 65536.0,
         49152.0, 53248.0, 55296.0]
    for p in (-9, -10, -11, -7, -6, -16, -17, -18, -15, -14):
        e += [2.0 ** p, 1.5 * 2.0 ** p, 1.25 * 2.0 ** p, 0.75 * 2.0 ** p, 2.0 ** p * 1.0001, 2.0 ** p * 0.9999]
    e = torch.tensor(e, dtype=torch.float64).float()
    parts += [e, -e]
    # f8 ties: midpoints between adjacent e4m3fn / e5m2 values (exact in f32), both parities
    for dt in (torch.float8_e4m3fn, torch.float8_e5m2):
        allv = torch.arange(256, dtype=torch.int64).to(torch.uint8).view(dt).double()
        pos = allv[:128][torch.isfinite(allv[:128])]
        mids = ((pos[:-1] + pos[1:]) / 2).float()
        parts += [mids, -mids[::3].contiguous()]
    # random values in the f8 ranges
    parts.append(((rand64(g, 100) * 2 - 1) * 500).float())
    # log-uniform-ish over 2^-18 .. 2^16: random exponent times random mantissa (exact)
    ex = torch.randint(-18, 16, (100,), generator=g, dtype=torch.int64)
    parts.append((((ex + 1023) << 52).view(torch.float64) * (1.0 + rand64(g, 100)) * torch.where(torch.arange(100) % 2 == 0, 1.0, -1.0)).float())

    # random finite f32 bit patterns
    r = torch.randint(0, 1 << 32, (300,), generator=g, dtype=torch.int64)
    rf = f32_bits(r.tolist())
    parts.append(rf[torch.isfinite(rf)])

    src = torch.cat([p.float().reshape(-1) for p in parts]).contiguous()
    return src


def make_f64_src():
    g = torch.Generator().manual_seed(4)
    parts = []
    for e in range(-40, 41, 5):
        parts.append(randn64(g, 15) * float(f"1e{e}"))
    # f32 halfway cases: an f32 value's bits with 29 extra mantissa bits = 1000...0 (tie),
    # even and odd f32 mantissa, and +-1 f64 ulp around the tie.
    m = torch.randint(0x00800000, 0x7F7FFFFF, (80,), generator=g, dtype=torch.int64)
    m = torch.cat([m & ~1, m | 1])
    f = m.to(torch.int32).view(torch.float32).double().view(torch.int64)
    tie = f | (1 << 28)
    sign = torch.where(torch.arange(tie.numel()) % 3 == 0, torch.tensor(-(1 << 63)), torch.tensor(0))
    tie = tie | sign
    parts += [tie.view(torch.float64), (tie + 1).view(torch.float64), (tie - 1).view(torch.float64)]
    # around f32 max: max, tie (rounds to inf), below tie, above
    fmax = 3.4028234663852886e38
    ulp = 2.0 ** 104
    parts.append(torch.tensor([fmax, fmax + ulp / 2, fmax + ulp / 2 - 2.0 ** 75, fmax + ulp / 2 + 2.0 ** 75,
                               fmax + ulp, 1e39, 1e300, -fmax, -(fmax + ulp / 2), -1e39], dtype=torch.float64))
    # f32 subnormal range and underflow (min subnormal 2^-149, tie 2^-150)
    k = torch.arange(0, 20, dtype=torch.float64)
    parts += [k * 2.0 ** -149, (k + 0.5) * 2.0 ** -149, -(k + 0.25) * 2.0 ** -149, (k + 0.75) * 2.0 ** -149]
    parts.append(torch.tensor([2.0 ** -150, 2.0 ** -150 * (1 + 2.0 ** -50), 2.0 ** -151, 1e-300, 5e-324,
                               2.0 ** -126, 2.0 ** -126 * (1 - 2.0 ** -24), 2.0 ** -126 * (1 - 2.0 ** -25)],
                              dtype=torch.float64))
    parts.append(rand64(g, 40) * 2.0 ** -126)
    parts.append(torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 0.1, 1.0 / 3.0,
                               2.0 / 3.0, 1e-7, 16777217.0, 16777219.0, 1.0 + 2.0 ** -24, 1.0 + 3 * 2.0 ** -24],
                              dtype=torch.float64))
    r = torch.randint(-(1 << 62), 1 << 62, (120,), generator=g, dtype=torch.int64) * 2
    r = r.view(torch.float64)
    parts.append(r[torch.isfinite(r)])
    return torch.cat([p.reshape(-1) for p in parts]).contiguous()


def write_conversions():
    out = fresh_dir(FIXTURES / "dtype")
    src = make_f32_src()
    f64 = make_f64_src()
    # torch's f32->bf16 NaN result depends on the CPU code path: the vectorized AVX2/AVX512
    # kernel gives 0xFFFF for any NaN, the scalar c10::BFloat16 conversion (used for 0-dim
    # tensors, and for everything when ATEN_CPU_CAPABILITY=default, e.g. on some non-x86
    # builds) gives the canonical 0x7FC0.  Use the scalar result for NaNs so the fixture
    # does not depend on the machine.  No other value in this file depends on the path.
    bf16_of_src = src.to(torch.bfloat16)
    for i in torch.isnan(src).nonzero().flatten().tolist():
        bf16_of_src[i] = src[i].clone().to(torch.bfloat16)  # 0-dim: scalar path
        assert bf16_of_src[i:i + 1].view(torch.int16).item() == 0x7FC0
    t = {
        "f32_src": src,
        "f16_of_src": src.half(),
        "bf16_of_src": bf16_of_src,
        "f8e4m3_of_src": src.to(torch.float8_e4m3fn),
        "f8e5m2_of_src": src.to(torch.float8_e5m2),
        "f64_src": f64,
        "f32_of_f64": f64.float(),
    }
    f16_all = torch.arange(65536, dtype=torch.int32).to(torch.int16).view(torch.float16)
    bf16_all = torch.arange(65536, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    e4_all = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(torch.float8_e4m3fn)
    e5_all = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(torch.float8_e5m2)
    # The f16/bf16 bit patterns themselves are not stored (they are 0..65535: the tests make
    # them), only torch's decoding of each; the f8 patterns are small enough to keep.
    t.update({
        "f16_all_as_f32": f16_all.float(),
        "bf16_all_as_f32": bf16_all.float(),
        "f8e4m3_all": e4_all, "f8e4m3_all_as_f32": e4_all.float(),
        "f8e5m2_all": e5_all, "f8e5m2_all_as_f32": e5_all.float(),
    })
    t = {k: v.contiguous() for k, v in t.items()}
    path = out / "conversions.safetensors"
    save_file_canonical(t, path, {"format": "pt", "source": "lsrconv fixture"})

    # summary of f8 overflow / NaN handling, for the record
    probe = torch.tensor([448.0, 464.0, 464.0001, 480.0, 1e6, float("inf"), float("-inf"), float("nan"),
                          57344.0, 61439.0, 61440.0, 1e9])
    e4 = probe.to(torch.float8_e4m3fn).view(torch.uint8).tolist()
    e5 = probe.to(torch.float8_e5m2).view(torch.uint8).tolist()
    print(f"dtype: f32_src {src.numel()} values, f64_src {f64.numel()} values")
    print("dtype: probe " + str(probe.tolist()))
    print("dtype:   -> e4m3fn bits " + str([hex(x) for x in e4]))
    print("dtype:   -> e5m2   bits " + str([hex(x) for x in e5]))
    n = src.numel()
    print(f"dtype: src->f8e4m3 NaN outputs: {int(torch.isnan(t['f8e4m3_of_src'].float()).sum())} / {n}; "
          f"src->f8e5m2 inf outputs: {int(torch.isinf(t['f8e5m2_of_src'].float()).sum())}")


# --------------------------------------------------------------------------

def summary():
    total = 0
    print("\nfiles:")
    for p in sorted(FIXTURES.rglob("*")):
        if p.is_file() and HERE not in p.parents:
            size = p.stat().st_size
            total += size
            print(f"  {size:>9}  {p.relative_to(FIXTURES.parent)}")
    all_total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    print(f"generated: {total} bytes; all of Fixtures/: {all_total} bytes ({all_total / 2**20:.2f} MiB)")
    if all_total > 8.5 * 10**6:
        print("WARNING: Fixtures/ is over 8.5 MB", file=sys.stderr)


def main():
    check_versions()
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    raw_tok, hf_tok = train_tokenizer()
    print(f"tokenizer: vocab {raw_tok.get_vocab_size()} (hf len {len(hf_tok)})")
    model = write_models(hf_tok)
    write_all_dtypes()
    write_conversions()
    ctx = types.SimpleNamespace(fixtures=FIXTURES, fresh_dir=fresh_dir, randn64=randn64)
    f16 = build_model(len(hf_tok)).half()
    bf16 = build_model(len(hf_tok)).to(torch.bfloat16)
    torch_dir = torch_fixtures.write_torch(ctx, model, f16, bf16)
    for line in (torch_fixtures.layout_facts(torch_dir / "zip" / "pytorch_model.bin")
                 + torch_fixtures.legacy_facts(torch_dir / "legacy" / "pytorch_model.bin")):
        print("torch: " + line)
    out = malformed.write_malformed(ctx)
    print(f"malformed: {len(malformed.CASES)} files, see {out.relative_to(FIXTURES.parent)}/README.md")
    summary()


if __name__ == "__main__":
    main()
