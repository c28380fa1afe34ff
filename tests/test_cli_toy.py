"""End-to-end chains on data/toy through the CLI (the `make demo` pipeline, asserted)."""

import re

import pandas as pd
import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import main

pytestmark = pytest.mark.slow


def run(*args):
    result = CliRunner().invoke(main, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    return result


def explained_variance(log_path):
    text = open(log_path).read()
    return float(re.search(r"explained variance (-?[0-9.]+)", text).group(1))


@pytest.fixture(scope="module")
def toy_chain(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("toy")
    common = [
        "--bfile",
        str(toy / "toy"),
        "--pheno",
        str(toy / "toy.pheno"),
        "--pheno-name",
        "q1",
        "--covar",
        str(toy / "toy.covar"),
    ]
    run("kinship", "--bfile", str(toy / "toy"), "--out", str(out / "toy"))
    kin = str(out / "toy.kinship.npz")
    run("fit-null", *common, "--kinship", kin, "--reml", "--out", str(out / "toy"))
    null = str(out / "toy.null.npz")
    models = {
        "lmm": ["--kinship", kin, "--null", null, "--n-active", "15"],
        "lasso": ["--no-kinship", "--n-active", "15"],
        "blup": ["--kinship", kin, "--null", null, "--mu", "1e9"],
    }
    ev = {}
    for name, extra in models.items():
        run("fit", *common, *extra, "--out", str(out / name))
        run(
            "predict",
            "--bfile",
            str(toy / "new"),
            "--model",
            str(out / f"{name}.model.npz"),
            "--covar",
            str(toy / "new.covar"),
            "--pheno",
            str(toy / "new.pheno"),
            "--out",
            str(out / f"{name}.new"),
        )
        ev[name] = explained_variance(out / f"{name}.new.log")
    return out, ev


def test_lmm_lasso_beats_plain_lasso_and_blup_on_held_out(toy_chain):
    _, ev = toy_chain
    assert ev["lmm"] > ev["lasso"] and ev["lmm"] > ev["blup"]


def test_lmm_lasso_recovers_most_causal_snps(toy, toy_chain):
    out, _ = toy_chain
    weights = pd.read_csv(out / "lmm.weights.tsv", sep="\t", comment="#")
    truth = pd.read_csv(toy / "toy.truth.tsv", sep="\t")
    causal = set(truth.SNP[truth.PHENO == "q1"])
    hits = len(causal & set(weights.SNP))
    assert len(weights) == 15 and hits >= 0.7 * len(causal)
