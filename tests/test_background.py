"""The fitted model's background weights b = a Z / (p · scale) over the kinship's SNPs.

When the kinship's SNPs are the analysed ones, `fit` takes them from the codes in memory
instead of reading the .bed again; both must give the same weights, over one μ and a path.
"""

import numpy as np
import pytest
from click.testing import CliRunner

import lmmlasso_cli.cli.pipeline as pipeline
import lmmlasso_cli.predict as predict
from lmmlasso_cli.cli import main


def _weights(path):
    with np.load(path) as art:
        return art["background_weights"]


@pytest.fixture(scope="module")
def kinship(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("background")
    result = CliRunner().invoke(main, ["kinship", "--bfile", str(toy / "toy"), "--out",
                                       str(out / "k"), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("which", [["--n-active", "6"], ["--n-mu", "4"]])
def test_weights_from_memory_equal_a_second_read(toy, kinship, which, monkeypatch):
    args = ["fit", "--bfile", str(toy / "toy"), "--kinship", str(kinship / "k.kinship.npz"),
            "--pheno", str(toy / "toy.pheno"), "--pheno-name", "q1", *which, "--quiet"]  # fmt: skip
    tag = which[0][2:]
    calls = []
    original = predict.stored_background  # background_for imports it when it runs

    def counted(*a, **k):
        calls.append(1)
        return original(*a, **k)

    monkeypatch.setattr(predict, "stored_background", counted)
    memory = kinship / f"memory.{tag}"
    assert CliRunner().invoke(main, [*args, "--out", str(memory)]).exit_code == 0
    assert calls == [1]
    monkeypatch.setattr(pipeline, "_same_snps", lambda *a: False)
    read = kinship / f"read.{tag}"
    assert CliRunner().invoke(main, [*args, "--out", str(read)]).exit_code == 0
    assert calls == [1]
    a, b = _weights(f"{memory}.model.npz"), _weights(f"{read}.model.npz")
    assert a.shape == b.shape and a.shape[1] > 9000
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14 * np.abs(b).max())
