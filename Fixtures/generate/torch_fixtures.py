"""Fixtures/torch/: the tiny RoBERTa as PyTorch checkpoints (imported by generate.py).

Every file is written by torch.save itself (torch 2.13.0+cpu).  Two post-processing steps,
both checked by reading the result back with torch.load(weights_only=True):
  - legacy files get deterministic storage keys (torch_formats.normalize_legacy; torch names
    them after heap addresses);
  - TorchScript's *.debug_pkl records (they embed absolute source paths) are left out.

  zip/            pytorch_model.bin: torch.save(model.state_dict()), float32 (an OrderedDict whose
                  `_metadata` arrives through BUILD, as plain PyTorch users and transformers
                  < 4.38 save it); config.json.
  legacy/         pytorch_model.bin: the float16 state dict with _use_new_zipfile_serialization=False;
                  config.json (dtype float16).
  zip-bf16/       pytorch_model.bin: bfloat16 zip; config.json (dtype bfloat16).
  edge/           transposed.pt (zip) and transposed_legacy.pt (legacy): views, shared storages,
                  storage offsets, stride 0, a 0-d and an empty tensor, an nn.Parameter, int64,
                  bool, bf16, and (zip only) float8/uint16, which torch writes with
                  _rebuild_tensor_v3 + UntypedStorage.  transposed.json gives dtype, shape, stride,
                  storage offset and the sha256 of the contiguous little-endian bytes of each.
  nested/         model.pt: {"state_dict": float16 state dict, "epoch": 3, "optimizer": None}; config.json.
  module/         model.pt: {"module": float16 state dict, ...} (DeepSpeed's model-states layout); config.json.
  fairseq/        the same weights (float16) in fairseq's layouts, see write_fairseq.
  sharded/        float32 in 3 shards pytorch_model-0000N-of-00003.bin + pytorch_model.bin.index.json,
                  as transformers 4.38-4.57 save_pretrained(safe_serialization=False) wrote them
                  (transformers 5 saves safetensors only): huggingface_hub's
                  split_torch_state_dict_into_shards, each shard a plain dict of contiguous tensors,
                  index = json.dumps({"metadata": ..., "weight_map": ...}, indent=2, sort_keys=True) + "\\n".
"""

import argparse
import collections
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import safetensors.torch
import torch
from huggingface_hub import split_torch_state_dict_into_shards

from torch_formats import describe_zip, normalize_legacy, split_legacy, torch_zip, zip_entries

SAFETENSORS_DTYPE = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL", torch.uint16: "U16", torch.float8_e4m3fn: "F8_E4M3", torch.float8_e5m2: "F8_E5M2",
}
# dtypes torch pickles as UntypedStorage + _rebuild_tensor_v3 (torch.storage._new_dtypes()).
V3_DTYPES = {torch.float8_e4m3fn, torch.float8_e5m2, torch.uint16, torch.uint32, torch.uint64}


def contiguous_bytes(t: torch.Tensor) -> bytes:
    """Little-endian C-order bytes (what .contiguous().numpy().tobytes() gives, for every dtype)."""
    flat = t.detach().contiguous().reshape(-1)
    raw = flat.view(torch.uint8).numpy().tobytes()
    if t.dtype in (torch.float32, torch.float16, torch.int64, torch.bool):
        assert raw == t.detach().contiguous().numpy().tobytes()
    return raw


def check_zip_layout(path: Path):
    """torch_zip() rebuilds torch's own file byte for byte (our writer is exact), and every
    record is 64-byte aligned."""
    data = path.read_bytes()
    assert torch_zip(zip_entries(data)) == data, path
    assert all(e["aligned64"] and e["method"] == 0 for e in describe_zip(data)), path


def check_same(loaded, expected, what):
    assert list(loaded) == list(expected), what
    for k, v in expected.items():
        got = loaded[k]
        assert got.dtype == v.dtype and got.shape == v.shape and got.stride() == v.stride(), (what, k)
        assert torch.equal(got, v) if v.dtype != torch.float8_e4m3fn else torch.equal(got.view(torch.uint8), v.view(torch.uint8)), (what, k)


def legacy_save(obj, path: Path, tensors):
    """torch.save(..., _use_new_zipfile_serialization=False) with deterministic storage keys."""
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    sizes = {str(t.untyped_storage()._cdata): (1 if t.dtype in V3_DTYPES else t.element_size()) for t in tensors}
    path.write_bytes(normalize_legacy(buf.getvalue(), sizes))


def copy_config(src: Path, dst_dir: Path):
    shutil.copyfile(src / "config.json", dst_dir / "config.json")


# --------------------------------------------------------------------------
# a-c, e, g: HF state dicts
# --------------------------------------------------------------------------

def write_hf_layouts(ctx, out, model, f16, bf16):
    sd32, sd16, sdbf = model.state_dict(), f16.state_dict(), bf16.state_dict()
    st = safetensors.torch.load_file(str(ctx.fixtures / "tiny-roberta" / "model.safetensors"))
    assert set(st) == set(sd32) and all(torch.equal(st[k], sd32[k]) for k in st)
    assert hasattr(sd32, "_metadata")

    d = ctx.fresh_dir(out / "zip")
    torch.save(sd32, d / "pytorch_model.bin")
    copy_config(ctx.fixtures / "tiny-roberta", d)
    check_zip_layout(d / "pytorch_model.bin")
    check_same(torch.load(d / "pytorch_model.bin", weights_only=True), sd32, "zip")

    d = ctx.fresh_dir(out / "legacy")
    legacy_save(sd16, d / "pytorch_model.bin", sd16.values())
    copy_config(ctx.fixtures / "tiny-roberta-f16", d)
    assert json.loads((d / "config.json").read_text())["dtype"] == "float16"
    check_same(torch.load(d / "pytorch_model.bin", weights_only=True), sd16, "legacy")

    d = ctx.fresh_dir(out / "zip-bf16")
    torch.save(sdbf, d / "pytorch_model.bin")
    copy_config(ctx.fixtures / "tiny-roberta-bf16", d)
    check_zip_layout(d / "pytorch_model.bin")
    check_same(torch.load(d / "pytorch_model.bin", weights_only=True), sdbf, "zip-bf16")

    d = ctx.fresh_dir(out / "nested")
    torch.save({"state_dict": sd16, "epoch": 3, "optimizer": None}, d / "model.pt")
    copy_config(ctx.fixtures / "tiny-roberta-f16", d)
    check_zip_layout(d / "model.pt")
    check_same(torch.load(d / "model.pt", weights_only=True)["state_dict"], sd16, "nested")

    d = ctx.fresh_dir(out / "module")
    torch.save({"module": sd16, "buffer_names": [], "optimizer": None, "global_steps": 10,
                "dp_world_size": 1, "mp_world_size": 1, "ds_version": "0.14.0"}, d / "model.pt")
    copy_config(ctx.fixtures / "tiny-roberta-f16", d)
    check_zip_layout(d / "model.pt")
    check_same(torch.load(d / "model.pt", weights_only=True)["module"], sd16, "module")

    d = ctx.fresh_dir(out / "sharded")
    split = split_torch_state_dict_into_shards(sd32, filename_pattern="pytorch_model{suffix}.bin", max_shard_size="300KB")
    assert split.is_sharded and len(split.filename_to_tensors) == 3, split.filename_to_tensors.keys()
    for shard_file, names in split.filename_to_tensors.items():
        torch.save({n: sd32[n].contiguous() for n in names}, d / shard_file)
        check_zip_layout(d / shard_file)
    index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
    (d / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    copy_config(ctx.fixtures / "tiny-roberta", d)
    back = {}
    for shard_file in split.filename_to_tensors:
        back.update(torch.load(d / shard_file, weights_only=True))
    assert set(back) == set(sd32) and all(torch.equal(back[k], sd32[k]) for k in sd32)


# --------------------------------------------------------------------------
# d. edge cases
# --------------------------------------------------------------------------

def edge_tensors(ctx):
    g = torch.Generator().manual_seed(5)
    w = ctx.randn64(g, 4, 6).float()
    big = ctx.randn64(g, 10).float()
    pair = ctx.randn64(g, 2, 5).half()
    t = collections.OrderedDict()
    t["w"] = w                                   # contiguous [4, 6]
    t["wt"] = w.t()                              # same storage as w, stride (1, 6): non-contiguous
    t["offset"] = big[3:7]                       # storage_offset 3 in a 10-element storage
    t["shared_a"] = pair[0]                      # one float16 storage, offset 0 ...
    t["shared_b"] = pair[1]                      # ... and offset 5
    t["param"] = torch.nn.Parameter(ctx.randn64(g, 3).float())  # _rebuild_parameter, requires_grad
    t["int64"] = torch.tensor([-1, 0, 2**40, -2**63, 2**63 - 1], dtype=torch.int64)
    t["expanded"] = ctx.randn64(g, 1, 3).float().expand(4, 3)    # stride (0, 1), 3-element storage
    t["permuted"] = ctx.randn64(g, 2, 3, 4).float().permute(2, 0, 1)  # [4, 2, 3], stride (1, 12, 4)
    t["scalar"] = torch.tensor(2.5, dtype=torch.float32)         # shape (), stride ()
    t["empty"] = torch.zeros(0, 3, dtype=torch.float32)          # 0 elements, 0-byte storage
    t["bf16"] = ctx.randn64(g, 2, 2).to(torch.bfloat16)
    t["bool"] = torch.tensor([True, False, True])
    v3 = collections.OrderedDict()
    v3["f8_e4m3fn"] = (ctx.randn64(g, 5) * 10).float().to(torch.float8_e4m3fn)
    v3["u16"] = torch.tensor([0, 1, -1, 0x1234], dtype=torch.int16).view(torch.uint16)
    return t, v3


def write_edge(ctx, out):
    d = ctx.fresh_dir(out / "edge")
    t, v3 = edge_tensors(ctx)
    both = collections.OrderedDict(list(t.items()) + list(v3.items()))
    torch.save(both, d / "transposed.pt")
    check_zip_layout(d / "transposed.pt")
    check_same(torch.load(d / "transposed.pt", weights_only=True), both, "edge zip")
    # torch 2.13 writes float8/uint16 into a legacy file but cannot read them back
    # (AttributeError: UntypedStorage has no attribute 'dtype'), so the legacy file leaves them out.
    legacy_save(t, d / "transposed_legacy.pt", t.values())
    check_same(torch.load(d / "transposed_legacy.pt", weights_only=True), t, "edge legacy")

    storages = {}
    manifest = {"zip": "transposed.pt", "legacy": "transposed_legacy.pt",
                "legacy_omits": list(v3), "tensors": {}}
    for name, x in both.items():
        key = x.untyped_storage()._cdata
        first = storages.setdefault(key, name)
        manifest["tensors"][name] = {
            "dtype": SAFETENSORS_DTYPE[x.dtype],
            "shape": list(x.shape),
            "stride": list(x.stride()),
            "storage_offset": x.storage_offset(),
            "storage_bytes": x.untyped_storage().nbytes(),
            "shares_storage_with": None if first == name else first,
            "rebuild": ("_rebuild_parameter" if isinstance(x, torch.nn.Parameter)
                        else "_rebuild_tensor_v3" if x.dtype in V3_DTYPES else "_rebuild_tensor_v2"),
            "requires_grad": x.requires_grad,
            "sha256": hashlib.sha256(contiguous_bytes(x)).hexdigest(),
        }
    (d / "transposed.json").write_text(json.dumps(manifest, indent=2) + "\n")


# --------------------------------------------------------------------------
# f. fairseq
# --------------------------------------------------------------------------

HEAD = "sentence_classification_head"


def fairseq_model_dict(sd16, extra, layers, prefix, *, fused, emb_norm, version):
    """A fairseq RoBERTa state dict in module registration order (fairseq's state_dict order).

    prefix "encoder" (fairseq >= 0.10: RobertaEncoder.sentence_encoder is a TransformerEncoder,
    whose `version` buffer comes first, then embed_tokens, embed_positions, layernorm_embedding,
    layers with separate k_proj, v_proj, q_proj) or "decoder" (fairseq 0.8/0.9, the original
    RoBERTa release: TransformerSentenceEncoder with embed_tokens, embed_positions, layers with a
    fused in_proj_weight = cat(q, k, v), then emb_layer_norm).  lm_head.weight is tied to
    embed_tokens (a second tensor on the same storage, as state_dict() returns it)."""
    hf = lambda k: sd16["roberta." + k]  # noqa: E731
    se = f"{prefix}.sentence_encoder."
    sd = collections.OrderedDict()
    if version:
        sd[se + "version"] = torch.tensor([3.0], dtype=torch.float16)
    sd[se + "embed_tokens.weight"] = hf("embeddings.word_embeddings.weight")
    sd[se + "embed_positions.weight"] = hf("embeddings.position_embeddings.weight")
    norm = se + ("emb_layer_norm." if emb_norm == "emb_layer_norm" else "layernorm_embedding.")
    if emb_norm != "emb_layer_norm":
        sd[norm + "weight"] = hf("embeddings.LayerNorm.weight")
        sd[norm + "bias"] = hf("embeddings.LayerNorm.bias")
    for i in range(layers):
        L, H = f"{se}layers.{i}.", f"encoder.layer.{i}."
        for part in ("weight", "bias"):
            q, k, v = (hf(f"{H}attention.self.{n}.{part}") for n in ("query", "key", "value"))
            if fused:
                sd[f"{L}self_attn.in_proj_{part}"] = torch.cat([q, k, v], 0)
        if not fused:
            for name, hname in (("k_proj", "key"), ("v_proj", "value"), ("q_proj", "query")):
                for part in ("weight", "bias"):
                    sd[f"{L}self_attn.{name}.{part}"] = hf(f"{H}attention.self.{hname}.{part}")
        for fs, hs in (("self_attn.out_proj", "attention.output.dense"),
                       ("self_attn_layer_norm", "attention.output.LayerNorm"),
                       ("fc1", "intermediate.dense"), ("fc2", "output.dense"),
                       ("final_layer_norm", "output.LayerNorm")):
            for part in ("weight", "bias"):
                sd[f"{L}{fs}.{part}"] = hf(f"{H}{hs}.{part}")
    if emb_norm == "emb_layer_norm":
        sd[norm + "weight"] = hf("embeddings.LayerNorm.weight")
        sd[norm + "bias"] = hf("embeddings.LayerNorm.bias")
    lm = f"{prefix}.lm_head."
    sd[lm + "weight"] = sd[se + "embed_tokens.weight"].detach()  # tied: shares the storage
    for k, v in extra.items():
        sd[lm + k] = v
    for part in ("dense.weight", "dense.bias", "out_proj.weight", "out_proj.bias"):
        sd[f"classification_heads.{HEAD}.{part}"] = sd16["classifier." + part]
    return sd


def fairseq_args(**over):
    """The fields fairseq's sentence_prediction fine-tuning leaves in `args` (trimmed)."""
    a = dict(
        arch="roberta_base", task="sentence_prediction", criterion="sentence_prediction",
        optimizer="adam", lr_scheduler="polynomial_decay", lr=[1e-05], adam_betas="(0.9, 0.98)",
        adam_eps=1e-06, weight_decay=0.1, clip_norm=0.0, max_epoch=10, max_sentences=16,
        update_freq=[1], fp16=True, seed=1, save_dir="checkpoints", restore_file="roberta.base/model.pt",
        data="RTE-bin", num_classes=2, init_token=0, separator_token=2, regression_target=False,
        classification_head_name=HEAD, max_positions=128, encoder_layers=2, encoder_embed_dim=64,
        encoder_ffn_embed_dim=256, encoder_attention_heads=4, activation_fn="gelu",
        pooler_activation_fn="tanh", dropout=0.1, attention_dropout=0.1, activation_dropout=0.0,
        pooler_dropout=0.0, encoder_layers_to_keep=None, encoder_layerdrop=0.0,
        untie_weights_roberta=False, no_shuffle=False, best_checkpoint_metric="accuracy",
        maximize_best_checkpoint_metric=True,
    )
    a.update(over)
    return argparse.Namespace(**a)


def write_fairseq(ctx, out, f16):
    """fairseq/model.pt          fairseq >= 0.10 layout (torch.save zip): {"args": None, "cfg":
                                 {..., "model": argparse.Namespace(...), "task": {...}}, "model":
                                 state dict with encoder.sentence_encoder.* (layernorm_embedding,
                                 separate q/k/v_proj, version buffer), encoder.lm_head.*,
                                 classification_heads.sentence_classification_head.*, "criterion",
                                 "optimizer_history", "task_state", "extra_state"}.  In real
                                 checkpoints of RoBERTa (a model without a dataclass config)
                                 cfg["model"] is the argparse.Namespace of every argument, with
                                 _name = arch (fairseq/dataclass/utils.py convert_namespace_to_omegaconf).
       fairseq/model_decoder.pt  the original RoBERTa release layout (fairseq 0.8/0.9, saved by
                                 torch < 1.6, hence legacy format): {"args": argparse.Namespace,
                                 "model": decoder.sentence_encoder.* with fused in_proj_weight and
                                 emb_layer_norm, decoder.lm_head.*, the head, "optimizer_history",
                                 "extra_state"}.
       fairseq/expected_hf.safetensors  what an importer must produce from either: HF names,
                                 token_type_embeddings = zeros [1, 64], lm_head and version dropped.
       fairseq/fairseq_names.safetensors  model.pt's state dict as safetensors, less the tied
                                 encoder.lm_head.weight (safetensors refuses shared storage).
    """
    d = ctx.fresh_dir(out / "fairseq")
    sd16 = f16.state_dict()
    g = torch.Generator().manual_seed(6)
    lm_extra = collections.OrderedDict()
    lm_extra["bias"] = (0.05 * ctx.randn64(g, sd16["roberta.embeddings.word_embeddings.weight"].shape[0])).half()
    lm_extra["dense.weight"] = (0.02 * ctx.randn64(g, 64, 64)).half()
    lm_extra["dense.bias"] = (0.05 * ctx.randn64(g, 64)).half()
    lm_extra["layer_norm.weight"] = (1 + 0.1 * ctx.randn64(g, 64)).half()
    lm_extra["layer_norm.bias"] = (0.05 * ctx.randn64(g, 64)).half()

    new = fairseq_model_dict(sd16, lm_extra, 2, "encoder", fused=False, emb_norm="layernorm_embedding", version=True)
    old = fairseq_model_dict(sd16, lm_extra, 2, "decoder", fused=True, emb_norm="emb_layer_norm", version=False)

    history = [{"criterion_name": "SentencePredictionCriterion", "optimizer_name": "FP16Optimizer",
                "lr_scheduler_state": {"best": 0.6875}, "num_updates": 2036}]
    model_ns = fairseq_args(_name="roberta_base")
    cfg = {
        "_name": None,
        "common": {"_name": None, "no_progress_bar": False, "log_interval": 100, "seed": 1, "fp16": True,
                   "fp16_init_scale": 4, "memory_efficient_fp16": False},
        "distributed_training": {"_name": None, "distributed_world_size": 1, "distributed_backend": "nccl"},
        "dataset": {"_name": None, "num_workers": 1, "max_tokens": None, "batch_size": 16, "valid_subset": "valid"},
        "optimization": {"_name": None, "max_epoch": 10, "max_update": 2036, "clip_norm": 0.0, "update_freq": [1],
                         "lr": [1e-05]},
        "checkpoint": {"_name": None, "save_dir": "checkpoints", "restore_file": "roberta.base/model.pt",
                       "best_checkpoint_metric": "accuracy", "maximize_best_checkpoint_metric": True},
        "model": model_ns,
        "task": {"_name": "sentence_prediction", "data": "RTE-bin", "num_classes": 2, "init_token": 0,
                 "separator_token": 2, "no_shuffle": False, "shorten_method": "none", "max_positions": 128,
                 "regression_target": False, "seed": 1},
        "criterion": {"_name": "sentence_prediction", "classification_head_name": HEAD, "regression_target": False},
        "optimizer": {"_name": "adam", "adam_betas": "(0.9, 0.98)", "adam_eps": 1e-06, "weight_decay": 0.1,
                      "use_old_adam": False, "fp16_adam_stats": False, "tpu": False, "lr": [1e-05]},
        "lr_scheduler": {"_name": "polynomial_decay", "warmup_updates": 122, "force_anneal": None,
                         "end_learning_rate": 0.0, "power": 1.0, "total_num_update": 2036.0, "lr": [1e-05]},
        "scoring": None, "bpe": {"_name": "gpt2", "gpt2_encoder_json": "encoder.json"}, "tokenizer": None,
    }
    metrics = collections.OrderedDict([("default", [(0, "loss", "AverageMeter",
                                                     {"val": 0.31, "sum": 631.5, "count": 2036, "round": 3})])])
    torch.save({"args": None, "cfg": cfg, "model": new, "criterion": None, "optimizer_history": history,
                "task_state": {}, "extra_state": {"metrics": metrics, "previous_training_time": 912.25,
                                                  "epoch": 10, "best": 0.6875}},
               d / "model.pt")
    check_zip_layout(d / "model.pt")
    check_same(torch.load(d / "model.pt", weights_only=False)["model"], new, "fairseq new")

    args = fairseq_args(encoder_normalize_before=True)
    obj = {"args": args, "model": old, "optimizer_history": history,
           "extra_state": {"epoch": 10, "batch_offset": 0, "val_loss": 0.6875,
                           "train_iterator": {"epoch": 10, "iterations_in_epoch": 0, "shuffle": True}}}
    legacy_save(obj, d / "model_decoder.pt", old.values())
    back = torch.load(d / "model_decoder.pt", weights_only=False)
    check_same(back["model"], old, "fairseq old")
    assert vars(back["args"]) == vars(args)
    m = back["model"]
    assert m["decoder.lm_head.weight"].untyped_storage().data_ptr() == \
        m["decoder.sentence_encoder.embed_tokens.weight"].untyped_storage().data_ptr()

    expected = collections.OrderedDict((k, v.contiguous()) for k, v in sd16.items())
    tt = "roberta.embeddings.token_type_embeddings.weight"
    expected[tt] = torch.zeros_like(expected[tt])
    assert expected[tt].shape == (1, 64)
    safetensors.torch.save_file(expected, str(d / "expected_hf.safetensors"), metadata={"format": "pt"})
    named = collections.OrderedDict((k, v.contiguous()) for k, v in new.items() if k != "encoder.lm_head.weight")
    safetensors.torch.save_file(named, str(d / "fairseq_names.safetensors"), metadata={"format": "pt"})
    # the fused projections split back into q, k, v exactly
    for i in range(2):
        fused = old[f"decoder.sentence_encoder.layers.{i}.self_attn.in_proj_weight"]
        for j, n in enumerate(("q_proj", "k_proj", "v_proj")):
            assert torch.equal(fused[64 * j:64 * (j + 1)], new[f"encoder.sentence_encoder.layers.{i}.self_attn.{n}.weight"])


def write_torch(ctx, model, f16, bf16):
    out = ctx.fresh_dir(ctx.fixtures / "torch")
    write_hf_layouts(ctx, out, model, f16, bf16)
    write_edge(ctx, out)
    write_fairseq(ctx, out, f16)
    return out


def layout_facts(path: Path):
    """Lines describing a torch zip, for the generator's log."""
    data = path.read_bytes()
    lines = [f"{path.name}: {len(data)} bytes"]
    for e in describe_zip(data):
        lines.append(f"  {e['name']:<48} {e['size']:>8} B at {e['data_offset']:>7} aligned64={e['aligned64']} "
                     f"method={e['method']} crc={e['crc']} flags={e['flags']}")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        top = {n.split("/")[0] for n in z.namelist()}
        lines.append(f"  top folders: {sorted(top)}")
    return lines


def legacy_facts(path: Path):
    data = path.read_bytes()
    spans, end = split_legacy(data)
    return [f"{path.name}: {len(data)} bytes, pickles at {spans}, raw storages from {end}"]
