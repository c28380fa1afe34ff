"""How well SNP scores recover causal SNPs: precision–recall and ROC curves and their areas.

Units and labels. Without a window every SNP of the universe is a unit, labelled positive if
it is causal. With a window (±W bp, or ±N SNPs in .bim order, on the same chromosome) the
evaluation is collapsed to causal loci, because LD makes the neighbours of a causal SNP
indistinguishable from it:

- each causal SNP k defines a locus L_k = the SNPs within its window (itself included); the
  locus is one positive unit whose score is the highest score in L_k;
- every SNP outside all loci is one negative unit with its own score;
- SNPs inside some locus but not the causal SNP itself are neither positive nor negative:
  selecting them recovers the locus (if they carry its top score) and is never a false positive.

So at a threshold t, with "selected" meaning score ≥ t: TP(t) = causal loci with a selected
SNP, FP(t) = selected SNPs outside every locus, precision = TP/(TP + FP), recall = TP/n_causal,
FPR = FP/n_negative. Overlapping loci are counted once per causal SNP. Equal scores form one
threshold (a block of ties enters together), as in scikit-learn.

Areas. AUC_PR is the average precision AP = Σ_k (R_k − R_{k−1}) P_k over the distinct
thresholds in decreasing order (R_0 = 0), scikit-learn's ``average_precision_score``; AUC_ROC
is the trapezoidal area under (FPR, TPR) from (0, 0), equal to ``roc_auc_score`` (ties count
one half).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankingCurves:
    """Curves over the distinct thresholds, in decreasing order (arrays (n_thresholds,))."""

    thresholds: np.ndarray
    tp: np.ndarray  # positive units with score ≥ threshold
    fp: np.ndarray  # negative units with score ≥ threshold
    n_positive: int
    n_negative: int
    average_precision: float
    roc_auc: float

    @property
    def precision(self) -> np.ndarray:
        return self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> np.ndarray:
        return self.tp / self.n_positive

    @property
    def fpr(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.fp / self.n_negative


def ranking_curves(scores: np.ndarray, labels: np.ndarray) -> RankingCurves:
    """PR and ROC curves of ``scores`` (higher = more likely positive) for boolean ``labels``."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError("scores and labels must be 1-d arrays of the same length")
    if np.isnan(scores).any():
        raise ValueError("scores must not be NaN")
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0:
        raise ValueError("no positive unit: nothing to recover")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # end of each tie block
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n_pos
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    if n_neg:
        fpr, tpr = np.r_[0.0, fp / n_neg], np.r_[0.0, recall]
        auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    else:
        auc = float("nan")
    return RankingCurves(s[last], tp, fp, n_pos, n_neg, ap, auc)


@dataclass(frozen=True)
class Loci:
    """Units of a windowed evaluation: members of each causal locus and the negative SNPs."""

    members: list  # per causal SNP, indices (into the universe) of the SNPs in its window
    negatives: np.ndarray  # indices of SNPs outside every window


def causal_loci(
    causal: np.ndarray,
    chrom: np.ndarray,
    position: np.ndarray | None = None,
    window: float = 0,
) -> Loci:
    """Windows around the ``causal`` SNP indices: same chromosome, |position − position_k| ≤
    window. ``position`` is bp for a bp window, or None for a window in SNPs (index order)."""
    n = len(chrom)
    by_chrom: dict = {}
    for c in np.unique(chrom):
        by_chrom[c] = np.flatnonzero(chrom == c)
    members = []
    inside = np.zeros(n, dtype=bool)
    for k in np.asarray(causal):
        same = by_chrom[chrom[k]]
        if position is None:  # ±N neighbours along the chromosome, in index order
            rank = int(np.searchsorted(same, k))
            hit = same[max(rank - int(window), 0) : rank + int(window) + 1]
        else:
            hit = same[np.abs(np.asarray(position)[same] - position[k]) <= window]
        members.append(hit)
        inside[hit] = True
    return Loci(members, np.flatnonzero(~inside))


def unit_scores(scores: np.ndarray, causal: np.ndarray, loci: Loci | None):
    """(scores, labels) of the evaluation units: SNPs, or causal loci plus negative SNPs."""
    scores = np.asarray(scores, dtype=np.float64)
    if loci is None:
        labels = np.zeros(len(scores), dtype=bool)
        labels[np.asarray(causal)] = True
        return scores, labels
    pos = np.array([scores[m].max() for m in loci.members])
    neg = scores[loci.negatives]
    return np.r_[pos, neg], np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]


@dataclass(frozen=True)
class SelectionRecovery:
    """Precision and recall of one fixed selection of SNPs (same units as the curves)."""

    n_selected: int
    precision: float  # NaN when nothing is selected
    recall: float


def selection_recovery(
    selected: np.ndarray, causal: np.ndarray, loci: Loci | None
) -> SelectionRecovery:
    """Recovery by the boolean ``selected`` over the universe (see the module docstring)."""
    selected = np.asarray(selected, dtype=bool)
    if loci is None:
        is_causal = np.zeros(len(selected), dtype=bool)
        is_causal[np.asarray(causal)] = True
        tp, fp = int(np.sum(selected & is_causal)), int(np.sum(selected & ~is_causal))
        n_pos = int(is_causal.sum())
    else:
        tp = sum(bool(selected[m].any()) for m in loci.members)
        fp = int(selected[loci.negatives].sum())
        n_pos = len(loci.members)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    return SelectionRecovery(int(selected.sum()), precision, tp / n_pos)
