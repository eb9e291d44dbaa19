"""Time-aware evaluation: prequential folds, fraud metrics, money, plots, tables.

- :mod:`okml.evaluate.splits`: train / delay / test folds, the fold of a training run and the
  labels known at go-live.
- :mod:`okml.evaluate.metrics`: AUC, AP, Card Precision@k, recall@FPR, money, cost threshold.
- :mod:`okml.evaluate.scoring`: :func:`evaluate_scores`, every metric for one set of scores, in
  the queue order of :func:`ranking_priority` (``evaluate.rings_first``: rings first).
- :mod:`okml.evaluate.plots`: ROC, precision-recall, score distribution, CP@k by day, cost,
  calibration.
- :mod:`okml.evaluate.tables`: metrics as tables people read.
- :mod:`okml.evaluate.feedback`: alert feedback (the daily top-k alerts' labels known the same
  day) walked day by day over a test window, and the F + D ensemble of Dal Pozzolo et al.

``okml evaluate`` (the comparison of candidates on folds) is a job: :mod:`okml.jobs.evaluate`.
Nothing here fits a model or imports xgboost.
"""

from okml.evaluate.scoring import (
    evaluate_scores,
    operating_flags,
    operating_threshold,
    ranking_priority,
    scored_frame,
)
from okml.evaluate.splits import Fold, FoldData, make_folds, split_fold, training_fold

__all__ = [
    "Fold",
    "FoldData",
    "evaluate_scores",
    "make_folds",
    "operating_flags",
    "operating_threshold",
    "ranking_priority",
    "scored_frame",
    "split_fold",
    "training_fold",
]
