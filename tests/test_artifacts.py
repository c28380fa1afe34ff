"""Every check of `io.artifacts.load_npz`, and allele matching in `io.plink.match_snps`."""

import json

import numpy as np
import pytest

from lmmlasso_cli.errors import ArtifactError, InputError
from lmmlasso_cli.io.artifacts import FORMAT_VERSION, load_npz, save_npz
from lmmlasso_cli.io.plink import PlinkSet, match_snps


@pytest.fixture()
def artifact(tmp_path):
    path = str(tmp_path / "a.kinship.npz")
    save_npz(path, "kinship", {"x": 1}, {"fid": ["F"], "iid": ["I"], "K": np.eye(1)})
    return path


def test_round_trip_keeps_kind_meta_and_arrays(artifact):
    art = load_npz(artifact, "kinship", ("fid", "iid", "K"))
    assert art.meta["kind"] == "kinship" and art.meta["x"] == 1
    assert art.meta["format_version"] == FORMAT_VERSION
    np.testing.assert_array_equal(art["K"], np.eye(1))


def test_missing_file(tmp_path):
    with pytest.raises(ArtifactError, match="file not found"):
        load_npz(str(tmp_path / "none.npz"), "kinship")


def test_truncated_file(artifact):
    data = open(artifact, "rb").read()
    open(artifact, "wb").write(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="not a readable .npz artifact"):
        load_npz(artifact, "kinship")


def test_not_an_npz(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("FID IID\n")
    with pytest.raises(ArtifactError, match="not a readable .npz artifact"):
        load_npz(str(path), "kinship")


def test_npz_without_metadata(tmp_path):
    path = str(tmp_path / "plain.npz")
    np.savez(path, fid=np.array(["F"]), iid=np.array(["I"]))
    with pytest.raises(ArtifactError, match="no lmmlasso metadata"):
        load_npz(path, "kinship")


def test_artifact_of_another_kind(artifact):
    with pytest.raises(ArtifactError, match="is a 'kinship' artifact but a 'model' one"):
        load_npz(artifact, "model")


def test_artifact_from_a_newer_format(tmp_path):
    path = str(tmp_path / "new.npz")
    meta = {"kind": "kinship", "format_version": FORMAT_VERSION + 1}
    np.savez(path, __meta__=np.array(json.dumps(meta)), fid=np.array(["F"]), iid=np.array(["I"]))
    with pytest.raises(ArtifactError, match="written by a newer lmmlasso-cli"):
        load_npz(path, "kinship")


def test_artifact_lacking_required_arrays(artifact):
    with pytest.raises(ArtifactError, match="lacks snp_means, snp_sds"):
        load_npz(artifact, "kinship", ("fid", "iid", "snp_means", "snp_sds"))


def _plink(a1, a2, snp=("rs1", "rs2", "rs3")):
    n = len(snp)
    return PlinkSet(
        prefix="ref",
        fid=np.array(["F"]),
        iid=np.array(["I"]),
        fam_phenotypes=np.zeros((1, 0)),
        chrom=np.array(["1"] * n),
        snp=np.array(snp),
        cm=np.zeros(n),
        bp=np.arange(n, dtype=np.int64),
        a1=np.array(a1),
        a2=np.array(a2),
    )


def test_match_snps_finds_positions_and_swapped_alleles():
    plink = _plink(["A", "C", "G"], ["G", "T", "A"])
    pos, flipped = match_snps(
        plink, np.array(["rs3", "rs1"]), np.array(["A", "A"]), np.array(["G", "G"]), "model"
    )
    np.testing.assert_array_equal(pos, [2, 0])
    np.testing.assert_array_equal(flipped, [True, False])  # rs3: .bim counts G, model A


def test_match_snps_rejects_absent_snps():
    plink = _plink(["A", "C", "G"], ["G", "T", "A"])
    with pytest.raises(InputError, match=r"1 of the 2 SNPs of model are missing \(e\.g\. rs9\)"):
        match_snps(plink, np.array(["rs1", "rs9"]), np.array(["A", "A"]), None, "model")


@pytest.mark.parametrize("a1, a2", [(["T"], ["G"]), (["A"], ["C"])], ids=["other A1", "other A2"])
def test_match_snps_rejects_alleles_in_neither_orientation(a1, a2):
    plink = _plink(["A", "C", "G"], ["G", "T", "A"])
    with pytest.raises(InputError, match=r"match neither orientation of model \(e\.g\. rs1: A/G"):
        match_snps(plink, np.array(["rs1"]), np.array(a1), np.array(a2), "model")


@pytest.mark.parametrize("float_format", ["%.10g", "%.12g", "%.6g"])
@pytest.mark.parametrize("n_rows", [0, 1, 257])
def test_tsv_writer_gives_pandas_bytes(tmp_path, float_format, n_rows):
    """write_tsv formats columns itself; the file must be what pandas' to_csv writes."""
    import io

    import pandas as pd

    from lmmlasso_cli.io.artifacts import write_tsv

    rng = np.random.default_rng(n_rows)
    wide = rng.standard_normal(n_rows) * 10.0 ** rng.integers(-300, 300, n_rows)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1e-320, 123456789012345.0])
    frame = pd.DataFrame(
        {
            "ID": [f"rs{i}" for i in range(n_rows)],
            "x": wide,
            "y32": rng.standard_normal(n_rows).astype(np.float32),
            "special": np.resize(special, n_rows),
            "count": rng.integers(-5, 10**12, n_rows),
            "flag": rng.random(n_rows) < 0.5,
            "u8": rng.integers(0, 255, n_rows).astype(np.uint8),
        }
    )
    path = str(tmp_path / "t.tsv")
    write_tsv(path, frame, ["a=1"], float_format=float_format)
    expected = io.StringIO()
    frame.to_csv(expected, sep="\t", index=False, float_format=float_format, na_rep="NA")
    with open(path) as handle:
        assert handle.read() == "## a=1\n" + expected.getvalue()


def test_tsv_writer_leaves_quoting_to_pandas(tmp_path):
    import pandas as pd

    from lmmlasso_cli.io.artifacts import read_tsv, write_tsv

    frame = pd.DataFrame({"name": ["a\tb", 'say "x"'], "v": [1.5, np.nan]})
    path = str(tmp_path / "q.tsv")
    write_tsv(path, frame)
    back = read_tsv(path)
    assert list(back.name) == list(frame.name) and np.isnan(back.v[1])
