"""Outputs of `simulate`: ``PREFIX.pheno`` (``FID IID sim1 ...``, readable by --pheno) and
``PREFIX.truth.tsv`` (``PHENO CHR SNP BP A1 BETA BETA_STD``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmmlasso_cli.io.artifacts import write_tsv

TRUTH_COLUMNS = ["PHENO", "CHR", "SNP", "BP", "A1", "BETA", "BETA_STD"]


def write_phenotypes(path: str, fid, iid, names: list[str], values: np.ndarray) -> None:
    """``FID IID name1 ...`` with a header, tab-separated (readable by --pheno)."""
    frame = pd.DataFrame({"FID": fid, "IID": iid})
    for k, name in enumerate(names):
        frame[name] = values[:, k]
    write_tsv(path, frame, float_format="%.8g")


def write_truth(path: str, frame: pd.DataFrame) -> None:
    write_tsv(path, frame[TRUTH_COLUMNS], float_format="%.8g")
