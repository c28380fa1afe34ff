"""bench/scale_data.py: the streamed .bed against the generator, relatedness, LD, determinism.

bench/ is not a package: the script is loaded by path.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from bed_reader import open_bed

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "scale_data.py"

# relatedness 2φ is estimated from a few thousand SNPs in LD: tolerances on class means
RELATEDNESS_TOL = {"parent-offspring": 0.04, "full sibs": 0.06, "half sibs": 0.05}
UNRELATED_TOL = 0.03  # |mean K| of unrelated pairs (Fst 0.01 shifts them by about ±0.01)
# mean |sample − expected A1 frequency| over 800 alleles: about 0.011 for unrelated people,
# relatives add to it
FREQ_MEAN_ABS_TOL = 0.02


@pytest.fixture(scope="module")
def sd():
    spec = importlib.util.spec_from_file_location("scale_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_data"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def tiny(sd, **kw):
    settings = {"n_samples": 45, "n_snps": 700, "seed": 5, "n_chromosomes": 3, "missing": 0.05}
    return sd.ScaleConfig(**(settings | kw))


def dense_calls(sd, design, block_snps=128):
    return np.concatenate([b.calls() for b in sd.simulate_blocks(design, block_snps)], axis=1)


def test_bed_round_trip_through_bed_reader(sd, tmp_path):
    design = sd.make_design(tiny(sd))
    summary = sd.write_plink_set(design, tmp_path / "t", block_snps=100)
    want = dense_calls(sd, design)
    with open_bed(str(tmp_path / "t.bed"), count_A1=True, num_threads=1) as bed:
        got = bed.read(dtype="float64")
        assert list(bed.iid) == list(design.pedigree.iid)
        assert list(bed.sid) == design.layout.snp_ids()
        assert list(bed.allele_1) == list(design.layout.a1)
        bp, chrom = bed.bp_position, bed.chromosome.astype(int)
    np.testing.assert_array_equal(got, want)
    assert 0.02 < np.isnan(got).mean() < 0.09  # --missing 0.05 on average
    assert summary["n_missing_calls"] == int(np.isnan(got).sum())
    assert np.all(np.diff(chrom) >= 0) and np.all(np.diff(bp)[np.diff(chrom) == 0] > 0)
    assert (tmp_path / "t.json").exists()  # written last: the set is complete


def test_files_depend_on_the_seed_only(sd, tmp_path):
    files = ("bed", "bim", "fam", "pheno", "truth.tsv")
    sd.write_plink_set(sd.make_design(tiny(sd)), tmp_path / "a", block_snps=64)
    sd.write_plink_set(sd.make_design(tiny(sd)), tmp_path / "b", block_snps=1000)
    sd.write_plink_set(sd.make_design(tiny(sd, seed=6)), tmp_path / "c", block_snps=64)
    for ext in files:
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes(), ext
    assert (tmp_path / "a.bed").read_bytes() != (tmp_path / "c.bed").read_bytes()


def test_families_have_the_expected_relatedness(sd):
    design = sd.make_design(tiny(sd, n_samples=300, n_snps=4000, n_chromosomes=22, missing=0.0))
    G = dense_calls(sd, design, block_snps=1000)
    ped = design.pedigree
    po = sd.relationship_pairs(ped)["parent-offspring"]
    assert len(po) == 2 * 3 * (int(0.6 * 300) // 6)  # three children with two parents each
    assert not np.any(np.abs(G[po[:, 0]] - G[po[:, 1]]) == 2)  # Mendel: no opposite homozygotes
    keep = G.std(axis=0) > 0
    Z = (G[:, keep] - G[:, keep].mean(axis=0)) / G[:, keep].std(axis=0)
    K = Z @ Z.T / Z.shape[1]
    K /= K.diagonal().mean()
    classes = sd.relatedness_by_class(K, ped)
    for name, tol in RELATEDNESS_TOL.items():
        assert classes[name]["mean"] == pytest.approx(classes[name]["expected"], abs=tol), name
    for name in ("co-mothers", "unrelated, same population", "unrelated, other population"):
        assert abs(classes[name]["mean"]) < UNRELATED_TOL, name


def test_frequencies_and_ld_follow_the_model(sd):
    design = sd.make_design(tiny(sd, n_samples=400, n_snps=3000, n_chromosomes=2, missing=0.0))
    G = dense_calls(sd, design, block_snps=500)
    freq = G.mean(axis=0) / 2
    expected = design.expected_freq()
    assert np.mean(np.abs(freq - expected)) < FREQ_MEAN_ABS_TOL
    assert np.corrcoef(freq, expected)[0, 1] > 0.95
    r2 = sd.r2_by_distance(G.astype(np.float32), design.layout.chrom, lags=(1, 10, 100))
    assert r2["1"]["mean_r2"] > 0.15
    assert r2["1"]["mean_r2"] > r2["10"]["mean_r2"] > r2["100"]["mean_r2"]
    assert r2["100"]["mean_r2"] < 0.02


def test_phenotypes_hold_their_variance_shares(sd):
    cfg = tiny(sd, n_samples=200, n_snps=1500, n_causal=10, missing=0.0)
    design = sd.make_design(cfg)
    acc = sd.PhenotypeAccumulator(design)
    blocks = list(sd.simulate_blocks(design, 256))
    for block in blocks:
        acc.add(block)
    y, truth = acc.finish()
    assert y.shape == (200, cfg.n_pheno)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    G = np.concatenate([b.genotypes for b in blocks]).T.astype(float)
    for k in range(cfg.n_pheno):
        rows = [t for t in truth if t["PHENO"] == f"pheno{k + 1}"]
        idx = design.effects.causal[k]
        g = G[:, idx] @ np.array([t["BETA"] for t in rows])
        assert np.var(g) == pytest.approx(cfg.h2_causal, rel=1e-9)  # BETA per A1 copy, exact
        ids = design.layout.snp_ids()
        assert [t["SNP"] for t in rows] == [ids[j] for j in idx]
