"""What `evaluate` reads (truth files; weights, stability and gwas results) and writes
(``PREFIX.eval.tsv`` and ``PREFIX.curves.tsv``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.artifacts import read_tsv, write_tsv


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
