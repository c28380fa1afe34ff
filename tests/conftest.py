"""Shared fixtures: a tiny PLINK set written by bed-reader, and the toy data paths."""

from pathlib import Path

import numpy as np
import pytest
from _reference import dense_kinship, dense_standardize

from lmmlasso_cli.selection.folds import TrainingData

TOY = Path(__file__).resolve().parents[1] / "data" / "toy"


def write_plink(prefix, G, fid=None, iid=None, chrom=None, snp=None, bp=None):
    from bed_reader import to_bed

    n, p = G.shape
    fid = fid if fid is not None else [f"F{i}" for i in range(n)]
    iid = iid if iid is not None else [f"I{i}" for i in range(n)]
    chrom = chrom if chrom is not None else [str(1 + j * 2 // p) for j in range(p)]
    props = {
        "fid": fid,
        "iid": iid,
        "father": ["0"] * n,
        "mother": ["0"] * n,
        "sex": [1] * n,
        "pheno": [-9] * n,
        "chromosome": chrom,
        "sid": snp if snp is not None else [f"rs{j}" for j in range(p)],
        "cm_position": [0.0] * p,
        "bp_position": bp if bp is not None else [1000 * (j + 1) for j in range(p)],
        "allele_1": ["A"] * p,
        "allele_2": ["G"] * p,
    }
    to_bed(str(prefix) + ".bed", np.asarray(G, dtype=np.float32), properties=props)


def simulate_genotypes(rng, n, p, missing=0.0):
    freqs = rng.uniform(0.05, 0.5, p)
    G = rng.binomial(2, freqs, size=(n, p)).astype(float)
    if missing:
        G[rng.random((n, p)) < missing] = np.nan
    return G


def write_table(path, fid, iid, columns: dict, header=True):
    with open(path, "w") as handle:
        if header:
            handle.write("FID IID " + " ".join(columns) + "\n")
        for r in range(len(iid)):
            vals = []
            for v in columns.values():
                x = v[r]
                vals.append("NA" if (isinstance(x, float) and np.isnan(x)) else str(x))
            handle.write(f"{fid[r]} {iid[r]} " + " ".join(vals) + "\n")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """60 individuals x 300 SNPs on 2 chromosomes, with a few missing calls, a monomorphic SNP,
    a phenotype table (q, q_na with NA, const) and covariates (age, sex)."""
    rng = np.random.default_rng(7)
    folder = tmp_path_factory.mktemp("tiny")
    n, p = 60, 300
    G = simulate_genotypes(rng, n, p, missing=0.01)
    G[:, 5] = 2.0  # monomorphic
    prefix = folder / "tiny"
    write_plink(prefix, G)
    fid = [f"F{i}" for i in range(n)]
    iid = [f"I{i}" for i in range(n)]
    q = G[:, 10] - np.nanmean(G[:, 10]) + rng.standard_normal(n)
    q[np.isnan(q)] = 0.3
    q_na = q.copy()
    q_na[::7] = np.nan
    write_table(folder / "tiny.pheno", fid, iid, {"q": q, "q_na": q_na, "const": np.ones(n)})
    write_table(
        folder / "tiny.covar",
        fid,
        iid,
        {"age": rng.uniform(20, 70, n).round(1), "sex": rng.integers(1, 3, n)},
    )
    return {
        "dir": folder,
        "prefix": str(prefix),
        "G": G,
        "fid": fid,
        "iid": iid,
        "pheno": str(folder / "tiny.pheno"),
        "covar": str(folder / "tiny.covar"),
    }


@pytest.fixture(scope="session")
def toy():
    if not (TOY / "toy.bed").exists():
        pytest.skip("data/toy not generated")
    return TOY


def simulate_data(n=120, p=300, causal=(3, 40, 77, 150, 222), effect=0.6, seed=1):
    """Standardized SNPs, a kinship from them, an intercept and a sex covariate, and a
    phenotype with a sparse truth (``causal``, standardized effects ``effect``), a polygenic
    part and noise. Returns (TrainingData, causal indices)."""
    rng = np.random.default_rng(seed)
    G = simulate_genotypes(rng, n, p)
    G[:, np.ptp(G, axis=0) == 0] = rng.binomial(2, 0.5, (n, 1))  # no monomorphic SNP
    X = np.asfortranarray(dense_standardize(G))
    K = dense_kinship(G)
    sex = rng.integers(0, 2, n).astype(float)
    C = np.column_stack([np.ones(n), sex])
    beta = np.zeros(p)
    causal = [j for j in causal if j < p]
    beta[causal] = effect * rng.choice([-1.0, 1.0], len(causal))
    poly = X @ rng.normal(0, 0.3 / np.sqrt(p), p)
    y = 5.0 + X @ beta + 0.3 * sex + poly + rng.standard_normal(n)
    return TrainingData(X, y, C, K), np.array(causal, dtype=int)
