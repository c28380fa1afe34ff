"""Training data for the shrinkage network, simulated from the user's own genotypes.

One replicate uses one LD block of b SNPs (standardized genotypes Z (n, b), LD R = ZᵀZ/n) and
one point (p, h2, s, w) of the ML-MAGES grid (``simulate_snp_only.py``):

1. k = max(2, round(p·b)) causal SNPs, drawn without replacement (`simulate.draw_causal`);
2. per-allele prior variance het_j^s · max(ℓ_j, `LD_SCORE_FLOOR`)^w, het_j = 2f_j(1 − f_j) with
   f_j the A1 frequency and ℓ_j the block LD score (the floor guards w < 0 against ℓ = 0,
   which ML-MAGES does not). On the standardized scale b_j ~ N(0, het_j^{s+1} · ℓ_j^w);
3. y = Zb + e by `lmmlasso_cli.simulate.simulate_phenotype` (h2_snps = h2, no background):
   b is rescaled so that var(Zb) = h2 exactly in the sample and y has mean 0, variance 1;
4. marginal effects exactly as ``lmmlasso gwas --lm`` computes them (`gwas.prepare_scan` with
   an intercept, `gwas.wald_fixed`): β̂_j, se_j per sd of SNP j and of y;
5. matching to the user's effects in the block (ML-MAGES maps β̂ onto a Laplace fitted to real
   effects, se by quantiles and β by the ratio of ranges, per 1000-SNP segment). Two rules,
   ``matching``:
   - ``snr`` (default): split the replicate's β̂ = m + ε into its signal m = R b and its noise
     ε, scale the noise by κ = rms(user se)/rms(se) and the signal by α with mean((α m)²) =
     S = max(mean(user β̂²) − mean(user se²), 0), the user's excess variance: β̂' = α m + κ ε,
     se' = κ se, target α b. The training then has the user's signal-to-noise ratio, and a
     block whose effects look like noise (S = 0) teaches the network to predict 0;
   - ``rms``: c = rms(user β̂)/rms(β̂ of the replicate) multiplies β̂, se and b alike, keeping
     the grid's signal-to-noise ratio (the first version; it shrinks too little on sparse
     traits, see bench/README.md);
6. features of `features.block_features` on (cβ̂, c·se, R), target cb, weight
   ``nonzero_weight`` where b_j ≠ 0 and 1 elsewhere.

Replicate r cycles through the grid (r mod n_points) and takes its block from a generator of
its own; its randomness comes from ``SeedSequence(seed).spawn`` so the result does not depend
on the order in which blocks are processed. BLAS runs single-threaded (`ld.single_threaded`)
so that the result does not depend on the thread count either; ``map_fn`` parallelises.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.gwas import prepare_scan, wald_fixed
from lmmlasso_cli.mlmages.features import block_features
from lmmlasso_cli.mlmages.ld import BlockPartition, ReadBlock, block_ld, single_threaded
from lmmlasso_cli.simulate import draw_causal, simulate_phenotype

LD_SCORE_FLOOR = 1.0  # ℓ below this is raised to it in ℓ^w (w < 0 would blow up at ℓ = 0)
MIN_TRAINING_BLOCK = 10  # blocks with fewer SNPs are not used for training
DEFAULT_NONZERO_WEIGHT = 2.0  # λ_nz of ML-MAGES's weighted MSE (its CLI default)


@dataclass(frozen=True)
class SimulationGrid:
    """The ML-MAGES simulation grid; every combination is used equally often."""

    causal_fractions: tuple[float, ...] = (0.01, 0.05)
    heritabilities: tuple[float, ...] = (0.3, 0.7)
    maf_exponents: tuple[float, ...] = (-0.25, 0.0)  # s, the heterozygosity exponent
    ld_exponents: tuple[float, ...] = (0.0,)  # w, the LD-score exponent

    def points(self) -> list[tuple[float, float, float, float]]:
        return list(
            itertools.product(
                self.causal_fractions, self.heritabilities, self.maf_exponents, self.ld_exponents
            )
        )


@dataclass(frozen=True)
class TrainingData:
    """Stacked replicates: one row per SNP of each replicate's block."""

    features: np.ndarray  # (n_rows, 2r + 3)
    target: np.ndarray  # (n_rows,) true standardized effect, spread-matched
    weight: np.ndarray  # (n_rows,) loss weight
    replicate: np.ndarray  # (n_rows,) replicate number (for validation splits by replicate)
    block: np.ndarray  # (n_replicates,) block used by each replicate
    grid_point: np.ndarray  # (n_replicates,) index into ``SimulationGrid.points()``
    n_causal: np.ndarray  # (n_replicates,)

    @property
    def n_rows(self) -> int:
        return len(self.target)


def _rms(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def simulate_replicate(
    Z: np.ndarray,
    R: np.ndarray,
    means: np.ndarray,
    user_beta: np.ndarray,
    point: tuple[float, float, float, float],
    top_r: int,
    rng: np.random.Generator,
    nonzero_weight: float = DEFAULT_NONZERO_WEIGHT,
    user_se: np.ndarray | None = None,
    matching: str = "snr",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps 1–6 of the module docstring for one block; returns (features, target, weight)."""
    n, b = Z.shape
    p_causal, h2, s, w = point
    ld_score = (R * R).sum(axis=0) - 1.0
    k = min(max(2, int(round(p_causal * b))), b)
    causal = draw_causal(b, k, rng)
    f = np.clip(np.asarray(means, dtype=np.float64) / 2.0, 0.0, 1.0)
    het = 2.0 * f * (1.0 - f) + 1e-8
    prior = het ** (s + 1.0) * np.maximum(ld_score, LD_SCORE_FLOOR) ** w
    scale = np.sqrt(prior[causal])
    sim = simulate_phenotype(Z[:, causal] * scale, None, h2, 0.0, rng)
    effects = np.zeros(b)
    effects[causal] = sim.beta_std * scale
    tests = wald_fixed(prepare_scan(sim.values, np.ones((n, 1))), Z)
    beta_hat, se = np.nan_to_num(tests.beta), np.nan_to_num(tests.se)
    user_beta = np.asarray(user_beta, dtype=np.float64)
    weight = np.where(effects != 0, nonzero_weight, 1.0)
    if matching == "snr":
        if user_se is None:
            raise ValueError("`matching` 'snr' needs the user's standard errors `user_se`")
        signal = R @ effects  # β̂ = z_jᵀ y / n with y = Z b + e standardized: m = R b
        noise = beta_hat - signal
        excess = max(float(np.mean(user_beta**2) - np.mean(np.asarray(user_se) ** 2)), 0.0)
        sim_signal, sim_se, u_se = _rms(signal), _rms(se), _rms(np.asarray(user_se, float))
        alpha = np.sqrt(excess) / sim_signal if sim_signal > 0 else 0.0
        kappa = u_se / sim_se if sim_se > 0 and u_se > 0 else 1.0
        feats = block_features(alpha * signal + kappa * noise, kappa * se, R, top_r).matrix
        return feats, alpha * effects, weight
    if matching != "rms":
        raise ValueError(f"`matching` must be 'snr' or 'rms', got {matching!r}")
    sim_rms, user_rms = _rms(beta_hat), _rms(user_beta)
    c = user_rms / sim_rms if sim_rms > 0 and user_rms > 0 else 1.0
    feats = block_features(c * beta_hat, c * se, R, top_r).matrix
    return feats, c * effects, weight


@dataclass(frozen=True)
class BlockSimulations:
    """The replicates simulated on one block: a work unit of `simulate_training_data`, small to
    send (the block's SNP range, its slices of the SNP arrays, the replicates' seeds)."""

    start: int
    stop: int
    means: np.ndarray  # (b,) mean A1 counts of the block's SNPs
    beta_std: np.ndarray  # (b,) the user's standardized marginal effects there
    se_std: np.ndarray | None  # (b,) their standard errors (for ``matching`` "snr")
    replicates: tuple[int, ...]  # replicate numbers, in increasing order
    seeds: tuple  # one SeedSequence per replicate
    points: tuple  # one grid point (p, h2, s, w) per replicate
    top_r: int
    nonzero_weight: float
    matching: str


def simulate_block(read_block: ReadBlock, unit: BlockSimulations) -> list[tuple[int, tuple]]:
    """(replicate, (features, target, weight)) for the replicates of ``unit``; reads the block
    once with ``read_block`` (picklable when ``map_fn`` runs elsewhere)."""
    Z = np.asarray(read_block(unit.start, unit.stop), dtype=np.float64)
    out = []
    with single_threaded():
        R = block_ld(Z)
        for r, seed, point in zip(unit.replicates, unit.seeds, unit.points, strict=True):
            part = simulate_replicate(
                Z, R, unit.means, unit.beta_std, point, unit.top_r, np.random.default_rng(seed),
                unit.nonzero_weight, unit.se_std, unit.matching,
            )  # fmt: skip
            out.append((r, part))
    return out


def simulate_training_data(
    read_block: ReadBlock,
    blocks: BlockPartition,
    means: np.ndarray,
    beta_std: np.ndarray,
    top_r: int,
    n_replicates: int,
    seed: int,
    grid: SimulationGrid = SimulationGrid(),
    nonzero_weight: float = DEFAULT_NONZERO_WEIGHT,
    map_fn: Callable = map,
    se_std: np.ndarray | None = None,
    matching: str = "snr",
    progress: Callable[[int], None] | None = None,
) -> TrainingData:
    """Simulate ``n_replicates`` replicates (module docstring) over the blocks of ``blocks``
    with at least `MIN_TRAINING_BLOCK` SNPs. ``means`` (n_snps,) are the mean A1 counts and
    ``beta_std`` (n_snps,) the user's standardized marginal effects, both per analysed SNP.
    Each block used is one `BlockSimulations` unit, read once; ``map_fn`` maps
    `simulate_block` over them (``read_block`` must then pickle); ``progress`` receives the
    number of replicates of each finished unit."""
    import functools

    if n_replicates < 1:
        raise ValueError(f"`n_replicates` must be >= 1, got {n_replicates}")
    eligible = np.flatnonzero(blocks.sizes >= MIN_TRAINING_BLOCK)
    if len(eligible) == 0:
        raise ValueError(
            f"no LD block has >= {MIN_TRAINING_BLOCK} SNPs to simulate training data from; "
            "use larger blocks"
        )
    points = grid.points()
    choice_seq, rep_seq = np.random.SeedSequence(seed).spawn(2)
    chosen = np.random.default_rng(choice_seq).choice(eligible, size=n_replicates)
    rep_seeds = rep_seq.spawn(n_replicates)
    grid_point = np.arange(n_replicates) % len(points)
    units = []
    for t in np.unique(chosen):
        a, b = int(blocks.starts[t]), int(blocks.stops[t])
        reps = np.flatnonzero(chosen == t)
        units.append(
            BlockSimulations(
                a,
                b,
                means[a:b],
                beta_std[a:b],
                None if se_std is None else se_std[a:b],
                tuple(int(r) for r in reps),
                tuple(rep_seeds[r] for r in reps),
                tuple(points[grid_point[r]] for r in reps),
                top_r,
                nonzero_weight,
                matching,
            )  # fmt: skip
        )
    results = {}
    for part in map_fn(functools.partial(simulate_block, read_block), units):
        results.update(part)
        if progress is not None:
            progress(len(part))
    parts = [results[r] for r in range(n_replicates)]
    return TrainingData(
        features=np.concatenate([p[0] for p in parts]),
        target=np.concatenate([p[1] for p in parts]),
        weight=np.concatenate([p[2] for p in parts]),
        replicate=np.concatenate([np.full(len(p[1]), r) for r, p in enumerate(parts)]),
        block=chosen,
        grid_point=grid_point,
        n_causal=np.array([int((p[1] != 0).sum()) for p in parts]),
    )
