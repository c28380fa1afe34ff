"""Typed settings of the estimators; every default lives here and only here.

The CLI builds each of these once per command from its options (`cli.options`); the core takes
them as arguments. All are frozen, hashable and JSON-friendly (`dataclasses.asdict`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy only where a grid is made: `lmmlasso --help` imports this module
    import numpy as np

TRANSFORM = "standardize"


@dataclass(frozen=True)
class NullSearch:
    """How the null LMM's log δ = log(σe²/σg²) is searched: ML or REML, a grid of ``n_grid``
    intervals over ``log_delta_range``, then Brent's method around every interior minimum."""

    reml: bool = False
    n_grid: int = 100
    log_delta_range: tuple[float, float] = (-5.0, 5.0)


@dataclass(frozen=True)
class LassoSettings:
    """The penalty mix and the stopping rule of the coordinate-descent solver.

    Objective ½‖ỹ − X̃w‖² + μ·r·‖w‖₁ + ½·μ·(1 − r)·‖w‖² with r = ``l1_ratio``; stop when the
    duality gap ≤ ``tol``·‖ỹ‖², or give up after ``max_epochs`` epochs per μ.
    """

    l1_ratio: float = 1.0
    tol: float = 1e-7
    max_epochs: int = 10_000


@dataclass(frozen=True)
class MuGrid:
    """A μ path: ``mu_list`` (absolute values) if given, else ``n_mu`` values geometric from
    μ_max down to μ_max·``mu_min_ratio``."""

    n_mu: int = 100
    mu_min_ratio: float = 1e-3
    mu_list: tuple[float, ...] | None = None

    def values(self, mu_max: float) -> np.ndarray:
        """The grid, non-increasing."""
        if self.mu_list:
            import numpy as np

            return np.array(sorted(self.mu_list, reverse=True), dtype=np.float64)
        from lmmlasso_cli.lasso.path import mu_grid

        return mu_grid(mu_max, self.n_mu, self.mu_min_ratio)

    @property
    def n_values(self) -> int:
        return len(self.mu_list) if self.mu_list else self.n_mu


@dataclass(frozen=True)
class TrainingSettings:
    """How one training set (a cv fold, a stability subsample) is fitted: the phenotype
    transform, the null-model search and the solver."""

    transform: str = TRANSFORM
    null: NullSearch = NullSearch()
    lasso: LassoSettings = LassoSettings()
