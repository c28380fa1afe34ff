"""Phenotype transforms, fitted on one set of individuals and applicable to others.

- ``standardize``: (y - mean) / sd with ddof 0 (the default);
- ``boxcox``: Box-Cox with lambda chosen by maximum likelihood (scipy), then standardized, as the
  LMM-Lasso paper does; needs y > 0;
- ``rint``: rank-based inverse normal, Phi^-1((rank - 0.5) / n) with average ranks for ties; new
  values are placed by interpolating the fitted empirical CDF;
- ``none``: unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from lmmlasso_cli.errors import InputError

TRANSFORMS = ("standardize", "boxcox", "rint", "none")


@dataclass(frozen=True)
class PhenoTransform:
    """A fitted transform. ``apply`` maps values on the original scale to the model scale."""

    kind: str
    mean: float = 0.0  # of the Box-Cox (or raw) values, before scaling
    sd: float = 1.0
    boxcox_lambda: float = np.nan
    ranks_x: np.ndarray | None = None  # sorted fitted values (rint)

    def apply(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "none":
            return y.copy()
        if self.kind == "rint":
            n = len(self.ranks_x)
            lo = np.searchsorted(self.ranks_x, y, side="left")
            hi = np.searchsorted(self.ranks_x, y, side="right")
            p = np.clip((lo + hi) / 2.0, 0.5, n - 0.5) / n
            return special.ndtri(p)
        if self.kind == "boxcox":
            if np.any(y <= 0):
                raise InputError("Box-Cox needs positive phenotype values; use `transform` rint")
            y = special.boxcox(y, self.boxcox_lambda)
        return (y - self.mean) / self.sd

    def invert(self, z: np.ndarray) -> np.ndarray | None:
        """Back to the original scale, for affine transforms; None otherwise."""
        if self.kind in ("standardize", "none"):
            return np.asarray(z) * self.sd + self.mean
        return None


def fit_transform(y: np.ndarray, kind: str, name: str = "phenotype") -> PhenoTransform:
    """Fit ``kind`` on ``y`` (no NaN). Raise on a constant phenotype."""
    if kind not in TRANSFORMS:
        raise InputError(f"unknown `transform` {kind!r}; choose one of {', '.join(TRANSFORMS)}")
    y = np.asarray(y, dtype=np.float64)
    if kind == "none":
        return PhenoTransform("none", mean=0.0, sd=1.0)
    if kind == "rint":
        return PhenoTransform("rint", ranks_x=np.sort(y))
    lam = np.nan
    if kind == "boxcox":
        if np.any(y <= 0):
            raise InputError(
                f"phenotype {name}: Box-Cox needs positive values (min {y.min():.4g}); "
                f"use `transform` rint or shift the phenotype"
            )
        from scipy import stats  # heavy import, only for Box-Cox

        y, lam = stats.boxcox(y)
    return PhenoTransform(kind, mean=float(y.mean()), sd=float(y.std()), boxcox_lambda=float(lam))


def check_phenotype(y: np.ndarray, name: str, path: str) -> None:
    """Reject phenotypes that no model can use."""
    finite = y[np.isfinite(y)]
    if len(finite) == 0:
        raise InputError(f"{path}: phenotype {name} is missing for every analysed individual")
    if np.ptp(finite) == 0:
        raise InputError(
            f"{path}: phenotype {name} is constant ({finite[0]:g}) over the analysed individuals; "
            f"drop it or check the missing-value coding"
        )
