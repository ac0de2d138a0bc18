"""An ensemble of cell scorers: average each member's within-list rank (or z-score).

Members score on different scales (predicted accuracy in %, NASWOT's log|K|, ...), so their
raw scores cannot be averaged. For one list of n cells, member m gives each cell

    rank:    r_m(a) = (rank of a's score among the n, 0 = worst, ties averaged) / (n - 1)   in [0, 1]
    zscore:  z_m(a) = (s_m(a) - mean_m) / std_m        (non-finite scores: below the worst finite one)

and the ensemble score is the weighted mean over members. Scores are only comparable within
one call: ``score`` must see the whole candidate list at once.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from metad2a.errors import MetaD2AError
from metad2a.metrics import _ranks  # average ranks of ties, 0-based (no scipy dependency)
from metad2a.predictors.base import DatasetSample, Scorer

COMBINE = ("rank", "zscore")


def _finite(scores: np.ndarray) -> np.ndarray:
    """Non-finite scores (NaN, -inf from a singular NASWOT kernel) become just below the worst finite one."""
    s = np.asarray(scores, dtype=np.float64).copy()
    ok = np.isfinite(s)
    if not ok.all():
        low = s[ok].min() - max(1.0, np.ptp(s[ok])) if ok.any() else 0.0
        s[~ok] = low
    return s


def normalized_rank(scores: np.ndarray) -> np.ndarray:
    """(n,) scores -> (n,) ranks scaled to [0, 1], 1 = best, ties get their average rank."""
    s = _finite(scores)
    if len(s) < 2:
        return np.ones(len(s))
    return _ranks(s) / (len(s) - 1.0)


def zscore(scores: np.ndarray) -> np.ndarray:
    """(n,) scores -> (n,) z-scores; a constant list gives zeros."""
    s = _finite(scores)
    if len(s) == 0:
        return s
    std = s.std()
    return (s - s.mean()) / std if std > 0 else np.zeros_like(s)


class EnsembleScorer:
    """Combines ``members`` (any ``Scorer``s) by mean within-list rank (``combine="rank"``) or z-score.

    ``weights`` (one per member, default equal) weight the mean. ``last_member_scores`` holds
    each member's raw scores from the latest call, by member name, for reports.
    """

    def __init__(self, members: Sequence[Scorer], combine: str = "rank", weights: Sequence[float] | None = None,
                 name: str = "ensemble"):
        members = list(members)
        if not members:
            raise MetaD2AError("predictor=ensemble needs at least one member: set predictor.members")
        if combine not in COMBINE:
            raise MetaD2AError(f"unknown ensemble combine {combine!r}: use one of {', '.join(COMBINE)}")
        w = np.ones(len(members)) if weights is None else np.asarray(list(weights), dtype=np.float64)
        if w.shape != (len(members),) or (w < 0).any() or w.sum() <= 0:
            raise MetaD2AError(f"predictor.weights must be {len(members)} non-negative numbers, not all 0; "
                               f"got {list(weights) if weights is not None else None}")
        self.members, self.combine, self.weights = members, combine, w / w.sum()
        names = [getattr(m, "name", type(m).__name__) for m in members]
        self.member_names = [n if names.count(n) == 1 else f"{n}_{i}" for i, n in enumerate(names)]
        self.name = name
        self.last_member_scores: dict[str, np.ndarray] = {}
        # The feature extractor the dataset features must come from (the meta-predictor's, if any).
        self.feature_extractor = next((m.feature_extractor for m in members
                                       if getattr(m, "feature_extractor", None)), None)

    def score(self, archs: Sequence[str], dataset: DatasetSample | None = None) -> np.ndarray:
        """Weighted mean normalised rank (in [0, 1]) or z-score of each cell: (len(archs),) float64."""
        archs = list(archs)
        norm = normalized_rank if self.combine == "rank" else zscore
        total = np.zeros(len(archs))
        self.last_member_scores = {}
        for name, member, w in zip(self.member_names, self.members, self.weights):
            s = np.asarray(member.score(archs, dataset), dtype=np.float64)
            if s.shape != (len(archs),):
                raise MetaD2AError(f"ensemble member {name} returned {s.shape} scores for {len(archs)} cells")
            self.last_member_scores[name] = s
            total += w * norm(s)
        return total
