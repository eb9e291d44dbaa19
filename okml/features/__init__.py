"""Point-in-time features: what was known about a payment's customer, merchant and device
at the moment it happened, and nothing later.

* :func:`build_features` turns canonical transactions into the feature table;
  :func:`feature_matrix` is the same as the float matrix models are fitted on.
* :func:`feature_names`, :func:`lookback`, :data:`REGISTRY`, :func:`registry`,
  :func:`describe`, :func:`registry_frame`: what the features are and what they need.

Definitions (order, trailing windows, known labels) are in :mod:`okml.features.engine`;
the vectorized window arithmetic in :mod:`okml.features._timeline`.
"""

from okml.features.engine import build_features, feature_matrix
from okml.features.registry import (
    FAMILIES,
    REGISTRY,
    FeatureSpec,
    describe,
    feature_names,
    lookback,
    registry,
    registry_frame,
    spec,
)

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "FeatureSpec",
    "build_features",
    "feature_matrix",
    "describe",
    "feature_names",
    "lookback",
    "registry",
    "registry_frame",
    "spec",
]
