"""Preparing phenotypes for a model: checks, the transform, and grouping by missingness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.transforms import PhenoTransform, check_phenotype, fit_transform


@dataclass(frozen=True)
class PreparedPhenotype:
    """One phenotype on the model scale over its non-missing individuals."""

    name: str
    rows: np.ndarray  # (n,) positions among the aligned individuals
    values: np.ndarray  # (n,) transformed
    raw: np.ndarray  # (n,) original scale
    transform: PhenoTransform


def prepare_phenotype(y: np.ndarray, name: str, source: str, kind: str) -> PreparedPhenotype:
    """Check a phenotype column (NaN = missing), keep its observed rows and transform them."""
    check_phenotype(y, name, source)
    rows = np.flatnonzero(np.isfinite(y))
    raw = y[rows]
    transform = fit_transform(raw, kind, name)
    return PreparedPhenotype(name, rows, transform.apply(raw), raw, transform)
