"""``PREFIX.pred.tsv`` of `predict`, and the observed phenotypes it is scored against."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmmlasso_cli.io.artifacts import write_tsv
from lmmlasso_cli.io.tables import read_table, select_columns


def write_predictions(path: str, model, fid, iid, mus, pred) -> None:
    """FID IID [MU_INDEX MU] PRED PRED_SNPS PRED_COVAR PRED_BACKGROUND [PRED_PHENO], a block
    of rows per μ index of ``mus`` (rows of ``pred``)."""
    frames = []
    for row, k in enumerate(mus):
        frame = pd.DataFrame({"FID": fid, "IID": iid})
        if model.n_mu > 1:
            frame["MU_INDEX"] = k
            frame["MU"] = model.mus[k]
        frame["PRED"] = pred.total[row]
        frame["PRED_SNPS"] = pred.snps[row]
        frame["PRED_COVAR"] = pred.covariates[row]
        frame["PRED_BACKGROUND"] = pred.background[row]
        original = model.transform.invert(pred.total[row])
        if original is not None:
            frame["PRED_PHENO"] = original
        frames.append(frame)
    write_tsv(
        path,
        pd.concat(frames, ignore_index=True),
        [
            f"model={model.path}",
            f"pheno={model.pheno}",
            f"scale=PRED on the model's {model.transform.kind} scale",
        ],
    )


def read_observed(path: str, name: str, samples) -> np.ndarray:
    """Column ``name`` of a phenotype table (the first value column if it has no header),
    in the order of the aligned ``samples``; NaN where missing or absent."""
    table = read_table(path, "phenotype")
    _, values = select_columns(
        table, [name] if table.has_header else None, None if table.has_header else [1], "pheno"
    )
    lookup = {k: i for i, k in enumerate(zip(table.fid, table.iid, strict=True))}
    rows = [lookup.get(k, -1) for k in zip(samples.fid, samples.iid, strict=True)]
    return np.array([values[r, 0] if r >= 0 else np.nan for r in rows])
