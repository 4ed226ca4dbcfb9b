"""The LSR (or LoRA) adapter of an lsrconv factor file, attached to a transformers model through
forward hooks: the one definition the reference scripts share (model_grads_reference.py,
dropout_reference.py, trajectory_reference.py, learning_reference.py).

For each module of adapter_config.json, its Linear's output gets (α/r)·(x·Downᵀ)·Upᵀ, with
Up = Σₖ λₖ·kron(Lₖ, Rₖ) and Down likewise (DESIGN.md §4), or Up and Down themselves for LoRA;
ΔW is never formed. `factors` maps tensor names to torch tensors (the caller chooses dtype and
requires_grad), so autograd reaches every factor through the hooks.
"""
import torch


def freeze_all_but_head(model):
    """Every weight frozen except the classification head's; returns the head's tensors in
    transformers' order: dense.weight, dense.bias, out_proj.weight, out_proj.bias."""
    for p in model.parameters():
        p.requires_grad_(False)
    head = [model.classifier.dense.weight, model.classifier.dense.bias, model.classifier.out_proj.weight, model.classifier.out_proj.bias]
    for p in head:
        p.requires_grad_(True)
    return head


def factor_matrix(factors, entry):
    """Up or Down of one module entry ("up"/"down" of adapter_config.json's modules)."""
    if "weight" in entry:
        return factors[entry["weight"]["tensor"]]
    left, right, scales = (factors[entry[p]["tensor"]] for p in ("left", "right", "scales"))
    return sum(scales[k] * torch.kron(left[k], right[k]) for k in range(left.shape[0]))


def attach(model, config, factors):
    """Registers the hooks on every adapted Linear of `model` (y += scaling·(x·Downᵀ)·Upᵀ)."""
    scaling = config["alpha"] / config["rank"]
    for module in config["modules"]:
        def hook(mod, inputs, output, entry=module):
            return output + scaling * (inputs[0] @ factor_matrix(factors, entry["down"]).T) @ factor_matrix(factors, entry["up"]).T
        model.get_submodule(module["name"]).register_forward_hook(hook)
