"""River's StandardScaler + LogisticRegression (SGD, lr 0.01), one example at a
time, on exactly the stream Sluice's quality bench replays, scored as the bench
scores Sluice's models: test-then-train on the labels in labeled_at order, and
every transaction scored when it happens by a copy of the model taken every 500
labels. Writes one served score per transaction; `evaluate-scores.ts` applies
the handbook protocol to them, so both sides are judged by the same code.

Outside the product's dependencies; run it in a throw-away virtualenv:

    python3 -m venv /tmp/river-venv && /tmp/river-venv/bin/pip install river pandas scikit-learn
    node --conditions=sluice-source --import tsx services/learner/bench/export-stream.ts /tmp/sluice-stream
    /tmp/river-venv/bin/python services/learner/bench/river_baseline.py /tmp/sluice-stream
    node --conditions=sluice-source --import tsx services/learner/bench/evaluate-scores.ts /tmp/sluice-stream/river-scores.csv

`river_baseline.py <dir> arf` runs River's adaptive random forest (10 Hoeffding
trees, ADWIN per tree) instead, the online tree ensemble Sluice's
gradient-boosted trees were measured against; it learns about 100 times
slower, so it stops after the last §5.3 test day (157) and writes
river-arf-scores.csv.
"""
import copy
import sys
import time

import numpy as np
import pandas as pd
import river
from river import compose, forest, linear_model, optim, preprocessing
from sklearn.metrics import average_precision_score, roc_auc_score

SNAPSHOT_EVERY_LABELS = 500


# Day after the last §5.3 test day: nothing later is needed for the protocol's figures.
ARF_LAST_DAY = 157


def main(directory: str, which: str) -> None:
    tx = pd.read_csv(f"{directory}/transactions.csv")
    events = pd.read_csv(f"{directory}/events.csv")["event"].tolist()
    names = list(tx.columns[4:])
    rows = [dict(zip(names, values)) for values in tx[names].to_numpy().tolist()]
    labels = tx["is_fraud"].to_numpy().astype(bool).tolist()

    days = tx["day"].to_numpy().tolist()
    if which == "arf":
        model = forest.ARFClassifier(n_models=10, seed=1)
        last_day = ARF_LAST_DAY
        name = "ARFClassifier(n_models=10)"
    else:
        model = compose.Pipeline(
            preprocessing.StandardScaler(),
            linear_model.LogisticRegression(optimizer=optim.SGD(0.01)),
        )
        last_day = None
        name = "StandardScaler | LogisticRegression(SGD 0.01)"
    served = np.zeros(len(rows))
    snapshot = None
    since = 0
    prequential_scores, prequential_labels = [], []
    began = time.perf_counter()
    for e in events:
        if last_day is not None and days[e if e >= 0 else ~e] >= last_day:
            break
        if e >= 0:
            if snapshot is not None:
                served[e] = snapshot.predict_proba_one(rows[e]).get(True, 0.0)
            continue
        i = ~e
        prequential_scores.append(model.predict_proba_one(rows[i]).get(True, 0.0))
        prequential_labels.append(labels[i])
        model.learn_one(rows[i], labels[i])
        since += 1
        if since >= SNAPSHOT_EVERY_LABELS:
            since = 0
            snapshot = copy.deepcopy(model)
    seconds = time.perf_counter() - began
    out = f"{directory}/river-{'arf-' if which == 'arf' else ''}scores.csv"
    np.savetxt(out, served, fmt="%.17g")
    print(
        f"river {river.__version__}: {name}; {len(prequential_labels)} labels, "
        f"all labels AUC {roc_auc_score(prequential_labels, prequential_scores):.3f} "
        f"AP {average_precision_score(prequential_labels, prequential_scores):.3f}; {seconds:.0f} s; "
        f"served scores in {out}"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "lr")
