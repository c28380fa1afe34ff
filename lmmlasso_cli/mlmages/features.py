"""ML-MAGES shrinkage features of each variant, computed within its LD block.

Effects are on the standardized scale (per sd of the genotype and per sd of the phenotype).
For variant j of a block with LD matrix R (signed r, R_jj = 1) and marginal effects β̂, se:

- the LD score ℓ_j = Σ_{i≠j} R_ij² over the block;
- the neighbours n_1(j), …, n_r(j): the r other variants of the block with the largest |R_ij|,
  in decreasing order (ML-MAGES ranks by signed r and so never picks strong negative LD); ties
  go to the lower position (stable sort);
- the feature vector (2r + 3 values, in the order of ML-MAGES's ``get_n_feature``):

      [β̂_j, se_j, ℓ_j, β̂_{n_1(j)}, …, β̂_{n_r(j)}, R_{j,n_1(j)}, …, R_{j,n_r(j)}].

Neighbours are indexed within the block and mapped to the block's own effects (ML-MAGES's
inference script reads the first block's effects for every block). A block with b ≤ r variants
pads the missing neighbours with effect 0 and r 0 (ML-MAGES crashes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURE_VERSION = 1  # bump when the definition above changes
DEFAULT_TOP_R = 15


def feature_names(top_r: int) -> list[str]:
    """Column names of the 2r + 3 features, in order."""
    return (
        ["beta", "se", "ld_score"]
        + [f"nbr_beta_{k + 1}" for k in range(top_r)]
        + [f"nbr_r_{k + 1}" for k in range(top_r)]
    )


@dataclass(frozen=True)
class BlockFeatures:
    """Features of the variants of one block (module docstring)."""

    matrix: np.ndarray  # (b, 2r + 3) float64
    neighbours: np.ndarray  # (b, r) int64 block-local positions, −1 for padding
    ld_score: np.ndarray  # (b,)


def top_neighbours(R: np.ndarray, top_r: int) -> np.ndarray:
    """(b, r) block-local indices of the r largest |R_ij|, i ≠ j, per row; −1 pads short rows."""
    b = R.shape[0]
    score = np.abs(R).astype(np.float64, copy=True)
    np.fill_diagonal(score, -np.inf)  # self is never a neighbour
    k = min(top_r, b - 1)
    out = np.full((b, top_r), -1, dtype=np.int64)
    if k > 0:
        order = np.argsort(-score, axis=1, kind="stable")[:, :k]
        out[:, :k] = order
    return out


def block_features(beta: np.ndarray, se: np.ndarray, R: np.ndarray, top_r: int) -> BlockFeatures:
    """Features of one block from its standardized ``beta``, ``se`` (b,) and LD ``R`` (b, b)."""
    beta = np.asarray(beta, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    b = len(beta)
    if R.shape != (b, b) or len(se) != b:
        raise ValueError(f"`beta`, `se` and `R` disagree: {b}, {len(se)}, {R.shape}")
    if top_r < 1:
        raise ValueError(f"`top_r` must be >= 1, got {top_r}")
    ld_score = (R * R).sum(axis=0) - np.diagonal(R) ** 2
    idx = top_neighbours(R, top_r)
    pad = idx < 0
    safe = np.where(pad, 0, idx)
    nbr_beta = np.where(pad, 0.0, beta[safe])
    nbr_r = np.where(pad, 0.0, np.take_along_axis(R, safe, axis=1))
    matrix = np.column_stack([beta, se, ld_score, nbr_beta, nbr_r])
    return BlockFeatures(matrix=matrix, neighbours=idx, ld_score=ld_score)
