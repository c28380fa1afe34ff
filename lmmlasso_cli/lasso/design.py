"""Design matrices for the Lasso solver: only column blocks and full correlations are needed.

The working-set solver in :mod:`lmmlasso_cli.lasso.path` touches a design X̃ (n × p) in two ways:

* ``columns(idx)``: the columns idx of X̃, dense, float64, Fortran order (n × len(idx));
* ``correlations(v)``: X̃ᵀv for all p features.

:class:`DenseDesign` wraps a plain matrix. :class:`RotatedDesign` is the LMM design. With the
kinship K = U diag(S) Uᵀ (eigvecs U (n × n) orthogonal, eigvals S (n,)), δ = σe²/σg², and
D = diag((S + δ)^−½), the whitening D Uᵀ satisfies (D Uᵀ)ᵀ(D Uᵀ) = (K + δI)⁻¹. Unpenalized
covariates C (n × c, possibly c = 0; the intercept is one of them) are projected out after
whitening (Frisch–Waugh–Lovell): with C̃ = D Uᵀ C, Q an orthonormal basis of range(C̃)
(numerically null directions dropped) and P = I − QQᵀ,

    X̃ = P D Uᵀ X,   ỹ = P D Uᵀ y.

Minimizing ½‖ỹ − X̃w‖² + penalty(w) is the same as minimizing
½‖D Uᵀ(y − Cα − Xw)‖² + penalty(w) over (α, w); α is recovered afterwards by least squares
(:meth:`RotatedDesign.covariate_coefs`). Rotating one SNP costs O(n²), so columns are rotated
only when the solver asks for them and are kept in a bounded LRU cache; correlations are
computed without rotating X: X̃ᵀv = Xᵀ(U(D(Pv))), O(n² + np).

A low-rank kinship (U (n × r), r < n, K's other eigenvalues 0; ``kinship --rank``) has no n × n
rotation. Its whitening is the symmetric W = (K + δI)^−½ = δ^−½ (I − UUᵀ) + U D_r Uᵀ, with
WᵀW = (K + δI)⁻¹ as well, so X̃ = P W X and ỹ = P W y pose the same Lasso problem; W costs
O(n r) per vector (FaST-LMM's low-rank path), and X̃ᵀv = Xᵀ(W(Pv)).
"""

from typing import Protocol, runtime_checkable

import numpy as np

from lmmlasso_cli.compact import DenseGenotypes

# Numerical rank cut-off for the whitened covariates: singular values below
# RANK_RTOL * max(n, c) * eps * s_max are treated as null directions.
RANK_RTOL = 1.0
# Default memory budget of the rotated-column cache (bytes).
DEFAULT_CACHE_BYTES = 1 << 30


@runtime_checkable
class Design(Protocol):
    """What the Lasso solver needs from a design matrix X̃ (n_samples × n_features)."""

    n_samples: int
    n_features: int

    def columns(self, idx: np.ndarray) -> np.ndarray:
        """Columns idx of X̃: (n_samples, len(idx)) float64, Fortran order."""
        ...

    def correlations(self, v: np.ndarray) -> np.ndarray:
        """X̃ᵀv for all features: (n_features,) float64."""
        ...


def _check_matrix(X: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D numpy array, got {type(X).__name__} "
            f"with shape {getattr(X, 'shape', None)}"
        )
    if X.dtype != np.float64:
        raise ValueError(
            f"{name} must be float64 (got {X.dtype}); convert it once with "
            f"X.astype(np.float64) before building the design"
        )
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        raise ValueError(
            f"{name} must be C- or Fortran-contiguous; pass np.ascontiguousarray({name})"
        )
    return X


def _check_index(idx: np.ndarray, n_features: int) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(
            f"column indices must be a 1-D integer array, got dtype {idx.dtype} "
            f"and shape {idx.shape}"
        )
    idx = idx.astype(np.intp, copy=False)
    if idx.size and (idx.min() < 0 or idx.max() >= n_features):
        raise ValueError(
            f"column indices must lie in [0, {n_features}), got range [{idx.min()}, {idx.max()}]"
        )
    return idx


def _check_vector(v: np.ndarray, n_samples: int, name: str = "v") -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), got {v.shape}")
    return v


class DenseDesign:
    """A plain dense design X (n_samples × n_features, float64), held without copying."""

    def __init__(self, X: np.ndarray):
        self.X = _check_matrix(X, "X")
        self.n_samples, self.n_features = X.shape

    def columns(self, idx: np.ndarray) -> np.ndarray:
        """Columns idx of X: (n_samples, len(idx)) float64, Fortran order (a copy)."""
        idx = _check_index(idx, self.n_features)
        return _gather_columns(self.X, idx)

    def correlations(self, v: np.ndarray) -> np.ndarray:
        """Xᵀv: (n_features,) float64."""
        v = _check_vector(v, self.n_samples)
        return self.X.T @ v


class RotatedDesign:
    """LMM design X̃ = P D Uᵀ X with covariates projected out (see the module docstring).

    Parameters
    ----------
    X : standardized genotypes (n_samples × n_snps): a `compact.CompactGenotypes` (one byte per
        call; what the commands pass) or a float64 matrix, never copied.
    eigvecs : (n_samples, r) U of K = U diag(S) Uᵀ: r = n_samples, or r < n_samples for a
        low-rank K (its other eigenvalues 0; module docstring).
    eigvals : (r,) S.
    delta : δ = σe²/σg² > 0 (S + δ must be positive).
    covariates : (n_samples, n_covariates) C, possibly with 0 columns, or None.
    max_cache_bytes : memory budget of the rotated-column cache (LRU eviction).
    """

    def __init__(
        self,
        X: np.ndarray,
        eigvecs: np.ndarray,
        eigvals: np.ndarray,
        delta: float,
        covariates: np.ndarray | None = None,
        max_cache_bytes: int = DEFAULT_CACHE_BYTES,
    ):
        self.X = X if hasattr(X, "tdot") else DenseGenotypes(_check_matrix(X, "X"))
        n, p = self.X.shape
        self.n_samples, self.n_features = n, p
        eigvecs = np.asarray(eigvecs, dtype=np.float64)
        eigvals = np.asarray(eigvals, dtype=np.float64)
        if eigvecs.ndim != 2 or eigvecs.shape[0] != n or eigvecs.shape[1] > n:
            raise ValueError(
                f"eigvecs must have shape ({n}, r), r <= {n}, to match X with {n} samples, "
                f"got {eigvecs.shape}"
            )
        r = eigvecs.shape[1]
        if eigvals.shape != (r,):
            raise ValueError(f"eigvals must have shape ({r},), got {eigvals.shape}")
        self.low_rank = r < n
        delta = float(delta)
        if not np.isfinite(delta) or delta <= 0:
            raise ValueError(f"delta must be a positive finite number, got {delta}")
        shifted = eigvals + delta
        if not np.all(shifted > 0):
            raise ValueError(
                f"eigvals + delta must be positive; min(eigvals) = {eigvals.min():.3g} "
                f"with delta = {delta:.3g}"
            )
        self.eigvecs = eigvecs
        self.eigvals = eigvals
        self.delta = delta
        self._scale = 1.0 / np.sqrt(shifted)  # diagonal of D
        self._scale_null = 1.0 / np.sqrt(delta)  # W's value on the complement (low rank)
        if covariates is None:
            covariates = np.empty((n, 0))
        covariates = np.asarray(covariates, dtype=np.float64)
        if covariates.ndim != 2 or covariates.shape[0] != n:
            raise ValueError(
                f"covariates must have shape ({n}, n_covariates), got {covariates.shape}"
            )
        self.n_covariates = covariates.shape[1]
        self._cov_white = self._whiten(covariates)  # C̃ = D Uᵀ C
        self._basis = _orthonormal_basis(self._cov_white)  # Q
        self.covariate_rank = self._basis.shape[1]
        # Rotated-column cache: a growable Fortran buffer of slots with LRU stamps.
        self._max_slots = max(1, int(max_cache_bytes // (8 * max(n, 1))))
        self._buffer = np.empty((n, 0), dtype=np.float64, order="F")
        self._slot_of = np.full(p, -1, dtype=np.intp)  # feature -> slot
        self._owner = np.empty(0, dtype=np.intp)  # slot -> feature (-1 free)
        self._stamp = np.empty(0, dtype=np.int64)  # slot -> last use
        self._clock = 0
        self.n_rotated = 0  # columns rotated so far

    # -- linear maps -------------------------------------------------------------------
    def _whiten(self, M: np.ndarray) -> np.ndarray:
        """D Uᵀ M (full rank) or W M (low rank) for M (n, k) or (n,)."""
        scale = self._scale if M.ndim == 1 else self._scale[:, None]
        if not self.low_rank:
            return scale * (self.eigvecs.T @ M)
        null = self._scale_null
        return null * M + self.eigvecs @ ((scale - null) * (self.eigvecs.T @ M))

    def _whiten_adjoint(self, u: np.ndarray) -> np.ndarray:
        """(D Uᵀ)ᵀ u = U D u (full rank) or W u (low rank, W symmetric) for u (n,)."""
        if not self.low_rank:
            return self.eigvecs @ (self._scale * u)
        return self._whiten(u)

    def _project(self, M: np.ndarray) -> np.ndarray:
        """P M = M − Q QᵀM, in place on M (n,) or (n, k)."""
        if self.covariate_rank:
            Q = self._basis
            M -= Q @ (Q.T @ M)
        return M

    def rotate(self, M: np.ndarray) -> np.ndarray:
        """P D Uᵀ M for any (n_samples, k) or (n_samples,) array."""
        M = np.asarray(M, dtype=np.float64)
        if M.shape[0] != self.n_samples or M.ndim not in (1, 2):
            raise ValueError(
                f"can only rotate arrays with {self.n_samples} rows, got shape {M.shape}"
            )
        return self._project(self._whiten(M))

    def rotate_target(self, y: np.ndarray) -> np.ndarray:
        """ỹ = P D Uᵀ y: the target to fit against X̃, (n_samples,)."""
        y = _check_vector(y, self.n_samples, "y")
        return self.rotate(y)

    # -- Design protocol -----------------------------------------------------------------
    def correlations(self, v: np.ndarray) -> np.ndarray:
        """X̃ᵀv = Xᵀ U D P v for all SNPs, without rotating X: (n_features,)."""
        v = _check_vector(v, self.n_samples)
        u = self._whiten_adjoint(self._project(v.copy()))
        return self.X.tdot(u)

    def columns(self, idx: np.ndarray) -> np.ndarray:
        """Columns idx of X̃ = P D Uᵀ X: (n_samples, len(idx)) float64, Fortran order.

        Columns not in the cache are rotated (O(n²) each) and cached; the least recently used
        columns are evicted once the memory budget is full.
        """
        idx = _check_index(idx, self.n_features)
        uniq = np.unique(idx)
        if uniq.size > self._max_slots:  # cannot cache them all: rotate without caching
            cols = np.asfortranarray(self._rotate_snps(uniq))
            return _gather_columns(cols, np.searchsorted(uniq, idx))
        self._clock += 1
        missing = uniq[self._slot_of[uniq] < 0]
        if missing.size:
            slots = self._free_slots(missing.size, keep=uniq)
            self._buffer[:, slots] = self._rotate_snps(missing)
            self._slot_of[missing] = slots
            self._owner[slots] = missing
        slots = self._slot_of[idx]
        self._stamp[slots] = self._clock
        return _gather_columns(self._buffer, slots)

    def _rotate_snps(self, snps: np.ndarray) -> np.ndarray:
        self.n_rotated += snps.size
        return self._project(self._whiten(self.X.columns(snps)))

    def _free_slots(self, k: int, keep: np.ndarray) -> np.ndarray:
        """k free slots, growing the buffer (doubling) or evicting least recently used columns
        that are not in `keep`."""
        n_slots = self._owner.size
        free = np.flatnonzero(self._owner < 0)
        if free.size < k and n_slots < self._max_slots:
            new_size = min(self._max_slots, max(2 * n_slots, n_slots + k - free.size, 64))
            buffer = np.empty((self.n_samples, new_size), dtype=np.float64, order="F")
            buffer[:, :n_slots] = self._buffer
            self._buffer = buffer
            self._owner = np.concatenate([self._owner, np.full(new_size - n_slots, -1, np.intp)])
            self._stamp = np.concatenate([self._stamp, np.zeros(new_size - n_slots, np.int64)])
            free = np.flatnonzero(self._owner < 0)
        if free.size < k:
            used = np.flatnonzero(self._owner >= 0)
            used = used[~np.isin(self._owner[used], keep)]
            order = np.argsort(self._stamp[used], kind="stable")
            evict = used[order[: k - free.size]]
            self._slot_of[self._owner[evict]] = -1
            self._owner[evict] = -1
            free = np.sort(np.concatenate([free, evict]))
        return free[:k]

    # -- covariates ----------------------------------------------------------------------
    def covariate_coefs(self, y: np.ndarray, coefs: np.ndarray) -> np.ndarray:
        """Unpenalized covariate effects given fitted SNP effects w (Frisch–Waugh–Lovell):

            α̂ = argmin_α ‖D Uᵀ(y − Xw) − C̃α‖²,  C̃ = D Uᵀ C,

        the minimum-norm least-squares solution if C̃ is rank deficient. y is the original
        (unrotated) phenotype (n_samples,), coefs the (n_features,) w. Returns (n_covariates,).
        """
        y = _check_vector(y, self.n_samples, "y")
        coefs = np.asarray(coefs, dtype=np.float64)
        if coefs.shape != (self.n_features,):
            raise ValueError(f"coefs must have shape ({self.n_features},), got {coefs.shape}")
        if self.n_covariates == 0:
            return np.empty(0)
        support = np.flatnonzero(coefs)
        resid = y - self.X.columns(support) @ coefs[support]
        target = self._whiten(resid)
        alpha, *_ = np.linalg.lstsq(self._cov_white, target, rcond=None)
        return alpha


def _gather_columns(M: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """M[:, idx] as a new Fortran-ordered array (row gather on the transpose: fast for
    Fortran-ordered M, strided but copy-once for C-ordered M)."""
    return np.asfortranarray(M.T[idx].T)


def _orthonormal_basis(M: np.ndarray) -> np.ndarray:
    """Orthonormal basis (n, rank) of range(M) by thin SVD, dropping numerically null directions."""
    n, k = M.shape
    if k == 0:
        return np.empty((n, 0))
    left, sing, _ = np.linalg.svd(M, full_matrices=False)
    if sing.size == 0 or sing[0] == 0:
        return np.empty((n, 0))
    cutoff = RANK_RTOL * max(n, k) * np.finfo(np.float64).eps * sing[0]
    return np.ascontiguousarray(left[:, sing > cutoff])
