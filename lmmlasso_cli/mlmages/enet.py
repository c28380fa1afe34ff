"""Elastic-net shrinkage of marginal effects with block LD (the ML-MAGES baseline).

Under β̂ ≈ Rβ + noise (β̂ standardized marginal effects of a block, R its LD), each block of b
variants is solved for

    β̃ = argmin_β  (1 / 2b) ‖β̂ − Xβ‖²  +  α ρ ‖β‖₁  +  α (1 − ρ)/2 ‖β‖²,   ρ = ``l1_ratio``,

with X = R, or X = D⁻¹R, D = diag(‖R_j‖), when ``row_normalize`` (ML-MAGES's
``sklearn.preprocessing.normalize``: it rescales equation j but not β̂_j, so the implied model is
β̂ ≈ D⁻¹Rβ; it is off by default). α is chosen among ``n_alphas`` values log-spaced from α_max
(the smallest α giving β̃ = 0) down to ``eps`` · α_max by ``cv``-fold cross-validation over the
variants (rows), contiguous folds without shuffling, minimizing the mean squared error, as
ML-MAGES does with scikit-learn's ``ElasticNetCV`` (coordinate descent, tolerance ``tol`` on
the duality gap). Blocks with fewer than ``cv`` variants use one fold per variant; a block of
one variant keeps its β̂.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EnetSettings:
    l1_ratio: float = 0.5
    n_alphas: int = 10
    eps: float = 1e-2
    cv: int = 5
    tol: float = 1e-4
    max_iter: int = 1000
    row_normalize: bool = False


def enet_block(beta: np.ndarray, R: np.ndarray, settings: EnetSettings = EnetSettings()):
    """Shrunk effects of one block and the chosen α (module docstring); returns (β̃, α)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    from sklearn.linear_model import ElasticNetCV
    from sklearn.model_selection import KFold

    beta = np.asarray(beta, dtype=np.float64)
    b = len(beta)
    if b < 2 or not np.any(beta):
        return beta.copy(), float("nan")
    X = np.asarray(R, dtype=np.float64)
    if settings.row_normalize:
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
    model = ElasticNetCV(
        l1_ratio=settings.l1_ratio,
        alphas=settings.n_alphas,
        eps=settings.eps,
        cv=KFold(min(settings.cv, b), shuffle=False),
        fit_intercept=False,
        tol=settings.tol,
        max_iter=settings.max_iter,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)  # CV folds; the final fit is checked
        model.fit(X, beta)
    if model.dual_gap_ > settings.tol * float(beta @ beta) / b:  # both on the 1/(2b) scale
        from lmmlasso_cli.errors import ConvergenceWarning

        warnings.warn(
            f"elastic net of a {b}-variant block stopped with duality gap {model.dual_gap_:.2e}; "
            "raise `max_iter`",
            ConvergenceWarning,
            stacklevel=2,
        )
    return model.coef_.copy(), float(model.alpha_)
