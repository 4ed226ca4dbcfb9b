#!/usr/bin/env python3
"""Reference values of the GLUE metrics, from scikit-learn 1.9.1 and scipy 1.17.1.

    .venv-gen/bin/python Fixtures/generate/metrics_reference.py

Writes Fixtures/reference/metrics.json: for a few deterministic prediction/label sets
(seed 0, including ties and a constant prediction), accuracy (sklearn accuracy_score),
binary F1 (f1_score, positive class 1), Matthews correlation (matthews_corrcoef), and for real
values Pearson (scipy.stats.pearsonr) and Spearman (scipy.stats.spearmanr, average ranks for ties).
"""
import json
import random
from pathlib import Path

import scipy
import sklearn
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

OUT = Path(__file__).resolve().parents[2] / "Fixtures" / "reference" / "metrics.json"


def main():
    rnd = random.Random(0)
    classification = []
    for n, p_right in ((20, 0.7), (57, 0.55), (8, 1.0)):
        labels = [rnd.randrange(2) for _ in range(n)]
        preds = [y if rnd.random() < p_right else 1 - y for y in labels]
        classification.append({"labels": labels, "predictions": preds})
    classification.append({"labels": [0, 1, 0, 1, 1], "predictions": [0, 0, 0, 0, 0]})  # constant: MCC 0, F1 0
    classification.append({"labels": [0, 1, 2, 2, 1, 0, 2], "predictions": [0, 2, 2, 2, 1, 1, 0]})  # 3 classes
    for case in classification:
        y, p = case["labels"], case["predictions"]
        case["accuracy"] = accuracy_score(y, p)
        case["mcc"] = float(matthews_corrcoef(y, p))
        if max(y + p) <= 1:
            case["f1"] = float(f1_score(y, p, zero_division=0.0))
    regression = []
    for n in (12, 30):
        targets = [round(rnd.uniform(0, 5), 1) for _ in range(n)]  # rounded: ties in the ranks
        preds = [t + rnd.gauss(0, 1) for t in targets]
        regression.append({"targets": targets, "predictions": preds, "pearson": float(pearsonr(preds, targets)[0]),
                           "spearman": float(spearmanr(preds, targets)[0])})
    OUT.write_text(json.dumps({"versions": {"sklearn": sklearn.__version__, "scipy": scipy.__version__},
                               "classification": classification, "regression": regression}, indent=1) + "\n")
    print("wrote", OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
