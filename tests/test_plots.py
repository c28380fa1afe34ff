"""Every model command draws its plot: a valid PNG of the expected size (figure inches x 150
dpi), written atomically."""

import struct

import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import main

DPI = 150


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    return struct.unpack(">II", data[16:24])


def run(*args):
    result = CliRunner().invoke(main, [*map(str, args), "--plot", "--quiet"])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def kin(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("k") / "k"
    assert CliRunner().invoke(main, ["kinship", "--bfile", tiny["prefix"], "--out", str(out),
                                     "--quiet"]).exit_code == 0  # fmt: skip
    return str(out) + ".kinship.npz"


def test_model_plots(tiny, kin, tmp_path):
    base = ["--bfile", tiny["prefix"], "--kinship", kin, "--pheno", tiny["pheno"], "--pheno-name",
            "q"]  # fmt: skip
    run("fit", *base, "--n-mu", "6", "--mu-min-ratio", "0.2", "--out", tmp_path / "path")
    run("fit", *base, "--n-active", "4", "--out", tmp_path / "one")
    run(
        "cv",
        *base,
        "--folds",
        "3",
        "--n-mu",
        "5",
        "--mu-min-ratio",
        "0.2",
        "--out",
        tmp_path / "cv",
    )
    run("stability", *base, "--n-reps", "3", "--n-active", "3", "--threads", "1",
        "--out", tmp_path / "st")  # fmt: skip
    expected = {
        "path.path.png": (7.5, 4.6),
        "one.effects.png": (11, 4),
        "cv.cv.png": (7.5, 4.6),
        "st.stability.png": (11, 4),
    }
    for name, (w, h) in expected.items():
        assert png_size(tmp_path / name) == (round(w * DPI), round(h * DPI)), name


def test_mlmages_plots(tiny, tmp_path):
    g = ["--bfile", tiny["prefix"]]
    CliRunner().invoke(main, ["gwas", *g, "--pheno", tiny["pheno"], "--pheno-name", "q", "--lm",
                              "--out", str(tmp_path / "g"), "--quiet"])  # fmt: skip
    run("shrink", *g, "--gwas", tmp_path / "g.gwas.tsv", "--method", "enet", "--block-snps", "50",
        "--out", tmp_path / "s")  # fmt: skip
    run("cluster", "--shrink", tmp_path / "s.shrink.tsv", "--restarts", "2", "--zero-cutoff",
        "1e-9", "--out", tmp_path / "c")  # fmt: skip
    assert png_size(tmp_path / "s.shrink.png") == (round(5.2 * DPI), round(5.0 * DPI))
    assert png_size(tmp_path / "c.clusters.png") == (round(4.4 * DPI), round(4.2 * DPI))
