"""Result files of `gwas`, `simulate` and `evaluate`, and their PNG plots.

- ``PREFIX.gwas.tsv[.gz]``: PLINK 2 ``.glm.linear`` columns ``#CHROM POS ID REF ALT A1 OBS_CT
  BETA SE T_STAT P`` (REF = .bim A2, ALT = A1 = .bim A1, the counted allele; BETA and SE per
  copy of A1), plus ``LOG_DELTA`` with ``--exact``;
- ``PREFIX.pheno`` (``FID IID sim1 ...``) and ``PREFIX.truth.tsv`` (``PHENO CHR SNP BP A1 BETA
  BETA_STD``) of `simulate`;
- the truth and result tables that `evaluate` reads, and its ``eval.tsv``/``curves.tsv``.

Plots use matplotlib (the optional extra ``plot``) with the Agg backend, imported on first use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.artifacts import read_tsv, write_tsv

GWAS_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "A1", "OBS_CT", "BETA", "SE", "T_STAT", "P"]
TRUTH_COLUMNS = ["PHENO", "CHR", "SNP", "BP", "A1", "BETA", "BETA_STD"]
GENOME_WIDE = 5e-8
MAX_PLOTTED_NULL = 200_000  # SNPs with P > 0.01 drawn at most in a Manhattan/QQ plot


# --------------------------------------------------------------------------------- gwas.tsv


def write_gwas(path: str, plink, assoc) -> None:
    """Write a `gwas.Association` with the SNP identities from the .bim (gzip if ``.gz``)."""
    pos = assoc.snp_index
    frame = pd.DataFrame(
        {
            "#CHROM": plink.chrom[pos],
            "POS": plink.bp[pos],
            "ID": plink.snp[pos],
            "REF": plink.a2[pos],
            "ALT": plink.a1[pos],
            "A1": plink.a1[pos],
            "OBS_CT": assoc.n_samples,
            "BETA": assoc.beta,
            "SE": assoc.se,
            "T_STAT": assoc.t_stat,
            "P": assoc.p_value,
        }
    )
    if assoc.method == "exact":
        frame["LOG_DELTA"] = assoc.log_delta
    write_tsv(path, frame, float_format="%.6g")


# --------------------------------------------------------------------------------- simulate


def write_phenotypes(path: str, fid, iid, names: list[str], values: np.ndarray) -> None:
    """``FID IID name1 ...`` with a header, tab-separated (readable by --pheno)."""
    frame = pd.DataFrame({"FID": fid, "IID": iid})
    for k, name in enumerate(names):
        frame[name] = values[:, k]
    write_tsv(path, frame, float_format="%.8g")


def write_truth(path: str, frame: pd.DataFrame) -> None:
    write_tsv(path, frame[TRUTH_COLUMNS], float_format="%.8g")


# --------------------------------------------------------------------------------- evaluate


@dataclass(frozen=True)
class Truth:
    """Causal SNP IDs of one phenotype, from a truth file."""

    path: str
    pheno: str | None
    snp: np.ndarray  # (n_causal,) str


def read_truth(path: str, pheno: str | None) -> Truth:
    """Read ``SNP`` (and optionally ``PHENO``) of a truth file; select rows with ``pheno``."""
    table = read_tsv(path)
    if "SNP" not in table.columns:
        raise InputError(f"{path}: a truth file needs a SNP column (and optionally PHENO)")
    if "PHENO" in table.columns:
        names = list(dict.fromkeys(table["PHENO"].astype(str)))
        if pheno is None:
            if len(names) > 1:
                raise InputError(
                    f"{path}: holds the causal SNPs of {len(names)} phenotypes "
                    f"({', '.join(names[:5])}); choose one with --pheno"
                )
            pheno = names[0]
        if pheno not in names:
            raise InputError(
                f"{path}: no rows for phenotype {pheno!r} (it has {', '.join(names[:10])}); "
                f"fix --pheno"
            )
        table = table[table["PHENO"].astype(str) == pheno]
    snp = table["SNP"].astype(str).to_numpy()
    if len(snp) == 0:
        raise InputError(f"{path}: lists no causal SNP")
    return Truth(path, pheno, np.unique(snp))


@dataclass(frozen=True)
class ResultScores:
    """SNP scores from one result file: larger = stronger evidence of a causal SNP."""

    path: str
    kind: str  # "weights", "stability" or "gwas"
    snp: np.ndarray  # (n_listed,) str
    score: np.ndarray  # (n_listed,) float
    selected: np.ndarray | None  # (n_listed,) bool: the method's own selection, if it has one
    selection_rule: str
    note: str


def _comment_free(path: str) -> pd.DataFrame:
    if not os.path.exists(path):
        raise InputError(f"{path}: result file not found")
    try:
        return read_tsv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable TSV ({exc})") from None


def _header_threshold(path: str) -> float | None:
    """The ``threshold=π`` of a stability.tsv's ``##`` header lines, if any."""
    import gzip
    import re

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as handle:
        for line in handle:
            if not line.startswith("##"):
                break
            match = re.search(r"\bthreshold=([0-9.eE+-]+)", line)
            if match:
                return float(match.group(1))
    return None


def read_result(path: str, mu_index: int | None = None) -> ResultScores:
    """Read a ``weights.tsv``, ``stability.tsv`` or ``gwas.tsv`` (format told by its columns).

    - weights (``SNP``, ``BETA_STD``): score |BETA_STD|, selection = the listed SNPs; in the long
      format of a path (``MU_INDEX``), the rows of ``mu_index`` (default: the last μ);
    - stability (``SNP``, ``FREQ``): score FREQ, selection = ``SELECTED`` if present, else
      FREQ ≥ the ``threshold=π`` of its ``##`` header (as `lmmlasso stability` writes it);
    - gwas (``ID`` or ``SNP``, ``P``; PLINK 2 .glm files too, their ``ADD`` rows): score
      −log10 P, selection P ≤ 0.05 / (number of SNPs tested) (Bonferroni).
    """
    table = _comment_free(path)
    cols = set(table.columns)
    note = ""
    if {"SNP", "BETA_STD"} <= cols:
        if "MU_INDEX" in cols:
            available = np.unique(table["MU_INDEX"])
            k = int(available.max()) if mu_index is None else mu_index
            if mu_index is not None and mu_index not in available:
                note = f"no SNP selected at MU_INDEX {mu_index}"
            else:
                note = f"MU_INDEX {k} of a path" + (" (the last)" if mu_index is None else "")
            table = table[table["MU_INDEX"] == k]
        snp = table["SNP"].astype(str).to_numpy()
        score = np.abs(table["BETA_STD"].to_numpy(dtype=float))
        return ResultScores(path, "weights", snp, score, score > 0, "BETA_STD != 0", note)
    if {"SNP", "FREQ"} <= cols:
        freq = table["FREQ"].to_numpy(dtype=float)
        selected, rule = None, ""
        if "SELECTED" in cols:
            selected, rule = table["SELECTED"].to_numpy(dtype=bool), "SELECTED"
        elif (threshold := _header_threshold(path)) is not None:
            selected, rule = freq >= threshold, f"FREQ >= {threshold:g} (threshold in the header)"
        snp = table["SNP"].astype(str).to_numpy()
        return ResultScores(path, "stability", snp, freq, selected, rule, note)
    id_col = "ID" if "ID" in cols else "SNP" if "SNP" in cols else None
    if id_col and "P" in cols:
        if "TEST" in cols:
            table = table[table["TEST"] == "ADD"]
        p = table["P"].to_numpy(dtype=float)
        ok = np.isfinite(p)
        snp = table[id_col].astype(str).to_numpy()[ok]
        p = np.clip(p[ok], np.finfo(float).tiny, 1.0)
        cut = 0.05 / max(len(p), 1)
        rule = f"P <= 0.05/{len(p)} (Bonferroni)"
        return ResultScores(path, "gwas", snp, -np.log10(p), p <= cut, rule, note)
    raise InputError(
        f"{path}: unknown result format (columns {', '.join(map(str, table.columns[:8]))}); "
        f"give a weights.tsv (SNP, BETA_STD), stability.tsv (SNP, FREQ) or gwas.tsv (ID, P)"
    )


def write_eval_tables(prefix: str, summary: pd.DataFrame, curves: pd.DataFrame) -> None:
    write_tsv(prefix + ".eval.tsv", summary, float_format="%.6g")
    write_tsv(prefix + ".curves.tsv", curves, float_format="%.6g")


# --------------------------------------------------------------------------------- plots


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


def _save(fig, path: str) -> None:
    from lmmlasso_cli.io.artifacts import atomic_path

    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=150)


def plot_manhattan(path: str, chrom: np.ndarray, bp: np.ndarray, p: np.ndarray, title: str):
    """−log10 P along the genome (chromosomes in order of appearance), with 5e-8 and
    Bonferroni lines."""
    plt = _pyplot()
    p = np.clip(p, np.finfo(float).tiny, 1.0)
    ok = np.isfinite(p)
    chrom, bp, p = chrom[ok], bp[ok], p[ok]
    names = list(dict.fromkeys(chrom))
    x = np.zeros(len(p))
    ticks, offset = [], 0.0
    for c in names:
        sel = chrom == c
        span = bp[sel].max() - bp[sel].min() if sel.any() else 0
        x[sel] = offset + bp[sel] - bp[sel].min()
        ticks.append(offset + span / 2)
        offset += span + max(span * 0.02, 1)
    colour = np.array([names.index(c) % 2 for c in chrom])
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
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


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
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


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
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
