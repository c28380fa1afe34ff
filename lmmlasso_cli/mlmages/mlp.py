"""An ensemble of small ReLU networks that maps shrinkage features to effects (ML-MAGES FCNN).

Each member f is scikit-learn's ``MLPRegressor``: inputs x/σ_x (one scale per feature), hidden
layers of ``hidden_layers`` units (default 64 and 8, as ML-MAGES's 2-layer model) with ReLU,
a linear output times σ_y. Member k minimizes, with Adam over shuffled mini-batches B,

    Σ_{i∈B} w_i (f(x_i) − y_i/σ_y)² / (2 Σ_{i∈B} w_i)  +  α ‖W‖² / (2 Σ_{i∈B} w_i),

w_i = ``nonzero_weight`` where y_i ≠ 0 and 1 elsewhere (ML-MAGES's weighted MSE), α = ``l2``
over the weight matrices. ML-MAGES adds BatchNorm and dropout and an unsquared norm penalty;
this network has neither, which keeps its prediction a plain numpy function (`predict`).

Early stopping: a fraction ``validation_fraction`` of the *replicates* (not rows, so no
replicate is on both sides) is held out per member (0: none, the training loss is used);
after every epoch the weighted validation MSE Σ w (f − y)² / Σ w is computed, and training
stops when it has not fallen below the best value times (1 − ``min_delta``) for ``patience``
epochs, or after ``max_epochs``. The
member keeps the parameters of its best epoch. The ensemble predicts the mean of its members.

Seeds: member k uses ``SeedSequence(seed).spawn(n_models)[k]`` for its split, initialization and
shuffling, and BLAS runs single-threaded, so the result is the same whatever the thread count
and the order or parallelism of ``map_fn``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.errors import ConvergenceWarning
from lmmlasso_cli.mlmages.ld import single_threaded


@dataclass(frozen=True)
class MlpSettings:
    """Network shape and training settings (module docstring)."""

    hidden_layers: tuple[int, ...] = (64, 8)
    n_models: int = 10
    nonzero_weight: float = 2.0
    learning_rate: float = 1e-3
    batch_size: int = 100
    max_epochs: int = 200
    patience: int = 10
    min_delta: float = 1e-4  # relative improvement of the validation loss that counts
    l2: float = 1e-5
    validation_fraction: float = 0.2


@dataclass(frozen=True)
class MlpEnsemble:
    """Trained members as plain arrays: member k has ``weights[k][l]`` (in, out) and
    ``biases[k][l]`` (out,) for layer l."""

    weights: tuple[tuple[np.ndarray, ...], ...]
    biases: tuple[tuple[np.ndarray, ...], ...]
    x_scale: np.ndarray  # (n_features,) σ_x
    y_scale: float  # σ_y
    n_epochs: np.ndarray  # (n_models,) epochs run
    best_epoch: np.ndarray  # (n_models,) epoch (1-based) whose parameters were kept
    val_loss: np.ndarray  # (n_models,) best weighted validation MSE (scaled units)

    @property
    def n_models(self) -> int:
        return len(self.weights)

    @property
    def n_features(self) -> int:
        return len(self.x_scale)

    @property
    def hidden_layers(self) -> tuple[int, ...]:
        return tuple(int(w.shape[1]) for w in self.weights[0][:-1])


def feature_scales(features: np.ndarray, top_r: int) -> tuple[np.ndarray, float]:
    """σ_x and σ_y: the effect-like features (β̂, se, neighbour β̂) and the target share one
    scale, the rms of β̂; the LD score its rms; the r values stay as they are."""
    beta_rms = float(np.sqrt(np.mean(features[:, 0] ** 2)))
    beta_rms = beta_rms if beta_rms > 0 else 1.0
    ld_rms = float(np.sqrt(np.mean(features[:, 2] ** 2)))
    ld_rms = ld_rms if ld_rms > 0 else 1.0
    x_scale = np.concatenate([[beta_rms, beta_rms, ld_rms], np.full(top_r, beta_rms)])
    x_scale = np.concatenate([x_scale, np.ones(features.shape[1] - len(x_scale))])
    return x_scale, beta_rms


def _weighted_mse(pred, y, w) -> float:
    return float(np.sum(w * (pred - y) ** 2) / np.sum(w))


def _train_member(args) -> tuple[list, list, int, int, float]:
    X, y, w, replicate, settings, seed_seq = args
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(seed_seq)
    reps = np.unique(replicate)
    if settings.validation_fraction <= 0:  # no hold-out: stop on the training loss
        is_val = np.zeros(len(y), dtype=bool)
    else:
        n_val = int(round(settings.validation_fraction * len(reps)))
        n_val = min(max(n_val, 1), len(reps) - 1) if len(reps) > 1 else 0
        val_reps = rng.choice(reps, size=n_val, replace=False) if n_val else reps[:0]
        is_val = np.isin(replicate, val_reps)
        if not is_val.any():  # a single replicate: hold out rows instead
            is_val = rng.random(len(y)) < settings.validation_fraction
    est = MLPRegressor(
        hidden_layer_sizes=settings.hidden_layers,
        activation="relu",
        solver="adam",
        alpha=settings.l2,
        batch_size=min(settings.batch_size, int((~is_val).sum())),
        learning_rate_init=settings.learning_rate,
        shuffle=True,
        random_state=np.random.RandomState(int(rng.integers(2**31 - 1))),  # advances per epoch
    )
    Xt, yt, wt = X[~is_val], y[~is_val], w[~is_val]
    Xv, yv, wv = (X[is_val], y[is_val], w[is_val]) if is_val.any() else (Xt, yt, wt)
    best, best_epoch, stale, epoch = np.inf, 0, 0, 0
    best_params = None
    with single_threaded():
        for epoch in range(1, settings.max_epochs + 1):
            est.partial_fit(Xt, yt, sample_weight=wt)
            loss = _weighted_mse(est.predict(Xv), yv, wv)
            if loss < best * (1.0 - settings.min_delta):
                best, best_epoch, stale = loss, epoch, 0
                best_params = ([c.copy() for c in est.coefs_], [b.copy() for b in est.intercepts_])
            else:
                stale += 1
                if stale >= settings.patience:
                    break
    assert best_params is not None  # the first epoch always improves on inf
    return best_params[0], best_params[1], epoch, best_epoch, best


def train_ensemble(
    features: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    replicate: np.ndarray,
    top_r: int,
    settings: MlpSettings = MlpSettings(),
    seed: int = 0,
    map_fn: Callable = map,
) -> MlpEnsemble:
    """Train ``settings.n_models`` members (module docstring) on rows ``features`` (N, 2r + 3)
    with targets, loss weights and replicate labels (N,). ``map_fn`` maps over members."""
    X = np.asarray(features, dtype=np.float64)
    if settings.n_models < 1:
        raise ValueError(f"`n_models` must be >= 1, got {settings.n_models}")
    if not np.isfinite(X).all() or not np.isfinite(target).all():
        raise ValueError("training features and targets must be finite")
    x_scale, y_scale = feature_scales(X, top_r)
    Xs, ys = X / x_scale, np.asarray(target, dtype=np.float64) / y_scale
    seeds = np.random.SeedSequence(seed).spawn(settings.n_models)
    jobs = [(Xs, ys, np.asarray(weight, float), np.asarray(replicate), settings, s) for s in seeds]
    members = list(map_fn(_train_member, jobs))
    n_epochs = np.array([m[2] for m in members])
    best_epoch = np.array([m[3] for m in members])
    hit_max = best_epoch >= settings.max_epochs - settings.patience
    if hit_max.any():
        warnings.warn(
            f"{int(hit_max.sum())} of {settings.n_models} networks were still improving near "
            f"`max_epochs` = {settings.max_epochs} (best epochs {best_epoch[hit_max].tolist()}); "
            "raise `max_epochs`",
            ConvergenceWarning,
            stacklevel=2,
        )
    return MlpEnsemble(
        weights=tuple(tuple(m[0]) for m in members),
        biases=tuple(tuple(m[1]) for m in members),
        x_scale=x_scale,
        y_scale=float(y_scale),
        n_epochs=n_epochs,
        best_epoch=best_epoch,
        val_loss=np.array([m[4] for m in members]),
    )


def forward(weights, biases, X: np.ndarray) -> np.ndarray:
    """One member on scaled inputs: ReLU hidden layers, linear output; returns (N,)."""
    a = np.asarray(X, dtype=np.float64)
    for W, b in zip(weights[:-1], biases[:-1], strict=True):
        a = np.maximum(a @ W + b, 0.0)
    return (a @ weights[-1] + biases[-1])[:, 0]


def predict(ensemble: MlpEnsemble, features: np.ndarray) -> np.ndarray:
    """Ensemble mean σ_y · mean_k f_k(x / σ_x) for rows ``features`` (N, n_features)."""
    X = np.asarray(features, dtype=np.float64)
    if X.shape[1] != ensemble.n_features:
        raise ValueError(f"the model takes {ensemble.n_features} features, got {X.shape[1]}")
    Xs = X / ensemble.x_scale
    out = np.zeros(len(X))
    for W, b in zip(ensemble.weights, ensemble.biases, strict=True):
        out += forward(W, b, Xs)
    return out / ensemble.n_models * ensemble.y_scale


def ensemble_to_arrays(ensemble: MlpEnsemble) -> dict[str, np.ndarray]:
    """Plain named arrays (``w{k}_{l}``, ``b{k}_{l}``, scales, diagnostics) for an .npz."""
    arrays = {
        "x_scale": ensemble.x_scale,
        "y_scale": np.array(ensemble.y_scale),
        "n_epochs": ensemble.n_epochs,
        "best_epoch": ensemble.best_epoch,
        "val_loss": ensemble.val_loss,
        "n_layers": np.array(len(ensemble.weights[0])),
        "n_models": np.array(ensemble.n_models),
    }
    for k, (ws, bs) in enumerate(zip(ensemble.weights, ensemble.biases, strict=True)):
        for layer, (W, b) in enumerate(zip(ws, bs, strict=True)):
            arrays[f"w{k}_{layer}"] = W
            arrays[f"b{k}_{layer}"] = b
    return arrays


def ensemble_from_arrays(arrays) -> MlpEnsemble:
    """Inverse of `ensemble_to_arrays` (raises KeyError on a missing array)."""
    n_models, n_layers = int(arrays["n_models"]), int(arrays["n_layers"])
    weights = tuple(
        tuple(np.asarray(arrays[f"w{k}_{m}"], float) for m in range(n_layers))
        for k in range(n_models)
    )
    biases = tuple(
        tuple(np.asarray(arrays[f"b{k}_{m}"], float) for m in range(n_layers))
        for k in range(n_models)
    )
    return MlpEnsemble(
        weights=weights,
        biases=biases,
        x_scale=np.asarray(arrays["x_scale"], float),
        y_scale=float(arrays["y_scale"]),
        n_epochs=np.asarray(arrays["n_epochs"]),
        best_epoch=np.asarray(arrays["best_epoch"]),
        val_loss=np.asarray(arrays["val_loss"], float),
    )
