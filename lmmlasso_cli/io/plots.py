"""PNG plots: Manhattan, QQ, precision-recall.

matplotlib (the optional extra ``plot``) with the Agg backend, imported on first use; every
figure is written atomically.
"""

from __future__ import annotations

import numpy as np

from lmmlasso_cli.errors import InputError

GENOME_WIDE = 5e-8
MAX_PLOTTED_NULL = 200_000  # SNPs with P > 0.01 drawn at most in a Manhattan/QQ plot


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError(
            "--plot needs matplotlib: install it with `pip install 'lmmlasso-cli[plot]'`"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _thin(p: np.ndarray) -> np.ndarray:
    """Indices to draw: every SNP with P ≤ 0.01, an even subset of the others."""
    strong = np.flatnonzero(~(p > 0.01))
    weak = np.flatnonzero(p > 0.01)
    if len(weak) > MAX_PLOTTED_NULL:
        weak = weak[np.linspace(0, len(weak) - 1, MAX_PLOTTED_NULL).astype(np.int64)]
    return np.sort(np.concatenate([strong, weak]))


def _finish(plt, fig, path: str) -> None:
    """Lay the figure out, write it atomically and free it."""
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _save(fig, path: str) -> None:
    from lmmlasso_cli.io.artifacts import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150)


def plot_manhattan(path: str, chrom: np.ndarray, bp: np.ndarray, p: np.ndarray, title: str):
    """−log10 P along the genome (chromosomes in order of appearance), with 5e-8 and
    Bonferroni lines."""
    plt = _pyplot()
    p = np.clip(p, np.finfo(float).tiny, 1.0)
    ok = np.isfinite(p)
    chrom, bp, p = np.asarray(chrom)[ok], np.asarray(bp)[ok], p[ok]
    x, ticks, names, index, offset = _genome_x(chrom, bp)
    colour = index % 2
    keep = _thin(p)
    fig, ax = plt.subplots(figsize=(11, 4))
    palette = np.array(["#1f4e79", "#6fa8dc"])
    ax.scatter(x[keep], -np.log10(p[keep]), c=palette[colour[keep]], s=4, linewidths=0)
    ax.axhline(-np.log10(GENOME_WIDE), color="#c00000", lw=0.8, ls="--", label="P = 5e-8")
    ax.axhline(-np.log10(0.05 / len(p)), color="#7f7f7f", lw=0.8, ls=":", label="Bonferroni 0.05")
    ax.set_xticks(ticks)
    ax.set_xticklabels(names, fontsize=7 if len(names) > 12 else 9)
    ax.set_xlim(-offset * 0.01, offset * 1.01)
    ax.set_ylim(0, max(-np.log10(p.min()), -np.log10(GENOME_WIDE)) * 1.08)
    ax.set_xlabel("chromosome")
    ax.set_ylabel("−log10 P")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    _finish(plt, fig, path)


def plot_qq(path: str, p: np.ndarray, lambda_gc: float, title: str):
    """Observed against expected −log10 P under the uniform null, with a 95% band."""
    plt = _pyplot()
    from scipy import stats

    p = np.sort(np.clip(p[np.isfinite(p)], np.finfo(float).tiny, 1.0))
    n = len(p)
    rank = np.arange(1, n + 1)
    expected = -np.log10(rank / (n + 1))
    lo = -np.log10(stats.beta.ppf(0.975, rank, n - rank + 1))
    hi = -np.log10(stats.beta.ppf(0.025, rank, n - rank + 1))
    keep = _thin(p)
    fig, ax = plt.subplots(figsize=(4.8, 4.8))
    ax.fill_between(expected, lo, hi, color="#d9d9d9", lw=0, label="95% band")
    top = max(expected[0], -np.log10(p[0])) * 1.05
    ax.plot([0, top], [0, top], color="#7f7f7f", lw=0.8)
    ax.scatter(expected[keep], -np.log10(p[keep]), s=5, color="#1f4e79", linewidths=0)
    ax.set_xlim(0, expected[0] * 1.05)
    ax.set_ylim(0, top)
    ax.set_xlabel("expected −log10 P")
    ax.set_ylabel("observed −log10 P")
    ax.set_title(f"{title}\nλ_GC = {lambda_gc:.3f}, {n} SNPs", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    _finish(plt, fig, path)


def plot_pr(path: str, curves: dict, summary: dict, title: str):
    """Precision–recall step curves of several methods, drawn as average precision counts them
    (precision at each gain in recall). ``curves``: name → (recall, precision) over the
    thresholds; ``summary``: name → average precision."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    styles = ["-", "--", "-.", ":"]
    for k, (name, (recall, precision)) in enumerate(curves.items()):
        up = np.flatnonzero(np.diff(np.r_[0.0, recall]) > 0)  # the points AP sums over
        r = np.r_[0.0, recall[up]]
        p = np.r_[precision[up][:1], precision[up]]
        ax.step(
            r,
            p,
            where="pre",
            lw=1.6,
            ls=styles[k % len(styles)],
            alpha=0.9,
            label=f"{name} (AP {summary[name]:.3f})",
        )
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall (causal SNPs found)")
    ax.set_ylabel("precision")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    _finish(plt, fig, path)


def plot_clusters(path: str, effects: np.ndarray, types: np.ndarray, trait_names) -> None:
    """Effects of every pair of traits, coloured by association type (a grid for > 2 traits;
    a histogram per type for one trait)."""
    plt = _pyplot()
    names = list(trait_names)
    T = len(names)
    kinds = sorted(set(types.tolist()), key=lambda t: (t == "none", t))
    palette = ["#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6", "#843c0c"]
    colour = {
        k: ("#bfbfbf" if k == "none" else palette[i % len(palette)]) for i, k in enumerate(kinds)
    }
    pairs = [(a, b) for a in range(T) for b in range(a + 1, T)] or [(0, 0)]
    cols = min(len(pairs), 3)
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 4.2 * rows), squeeze=False)
    for ax, (a, b) in zip(axes.flat, pairs, strict=False):
        for kind in kinds:
            sel = types == kind
            if T == 1:
                ax.hist(effects[sel, 0], bins=60, color=colour[kind], alpha=0.7, label=kind)
            else:
                ax.scatter(
                    effects[sel, a],
                    effects[sel, b],
                    s=5 if kind == "none" else 9,
                    color=colour[kind],
                    linewidths=0,
                    label=f"{kind} ({int(sel.sum())})",
                )
        ax.axhline(0, color="#7f7f7f", lw=0.5)
        ax.axvline(0, color="#7f7f7f", lw=0.5)
        ax.set_xlabel(names[a])
        ax.set_ylabel(names[b] if T > 1 else "variants")
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, frameon=False, markerscale=1.5)
    fig.suptitle("shrunk effects by association type", fontsize=10)
    _finish(plt, fig, path)


def _genome_x(chrom: np.ndarray, bp: np.ndarray):
    """x positions along the genome (chromosomes in order of appearance), tick positions and
    names, and each point's chromosome index."""
    names = list(dict.fromkeys(chrom))
    x = np.zeros(len(bp), dtype=float)
    ticks, offset = [], 0.0
    for c in names:
        sel = chrom == c
        lo = bp[sel].min() if sel.any() else 0
        span = bp[sel].max() - lo if sel.any() else 0
        x[sel] = offset + bp[sel] - lo
        ticks.append(offset + span / 2)
        offset += span + max(span * 0.02, 1)
    index = np.array([names.index(c) for c in chrom])
    return x, ticks, names, index, offset


def plot_effects(path: str, chrom, bp, beta, title: str) -> None:
    """The selected SNPs' standardized effects along the genome (a fit at one μ)."""
    plt = _pyplot()
    chrom, bp, beta = np.asarray(chrom), np.asarray(bp), np.asarray(beta, dtype=float)
    x, ticks, names, index, offset = _genome_x(chrom, bp)
    fig, ax = plt.subplots(figsize=(11, 4))
    palette = np.array(["#1f4e79", "#6fa8dc"])
    ax.vlines(x, 0, beta, colors=palette[index % 2], lw=1.2)
    ax.scatter(x, beta, c=palette[index % 2], s=10, linewidths=0)
    ax.axhline(0, color="#7f7f7f", lw=0.5)
    ax.set_xticks(ticks)
    ax.set_xticklabels(names, fontsize=7 if len(names) > 12 else 9)
    ax.set_xlim(-offset * 0.01, offset * 1.01)
    ax.set_xlabel("chromosome")
    ax.set_ylabel("BETA_STD (per sd of the SNP)")
    ax.set_title(f"{title}: {len(beta)} SNPs selected", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    _finish(plt, fig, path)


def plot_path(path: str, mus, coefs, chosen: int | None, title: str) -> None:
    """The regularization path: each selected SNP's standardized coefficient against log10 μ,
    the chosen μ marked."""
    plt = _pyplot()
    mus = np.asarray(mus, dtype=float)
    coefs = np.asarray(coefs, dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    x = np.log10(mus)
    for j in range(coefs.shape[1]):
        ax.plot(x, coefs[:, j], lw=0.9, alpha=0.85)
    if chosen is not None:
        ax.axvline(x[chosen], color="#c00000", lw=0.8, ls="--", label=f"μ = {mus[chosen]:.4g}")
        ax.legend(fontsize=8, frameon=False)
    ax.axhline(0, color="#7f7f7f", lw=0.5)
    ax.invert_xaxis()
    ax.set_xlabel("log10 μ (larger μ: fewer SNPs)")
    ax.set_ylabel("BETA_STD (per sd of the SNP)")
    ax.set_title(f"{title}: {coefs.shape[1]} SNPs selected along the path", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    _finish(plt, fig, path)


def plot_cv(path: str, mus, ev_mean, ev_se, n_active, chosen: int, title: str) -> None:
    """Held-out explained variance ± SE against log10 μ, the mean number of active SNPs on a
    second axis, the chosen μ marked."""
    plt = _pyplot()
    x = np.log10(np.asarray(mus, dtype=float))
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ax.errorbar(x, ev_mean, yerr=ev_se, fmt="o-", ms=3, lw=1, color="#1f4e79", capsize=2,
                label="held-out explained variance ± SE")  # fmt: skip
    ax.axvline(x[chosen], color="#c00000", lw=0.8, ls="--", label=f"chosen μ = {mus[chosen]:.4g}")
    ax.invert_xaxis()
    ax.set_xlabel("log10 μ")
    ax.set_ylabel("explained variance (held out)")
    other = ax.twinx()
    other.plot(x, n_active, color="#7f7f7f", lw=0.8, ls=":", label="mean active SNPs")
    other.set_ylabel("mean active SNPs", color="#7f7f7f")
    lines = ax.get_legend_handles_labels()
    more = other.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, frameon=False, loc="best")
    ax.set_title(title, fontsize=10)
    ax.spines[["top"]].set_visible(False)
    _finish(plt, fig, path)


def plot_stability(path: str, chrom, bp, freq, threshold: float, title: str) -> None:
    """Selection frequency along the genome with the threshold π."""
    plt = _pyplot()
    chrom, bp, freq = np.asarray(chrom), np.asarray(bp), np.asarray(freq, dtype=float)
    x, ticks, names, index, offset = _genome_x(chrom, bp)
    fig, ax = plt.subplots(figsize=(11, 4))
    palette = np.array(["#1f4e79", "#6fa8dc"])
    shown = freq > 0
    ax.scatter(x[shown], freq[shown], c=palette[index[shown] % 2], s=8, linewidths=0)
    ax.axhline(threshold, color="#c00000", lw=0.8, ls="--", label=f"threshold π = {threshold:g}")
    ax.set_xticks(ticks)
    ax.set_xticklabels(names, fontsize=7 if len(names) > 12 else 9)
    ax.set_xlim(-offset * 0.01, offset * 1.01)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("chromosome")
    ax.set_ylabel("selection frequency")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    _finish(plt, fig, path)


def plot_shrink(path: str, marginal, shrunk, title: str) -> None:
    """Shrunk against marginal standardized effects, with the identity line."""
    plt = _pyplot()
    marginal, shrunk = np.asarray(marginal, float), np.asarray(shrunk, float)
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    ax.scatter(marginal, shrunk, s=5, color="#1f4e79", alpha=0.6, linewidths=0)
    top = max(np.abs(marginal).max(), np.abs(shrunk).max()) * 1.05
    ax.plot([-top, top], [-top, top], color="#7f7f7f", lw=0.8, ls=":", label="no shrinkage")
    ax.axhline(0, color="#bfbfbf", lw=0.5)
    ax.set_xlim(-top, top)
    ax.set_ylim(-top, top)
    ax.set_xlabel("marginal BETA_STD")
    ax.set_ylabel("shrunk BETA_SHRUNK_STD")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    _finish(plt, fig, path)
