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
class PathStop:
    """When a Lasso path ends before its last μ: glmnet's rules (``glmnet.control``).

    After fitting μ_k the path stops, keeping μ_k, if more than ``max_active`` SNPs are
    active (glmnet's ``dfmax``; None: half the individuals the path is fitted on), or, once
    at least ``min_mus`` μ are fitted (glmnet's ``mnlam``), if its training explained variance
    ev_k = 1 − ‖ỹ − X̃w‖²/‖ỹ‖²

    - rose by less than ``ev_change`` relative to itself: ev_k − ev_{k−1} < ev_change·ev_k
      (glmnet's ``fdev``);
    - exceeds ``ev_max`` (glmnet's ``devmax``).

    The μ after a stop are not fitted. (glmnet waits for ``mnlam`` λ before its ``dfmax``
    check too; a cap here holds from the first μ.)
    """

    min_mus: int = 5
    ev_change: float = 1e-5
    ev_max: float = 0.999
    max_active: int | None = None


@dataclass(frozen=True)
class LassoSettings:
    """The penalty mix and the stopping rules of the coordinate-descent solver.

    Objective ½‖ỹ − X̃w‖² + μ·r·‖w‖₁ + ½·μ·(1 − r)·‖w‖² with r = ``l1_ratio``; stop when the
    duality gap ≤ ``tol``·‖ỹ‖², or give up after ``max_epochs`` epochs per μ. A path ends
    early by ``path_stop`` (None: every μ is fitted).
    """

    l1_ratio: float = 1.0
    tol: float = 1e-7
    max_epochs: int = 10_000
    path_stop: PathStop | None = PathStop()


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


REFITS = ("refit", "average")


@dataclass(frozen=True)
class CvSettings:
    """K-fold cross-validation over individuals (`selection.cv`).

    ``n_folds`` folds split with ``seed``. Each fold's path stops once its held-out error
    Var(y_v − ŷ_v) has risen ``n_abort`` times since its minimum (bigstatsr's ``n.abort``;
    0: never). ``rule`` picks μ from the mean held-out explained variance ("best" or "1se").
    ``refit``: "refit" fits all individuals at the chosen μ; "average" averages the fold models
    at each fold's own best μ (bigstatsr's CMSA).
    """

    n_folds: int = 10
    seed: int = 0
    rule: str = "best"
    n_abort: int = 3
    refit: str = "refit"
