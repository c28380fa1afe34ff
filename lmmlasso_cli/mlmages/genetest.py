"""Gene-level tests of shrunk effects (the ML-MAGES gene step), and multi-trait summaries.

For gene g with variant set S_g (the variants on its chromosome with START − w ≤ POS ≤ END + w,
w = `window_bp`, kept when |S_g| ≥ `min_snps`), trait t and shrunk effects β̃:

    Q_gt = Σ_{j∈S_g} β̃_jt²
    under H₀: β̃_{S_g,t} ~ N(0, ε_t R_g), so  Q_gt ~ Σ_k λ_k χ²₁,  λ = eigenvalues of ε_t R_g

with R_g the in-sample LD correlation of S_g (eigenvalues clipped at 0, relative tolerance
`EIG_RTOL`) and ε_t the variance of the mixture's null-like component (`mixture_epsilon`) or a
value given by the user. P-values come from `quadform.quadform_sf` (Liu by default); q-values
are Benjamini–Hochberg over the genes tested, per trait.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.mlmages.quadform import METHODS, quadform_sf

EIG_RTOL = 1e-10  # eigenvalues of R_g below EIG_RTOL·max are numerical zeros
WEIGHT_FLOOR = 0.01  # the original: skip the widest component for ε unless it holds > 1%


# ------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class GeneWindows:
    """Genes with at least ``min_snps`` variants in their window, in input order.

    The variants of gene g are ``indices[indptr[g]:indptr[g + 1]]`` (into the variant arrays
    given to `gene_windows`), ordered by position.
    """

    gene: np.ndarray  # (n_genes,) str
    chrom: np.ndarray  # (n_genes,) str
    start: np.ndarray  # (n_genes,) int, 1-based inclusive (as given, without the window)
    end: np.ndarray  # (n_genes,) int, inclusive
    indptr: np.ndarray  # (n_genes + 1,)
    indices: np.ndarray  # (indptr[-1],)
    window_bp: int
    min_snps: int
    n_too_few: int  # genes dropped for fewer than min_snps variants

    @property
    def n_genes(self) -> int:
        return len(self.gene)

    @property
    def n_snps(self) -> np.ndarray:
        return np.diff(self.indptr)

    def variants(self, g: int) -> np.ndarray:
        return self.indices[self.indptr[g] : self.indptr[g + 1]]


def gene_windows(
    gene: np.ndarray,
    chrom: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    variant_chrom: np.ndarray,
    variant_pos: np.ndarray,
    window_bp: int = 0,
    min_snps: int = 2,
) -> GeneWindows:
    """Assign variants to genes: same chromosome (compared as strings) and
    start − window_bp ≤ pos ≤ end + window_bp. Overlapping genes share variants; windows are
    cut by nothing but the data, so a window past a chromosome end simply holds fewer
    variants."""
    gene, chrom = np.asarray(gene, dtype=str), np.asarray(chrom, dtype=str)
    start, end = np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)
    v_chrom = np.asarray(variant_chrom, dtype=str)
    v_pos = np.asarray(variant_pos, dtype=np.int64)
    if window_bp < 0:
        raise ValueError(f"`window_bp` must be ≥ 0, got {window_bp}")
    if min_snps < 1:
        raise ValueError(f"`min_snps` must be ≥ 1, got {min_snps}")
    if np.any(start > end):
        raise ValueError("every gene needs start ≤ end")
    by_chrom = {}
    for c in np.unique(v_chrom):
        idx = np.flatnonzero(v_chrom == c)
        order = np.argsort(v_pos[idx], kind="stable")
        by_chrom[c] = (idx[order], v_pos[idx][order])
    keep, pieces = [], []
    for g in range(len(gene)):
        if chrom[g] not in by_chrom:
            continue
        idx, pos = by_chrom[chrom[g]]
        lo = np.searchsorted(pos, start[g] - window_bp, side="left")
        hi = np.searchsorted(pos, end[g] + window_bp, side="right")
        if hi - lo >= min_snps:
            keep.append(g)
            pieces.append(idx[lo:hi])
    keep = np.array(keep, dtype=np.int64)
    indptr = np.r_[0, np.cumsum([len(p) for p in pieces])].astype(np.int64)
    indices = np.concatenate(pieces).astype(np.int64) if pieces else np.zeros(0, np.int64)
    on_data = np.isin(chrom, list(by_chrom))
    return GeneWindows(
        gene=gene[keep],
        chrom=chrom[keep],
        start=start[keep],
        end=end[keep],
        indptr=indptr,
        indices=indices,
        window_bp=int(window_bp),
        min_snps=int(min_snps),
        n_too_few=int(on_data.sum() - len(keep)),
    )


# ------------------------------------------------------------------------- ε and BH


def mixture_epsilon(
    covariances: np.ndarray,
    weights: np.ndarray,
    trait: int = 0,
    rule: str = "original",
    null_mask: np.ndarray | None = None,
) -> float:
    """ε for trait ``trait`` from a fitted mixture: the components' marginal variances
    Σ_k[t, t], ordered largest first.

    - ``original``: the second largest, or the third when the widest component's weight is
      ≤ 1% (ML-MAGES' univar_enrich; there the single-trait fit is already in this order).
      With too few components, the smallest variance available.
    - ``smallest-nonnull``: the smallest variance among components not flagged in
      ``null_mask`` (all components when none is flagged).
    """
    cov = np.asarray(covariances, dtype=np.float64)
    var = cov[:, trait, trait]
    weights = np.asarray(weights, dtype=np.float64)
    if rule == "original":
        order = np.argsort(-var, kind="stable")
        pick = 1 if weights[order[0]] > WEIGHT_FLOOR else 2
        return float(var[order[min(pick, len(order) - 1)]])
    if rule == "smallest-nonnull":
        mask = np.zeros(len(var), bool) if null_mask is None else np.asarray(null_mask, bool)
        candidates = var[~mask] if np.any(~mask) else var
        return float(candidates.min())
    raise ValueError(f"`rule` must be 'original' or 'smallest-nonnull', got {rule!r}")


def bh_qvalues(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values q_(i) = min_{j ≥ i} min(1, m p_(j) / j) over the non-NaN
    p-values (m of them); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q


# ------------------------------------------------------------------------- tests


@dataclass(frozen=True)
class GeneTests:
    """Per gene (rows, in `GeneWindows` order) and trait (columns)."""

    stat: np.ndarray  # (n_genes, n_traits) Q = Σ β̃²
    pvalue: np.ndarray  # (n_genes, n_traits)
    qvalue: np.ndarray  # (n_genes, n_traits) BH within each trait
    epsilon: np.ndarray  # (n_traits,)
    ld_rank: np.ndarray  # (n_genes,) number of positive eigenvalues of R_g
    method: str
    trait_names: tuple[str, ...]


def _ld_getter(ld_of) -> Callable[[np.ndarray], np.ndarray]:
    if callable(ld_of):
        return ld_of
    matrix = np.asarray(ld_of)
    return lambda idx: matrix[np.ix_(idx, idx)]


def run_gene_tests(
    effects: np.ndarray,
    windows: GeneWindows,
    ld_of,
    epsilon,
    method: str = "liu",
    trait_names=None,
    map_fn=map,
) -> GeneTests:
    """The test of the module docstring for every gene of ``windows`` and every column of
    ``effects`` (n_variants, or n_variants × n_traits). ``ld_of(indices) -> R_g`` gives the LD
    correlation of those variants (or pass the full n_variants × n_variants matrix);
    ``epsilon`` is a scalar or one value per trait. Genes are independent units handed to
    ``map_fn`` (a map-like callable, in order); the default is serial."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(METHODS)}, got {method!r}")
    beta = np.asarray(effects, dtype=np.float64)
    beta = beta[:, None] if beta.ndim == 1 else beta
    n_traits = beta.shape[1]
    eps = np.broadcast_to(np.asarray(epsilon, dtype=np.float64), (n_traits,)).copy()
    if not np.all(eps > 0):
        raise ValueError(f"`epsilon` must be positive, got {eps}")
    if trait_names is None:
        trait_names = [f"T{t + 1}" for t in range(n_traits)]
    names = tuple(str(t) for t in trait_names)
    get_ld = _ld_getter(ld_of)

    def one_gene(g):
        idx = windows.variants(g)
        R = np.asarray(get_ld(idx), dtype=np.float64)
        if R.shape != (len(idx), len(idx)):
            raise ValueError(f"`ld_of` returned shape {R.shape} for {len(idx)} variants")
        eig = np.linalg.eigvalsh(0.5 * (R + R.T))
        eig = eig[eig > EIG_RTOL * max(eig.max(), 0.0)]
        q = np.sum(beta[idx] ** 2, axis=0)
        if not len(eig):
            return q, np.full(n_traits, np.nan), 0
        p = [float(quadform_sf(q[t], eps[t] * eig, method)) for t in range(n_traits)]
        return q, np.array(p), len(eig)

    done = list(map_fn(one_gene, range(windows.n_genes)))
    stat = np.array([d[0] for d in done]).reshape(windows.n_genes, n_traits)
    pval = np.array([d[1] for d in done]).reshape(windows.n_genes, n_traits)
    rank = np.array([d[2] for d in done], dtype=np.int64)
    qval = np.column_stack([bh_qvalues(pval[:, t]) for t in range(n_traits)]) if n_traits else pval
    return GeneTests(stat, pval, qval.reshape(pval.shape), eps, rank, method, names)


# ------------------------------------------------------------------------- cluster summaries


@dataclass(frozen=True)
class GeneClusterSummary:
    """Per gene, how its variants fall into the association types of a multi-trait mixture.

    ``fraction[g, c]`` = (variants of g whose type is ``types[c]``) / n_snps(g), set-aside
    variants counting as ``none``; ``abs_sum[g, c]`` = Σ over those variants of Σ_{t ∈ traits of
    the type} |β̃_jt| (0 for ``none`` and ``ambiguous``). ``abs_sum_specific``/``_shared`` add
    the columns of all specific/shared types.
    """

    types: tuple[str, ...]
    fraction: np.ndarray  # (n_genes, n_types)
    abs_sum: np.ndarray  # (n_genes, n_types)
    abs_sum_specific: np.ndarray  # (n_genes,)
    abs_sum_shared: np.ndarray  # (n_genes,)


def summarize_gene_clusters(
    windows: GeneWindows,
    effects: np.ndarray,
    variant_types: np.ndarray,
    type_traits: dict,
) -> GeneClusterSummary:
    """Summaries of the class docstring. ``variant_types`` (n_variants,) holds each variant's
    type string; ``type_traits`` maps every type string to its 0-based traits (as
    `labels.ComponentTypes.traits_of` gives)."""
    beta = np.abs(np.asarray(effects, dtype=np.float64))
    beta = beta[:, None] if beta.ndim == 1 else beta
    vtypes = np.asarray(variant_types, dtype=object)
    types = tuple(sorted(type_traits, key=_type_order))
    unknown = set(np.unique(vtypes.astype(str))) - set(types)
    if unknown:
        raise ValueError(f"`variant_types` holds types absent from `type_traits`: {unknown}")
    code = {name: c for c, name in enumerate(types)}
    var_code = np.array([code[v] for v in vtypes], dtype=np.int64)
    # |β̃| summed over each type's traits, per variant: (n_variants, n_types)
    trait_mask = np.zeros((len(types), beta.shape[1]))
    for name, traits in type_traits.items():
        trait_mask[code[name], list(traits)] = 1.0
    per_variant = beta @ trait_mask.T
    n_genes = windows.n_genes
    fraction = np.zeros((n_genes, len(types)))
    abs_sum = np.zeros((n_genes, len(types)))
    for g in range(n_genes):
        idx = windows.variants(g)
        c = var_code[idx]
        fraction[g] = np.bincount(c, minlength=len(types)) / len(idx)
        abs_sum[g] = np.bincount(c, weights=per_variant[idx, c], minlength=len(types))
    is_spec = np.array([t.startswith("specific:") for t in types], dtype=bool)
    is_shared = np.array([t.startswith("shared:") for t in types], dtype=bool)
    return GeneClusterSummary(
        types, fraction, abs_sum, abs_sum[:, is_spec].sum(1), abs_sum[:, is_shared].sum(1)
    )


def _type_order(name: str):
    kind = name.split(":")[0]
    rank = {"specific": 0, "shared": 1, "ambiguous": 2, "none": 3}.get(kind, 4)
    return (rank, name)
