"""``PREFIX.shrink.tsv`` and the shrinkage-model ``.npz`` (plain arrays, no pickle).

shrink.tsv: ``#CHROM POS ID A1 A2 BLOCK BETA SE BETA_SHRUNK BETA_STD BETA_SHRUNK_STD``, one row
per analysed variant, BETA/SE/BETA_SHRUNK per copy of A1 (the .bim's A1) in phenotype units,
the ``_STD`` columns per sd of the genotype and of the phenotype; BLOCK is 1-based.

Model file (kind ``mlmages-model``): the ensemble's arrays (`mlp.ensemble_to_arrays`), the
feature definition (version, ``top_r``, names), the training settings and grid, and the
genotype fingerprint; `load_shrink_model` refuses it for other genotypes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from lmmlasso_cli.errors import ArtifactError
from lmmlasso_cli.io.artifacts import load_npz, save_npz, write_tsv
from lmmlasso_cli.io.plink import PlinkSet
from lmmlasso_cli.mlmages.features import FEATURE_VERSION, feature_names
from lmmlasso_cli.mlmages.mlp import MlpSettings, ensemble_from_arrays, ensemble_to_arrays
from lmmlasso_cli.mlmages.shrink import ShrinkModel
from lmmlasso_cli.mlmages.training import SimulationGrid

MODEL_KIND = "mlmages-model"
SHRINK_COLUMNS = [
    "#CHROM", "POS", "ID", "A1", "A2", "BLOCK", "BETA", "SE", "BETA_SHRUNK", "BETA_STD",
    "BETA_SHRUNK_STD",
]  # fmt: skip


def write_shrink(
    path: str,
    plink: PlinkSet,
    snp_index: np.ndarray,
    block: np.ndarray,
    beta: np.ndarray,
    se: np.ndarray,
    beta_shrunk: np.ndarray,
    beta_std: np.ndarray,
    beta_shrunk_std: np.ndarray,
    header_lines: list[str] = (),
) -> None:
    """Write shrink.tsv (module docstring); ``block`` is 0-based and written 1-based."""
    frame = pd.DataFrame(
        {
            "#CHROM": plink.chrom[snp_index],
            "POS": plink.bp[snp_index],
            "ID": plink.snp[snp_index],
            "A1": plink.a1[snp_index],
            "A2": plink.a2[snp_index],
            "BLOCK": np.asarray(block) + 1,
            "BETA": beta,
            "SE": se,
            "BETA_SHRUNK": beta_shrunk,
            "BETA_STD": beta_std,
            "BETA_SHRUNK_STD": beta_shrunk_std,
        }
    )
    write_tsv(path, frame[SHRINK_COLUMNS], header_lines=header_lines, float_format="%.6g")


def save_shrink_model(path: str, model: ShrinkModel, meta: dict) -> None:
    """Save ``model`` with ``meta`` (e.g. `artifacts.provenance`) as an .npz of plain arrays."""
    info = {
        **meta,
        "fingerprint": model.fingerprint,
        "feature_version": model.feature_version,
        "top_r": model.top_r,
        "feature_names": feature_names(model.top_r),
        "n_replicates": model.n_replicates,
        "n_training_rows": model.n_training_rows,
        "seed": model.seed,
        "grid": dataclasses.asdict(model.grid),
        "settings": dataclasses.asdict(model.settings),
        "matching": model.matching,
    }
    save_npz(path, MODEL_KIND, info, ensemble_to_arrays(model.ensemble))


def load_shrink_model(path: str, fingerprint: str | None) -> ShrinkModel:
    """Load a model saved by `save_shrink_model`; with ``fingerprint`` given, refuse a model
    trained on other genotypes."""
    art = load_npz(path, MODEL_KIND, required=("x_scale", "y_scale", "n_models", "n_layers"))
    meta = art.meta
    if meta.get("feature_version") != FEATURE_VERSION:
        raise ArtifactError(
            f"{path}: uses shrinkage features version {meta.get('feature_version')}, this "
            f"lmmlasso-cli version {FEATURE_VERSION}; retrain it with --save-model"
        )
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        raise ArtifactError(
            f"{path}: was trained on other genotypes (fingerprint "
            f"{str(meta.get('fingerprint'))[:12]}… vs {fingerprint[:12]}… for these SNPs, "
            "alleles, individuals and allele frequencies); use the same --bfile and filters "
            "as when it was saved, or train a new model without --model"
        )
    try:
        ensemble = ensemble_from_arrays(art.arrays)
    except KeyError as exc:
        raise ArtifactError(f"{path}: lacks the array {exc}; re-create it") from None
    settings = meta.get("settings", {})
    settings["hidden_layers"] = tuple(settings.get("hidden_layers", ()))
    grid = {k: tuple(v) for k, v in meta.get("grid", {}).items()}
    return ShrinkModel(
        ensemble=ensemble,
        top_r=int(meta["top_r"]),
        fingerprint=str(meta["fingerprint"]),
        feature_version=int(meta["feature_version"]),
        n_replicates=int(meta.get("n_replicates", 0)),
        n_training_rows=int(meta.get("n_training_rows", 0)),
        seed=int(meta.get("seed", 0)),
        grid=SimulationGrid(**grid),
        settings=MlpSettings(**settings),
        matching=str(meta.get("matching", "rms")),
    )
