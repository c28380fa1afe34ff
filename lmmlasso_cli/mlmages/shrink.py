"""Shrink marginal effects block by block: the ML-MAGES network or its elastic-net baseline.

Scales. The core works on the standardized scale: β per sd of the genotype and per sd of the
phenotype. From per-allele summary statistics (β_a, se_a) and the SNP's sd s_j in the LD
reference, β_j = β_a s_j / σ_y and se_j = se_a s_j / σ_y, where σ_y is estimated by
`phenotype_sd` (exact for an OLS scan with an intercept). Shrunk effects go back per allele as
β̃_a = β̃ σ_y / s_j.

``method='mlp'``: an `mlp.MlpEnsemble` trained on phenotypes simulated from the same genotypes
(`training`) unless a `ShrinkModel` is given, applied to the `features` of each block.
``method='enet'``: `enet.enet_block` on each block. Genotypes arrive through
``read_block(start, stop)``, one block at a time (LD is b × b within a block).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.mlmages.enet import EnetSettings, enet_block
from lmmlasso_cli.mlmages.features import DEFAULT_TOP_R, FEATURE_VERSION, block_features
from lmmlasso_cli.mlmages.ld import BlockPartition, ReadBlock, block_ld, single_threaded
from lmmlasso_cli.mlmages.mlp import MlpEnsemble, MlpSettings, predict, train_ensemble
from lmmlasso_cli.mlmages.training import SimulationGrid, simulate_training_data

METHODS = ("mlp", "enet")
DEFAULT_N_REPLICATES = 200
DEFAULT_GRID = SimulationGrid()
DEFAULT_MLP = MlpSettings()
DEFAULT_ENET = EnetSettings()


@dataclass(frozen=True)
class ShrinkModel:
    """A trained ensemble with what it needs to be reused: its features and its genotypes."""

    ensemble: MlpEnsemble
    top_r: int
    fingerprint: str  # `genotype_fingerprint` of the genotypes it was trained on
    feature_version: int = FEATURE_VERSION
    n_replicates: int = 0
    n_training_rows: int = 0
    seed: int = 0
    grid: SimulationGrid = SimulationGrid()
    settings: MlpSettings = MlpSettings()
    matching: str = "snr"  # how training simulations were matched to the user's effects


@dataclass(frozen=True)
class ShrinkResult:
    """Shrunk effects of the analysed SNPs (arrays (n_snps,), standardized scale)."""

    method: str
    beta_std: np.ndarray  # marginal β̂ per sd of SNP and phenotype
    se_std: np.ndarray
    beta_shrunk_std: np.ndarray
    block: np.ndarray  # block number of each SNP
    ld_score: np.ndarray  # within-block LD score Σ_{i≠j} r²
    model: ShrinkModel | None  # the ensemble used (trained here or given); None for enet
    trained: bool  # True when the ensemble was trained by this call
    enet_alpha: np.ndarray | None  # (n_blocks,) chosen α per block for enet

    @property
    def n_snps(self) -> int:
        return len(self.beta_std)


def genotype_fingerprint(snp_ids, a1, a2, fid, iid, means) -> str:
    """sha256 of the SNP IDs and alleles, the sample IDs and the per-SNP mean A1 counts (to 6
    decimals), in order: equal fingerprints mean the same analysed genotypes."""
    h = hashlib.sha256()
    for values in (snp_ids, a1, a2, fid, iid):
        h.update("\t".join(map(str, values)).encode())
        h.update(b"\n")
    h.update("\t".join(f"{m:.6f}" for m in np.asarray(means, dtype=np.float64)).encode())
    return h.hexdigest()


def phenotype_sd(beta_snp_std: np.ndarray, se_snp_std: np.ndarray, n_samples) -> float:
    """σ_y = median_j se_j √(t_j² + n_j − 2), t_j = β_j / se_j, from effects per sd of the SNP in
    phenotype units. For OLS with an intercept se_j² = σ_y²(1 − r_j²)/(n − 2) and
    r_j² = t_j²/(t_j² + n − 2), so every SNP gives σ_y exactly; with covariates or an LMM it is
    the sd after them, approximately."""
    b = np.asarray(beta_snp_std, dtype=np.float64)
    se = np.asarray(se_snp_std, dtype=np.float64)
    n = np.broadcast_to(np.asarray(n_samples, dtype=np.float64), b.shape)
    ok = np.isfinite(b) & np.isfinite(se) & (se > 0) & (n > 2)
    if not ok.any():
        raise ValueError("no SNP has a finite effect, a positive SE and n > 2")
    t = b[ok] / se[ok]
    return float(np.median(se[ok] * np.sqrt(t * t + n[ok] - 2.0)))


def to_standardized(beta, se, snp_sd, pheno_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-allele (β_a, se_a) -> per sd of SNP and phenotype: β_a s_j / σ_y, se_a s_j / σ_y."""
    f = np.asarray(snp_sd, dtype=np.float64) / pheno_sd
    return np.asarray(beta, dtype=np.float64) * f, np.asarray(se, dtype=np.float64) * f


def to_per_allele(beta_std, snp_sd, pheno_sd: float) -> np.ndarray:
    """Standardized effects back per copy of A1 in phenotype units: β σ_y / s_j."""
    return np.asarray(beta_std, dtype=np.float64) * pheno_sd / np.asarray(snp_sd, np.float64)


def _check(beta_std, se_std, blocks):
    beta_std = np.asarray(beta_std, dtype=np.float64)
    se_std = np.asarray(se_std, dtype=np.float64)
    if beta_std.shape != se_std.shape or len(beta_std) != blocks.n_snps:
        raise ValueError(
            f"`beta_std` ({len(beta_std)}), `se_std` ({len(se_std)}) and the blocks "
            f"({blocks.n_snps} SNPs) must describe the same SNPs"
        )
    if not (np.isfinite(beta_std).all() and np.isfinite(se_std).all()):
        raise ValueError("`beta_std` and `se_std` must be finite (drop SNPs without a test)")
    return beta_std, se_std


def train_shrink_model(
    beta_std: np.ndarray,
    blocks: BlockPartition,
    read_block: ReadBlock,
    means: np.ndarray,
    fingerprint: str,
    top_r: int = DEFAULT_TOP_R,
    n_replicates: int = DEFAULT_N_REPLICATES,
    seed: int = 0,
    grid: SimulationGrid = DEFAULT_GRID,
    settings: MlpSettings = DEFAULT_MLP,
    map_fn: Callable = map,
    se_std: np.ndarray | None = None,
    matching: str = "snr",
    simulate_map_fn: Callable = map,
    simulate_progress: Callable[[int], None] | None = None,
) -> ShrinkModel:
    """Simulate training data from the genotypes (`training`: ``simulate_map_fn`` maps over
    the blocks used, so ``read_block`` must pickle unless it is the builtin map) and train the
    ensemble (`mlp`): ``map_fn`` maps over its members, whose tasks are picklable.
    ``simulate_progress`` receives the number of replicates of each simulated block."""
    data = simulate_training_data(
        read_block,
        blocks,
        means,
        np.asarray(beta_std, float),
        top_r,
        n_replicates,
        seed,
        grid,
        settings.nonzero_weight,
        map_fn=simulate_map_fn,
        se_std=None if se_std is None else np.asarray(se_std, float),
        matching=matching,
        progress=simulate_progress,
    )
    ensemble = train_ensemble(
        data.features,
        data.target,
        data.weight,
        data.replicate,
        top_r,
        settings,
        seed=int(np.random.SeedSequence(seed).generate_state(1)[0]),
        map_fn=map_fn,
    )
    return ShrinkModel(
        ensemble=ensemble,
        top_r=top_r,
        fingerprint=fingerprint,
        n_replicates=n_replicates,
        n_training_rows=data.n_rows,
        seed=seed,
        grid=grid,
        settings=settings,
        matching=matching,
    )


def shrink_effects(
    beta_std: np.ndarray,
    se_std: np.ndarray,
    blocks: BlockPartition,
    read_block: ReadBlock,
    method: str = "mlp",
    model: ShrinkModel | None = None,
    means: np.ndarray | None = None,
    fingerprint: str = "",
    top_r: int = DEFAULT_TOP_R,
    n_replicates: int = DEFAULT_N_REPLICATES,
    seed: int = 0,
    grid: SimulationGrid = DEFAULT_GRID,
    mlp_settings: MlpSettings = DEFAULT_MLP,
    enet_settings: EnetSettings = DEFAULT_ENET,
    map_fn: Callable = map,
    progress: Callable[[int], None] | None = None,
    matching: str = "snr",
    simulate_map_fn: Callable = map,
    simulate_progress: Callable[[int], None] | None = None,
) -> ShrinkResult:
    """Shrink standardized marginal effects ``beta_std``, ``se_std`` (n_snps,) of the analysed
    SNPs, blocked by ``blocks`` (module docstring).

    For ``method='mlp'`` without ``model``, the ensemble is trained first, which needs ``means``
    (mean A1 counts, for the MAF weighting) and records ``fingerprint``; a given ``model``
    fixes ``top_r``. ``progress`` receives the number of SNPs of each finished block;
    ``simulate_map_fn`` and ``simulate_progress`` are `train_shrink_model`'s."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")
    beta_std, se_std = _check(beta_std, se_std, blocks)
    trained = False
    if method == "mlp" and model is None:
        if means is None:
            raise ValueError("training the network needs `means`, the mean A1 count per SNP")
        model = train_shrink_model(
            beta_std,
            blocks,
            read_block,
            means,
            fingerprint,
            top_r,
            n_replicates,
            seed,
            grid,
            mlp_settings,
            map_fn,
            se_std=se_std,
            matching=matching,
            simulate_map_fn=simulate_map_fn,
            simulate_progress=simulate_progress,
        )
        trained = True
    if model is not None and model.feature_version != FEATURE_VERSION:
        raise ValueError(
            f"the model uses feature version {model.feature_version}, this code "
            f"{FEATURE_VERSION}; retrain it"
        )
    shrunk = np.empty_like(beta_std)
    ld_score = np.empty_like(beta_std)
    alphas = np.full(blocks.n_blocks, np.nan) if method == "enet" else None
    for t in range(blocks.n_blocks):
        a, b = int(blocks.starts[t]), int(blocks.stops[t])
        Z = read_block(a, b)
        with single_threaded():  # bit-identical LD, hence neighbours, for any thread count
            R = block_ld(Z)
            ld_score[a:b] = (R * R).sum(axis=0) - 1.0
            if method == "mlp":
                feats = block_features(beta_std[a:b], se_std[a:b], R, model.top_r)
                shrunk[a:b] = predict(model.ensemble, feats.matrix)
            else:
                shrunk[a:b], alphas[t] = enet_block(beta_std[a:b], R, enet_settings)
        if progress is not None:
            progress(b - a)
    return ShrinkResult(
        method=method,
        beta_std=beta_std,
        se_std=se_std,
        beta_shrunk_std=shrunk,
        block=blocks.block_of_snp(),
        ld_score=ld_score,
        model=model if method == "mlp" else None,
        trained=trained,
        enet_alpha=alphas,
    )
