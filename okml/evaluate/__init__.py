"""Time-aware evaluation: prequential folds, fraud metrics, money, plots, model comparison.

- :mod:`okml.evaluate.splits`: train / delay / test folds and the labels known at go-live.
- :mod:`okml.evaluate.metrics`: AUC, AP, Card Precision@k, recall@FPR, money, cost threshold.
- :mod:`okml.evaluate.scoring`: :func:`evaluate_scores`, every metric for one set of scores.
- :mod:`okml.evaluate.plots`: ROC, precision-recall, score distribution, CP@k by day, cost,
  calibration.
- :mod:`okml.evaluate.compare`: :func:`run_evaluation`, behind ``okml evaluate``.
"""

from okml.evaluate.compare import EvaluationResult, run_evaluation
from okml.evaluate.scoring import evaluate_scores, operating_flags, scored_frame
from okml.evaluate.splits import Fold, FoldData, make_folds, split_fold

__all__ = [
    "EvaluationResult",
    "Fold",
    "FoldData",
    "evaluate_scores",
    "make_folds",
    "operating_flags",
    "run_evaluation",
    "scored_frame",
    "split_fold",
]
