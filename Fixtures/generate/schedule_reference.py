#!/usr/bin/env python3
"""Learning-rate schedules, warm-up step counts and gradient clipping factors as transformers and
torch compute them: the reference for Tests/LSRTrainTests/ScheduleTests.swift (issue 6).

    .venv-gen/bin/python Fixtures/generate/schedule_reference.py

Writes Fixtures/reference/schedules.json:
  schedules: for each (kind, peak, warmup, total): the rate of every update step 0..total-1, read
             from the optimizer after get_linear_schedule_with_warmup / get_constant_schedule_with_warmup
             (transformers/optimization.py) stepped as transformers' Trainer steps it;
  warmup:    TrainingArguments(warmup_steps=r).get_warmup_steps(total), r < 1 for a few (r, total);
  clipping:  torch.nn.utils.clip_grad_norm_ on fixed float32 gradients: the total norm and the
             factor the gradients were multiplied by.
"""
import json
from pathlib import Path

import torch
from transformers import TrainingArguments, get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

OUT = Path(__file__).resolve().parents[2] / "Fixtures" / "reference" / "schedules.json"


def rates(kind, peak, warmup, total):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=peak)
    if kind == "linear":
        sched = get_linear_schedule_with_warmup(opt, warmup, total)
    else:
        sched = get_constant_schedule_with_warmup(opt, warmup)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])  # the rate the update at this step uses
        opt.step()
        sched.step()
    return out


def main():
    schedules = []
    for kind, peak, warmup, total in [("linear", 5e-4, 3, 20), ("linear", 1e-2, 0, 7), ("linear", 2e-5, 10, 10), ("constant", 1e-3, 4, 9), ("constant", 3e-4, 0, 5)]:
        schedules.append({"kind": kind, "peak": peak, "warmup": warmup, "total": total, "rates": rates(kind, peak, warmup, total)})
    warmup = []
    for ratio, total in [(0.06, 48), (0.06, 50), (0.1, 7), (0.0, 100), (0.5, 3), (0.99, 9)]:
        # transformers 5 folds warmup_ratio into warmup_steps: a value below 1 is a ratio.
        args = TrainingArguments(output_dir="/tmp/unused", warmup_steps=ratio, report_to=[])
        warmup.append({"ratio": ratio, "total": total, "steps": args.get_warmup_steps(total)})
    clipping = []
    g = torch.Generator().manual_seed(7)
    for scale, max_norm in [(0.1, 1.0), (3.0, 1.0), (1.0, 0.5), (50.0, 10.0)]:
        grads = [(torch.randn(5, 3, generator=g) * scale).float(), (torch.randn(4, generator=g) * scale).float()]
        params = [torch.nn.Parameter(torch.zeros_like(x)) for x in grads]
        for p, x in zip(params, grads):
            p.grad = x.clone()
        total_norm = torch.nn.utils.clip_grad_norm_(params, max_norm).item()
        factor = (params[0].grad.double() / grads[0].double()).flatten()
        clipping.append({"gradients": [x.flatten().tolist() for x in grads], "max_norm": max_norm, "total_norm": total_norm,
                         "factor": float(factor[0]), "clipped": [p.grad.flatten().tolist() for p in params]})
    OUT.write_text(json.dumps({"schedules": schedules, "warmup": warmup, "clipping": clipping}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
