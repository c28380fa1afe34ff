"""Data sets, genotype access and bookkeeping shared by bench/shrink.py and bench/mlmages.py.

Both benchmarks simulate on GEMMA's real genotypes: mouse HS1940 (1940 mice, strong LD and
relatedness) and HLC (427 people). The SNP sets are fixed here once:

- mouse: the 10,300 SNPs of chromosomes 1–19 with a known bp position (1926 of the 12,226 have
  POS -9 in the .bim; gene windows and block intervals need positions, so they are left out),
  written sorted by position to bench/work/data/mouse_hs1940_bp (the .bim is in cM order, and
  `--blocks` and gene windows need positions sorted within each chromosome);
- HLC: chromosomes 21 and 22 only (9278 SNPs), to keep the runs short (chromosome 1 alone,
  27,940 SNPs, took 120 s per `shrink --method enet` run).

Every lmmlasso command of the benchmarks gets the same SNP filter (``filters``), so the
simulated truth, the GWAS, the shrinkage and the gene tests see the same variants.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import _common
import numpy as np
from _common import DATA, git_head

# the lmmlasso of the venv that runs the bench (the package is installed editable there)
LMMLASSO = Path(sys.executable).parent / "lmmlasso"
THREADS = "2"


@dataclass(frozen=True)
class DataSet:
    name: str
    prefix: Path
    filters: tuple[str, ...]  # lmmlasso SNP filter options
    description: str


def _link_plink_set(name: str) -> Path:
    """GEMMA's example set in bench/work/data (unzipped copies in /work/data_real if present)."""
    DATA.mkdir(parents=True, exist_ok=True)
    unzipped = Path("/work/data_real")
    for ext in ("bed", "bim", "fam"):
        target = DATA / f"{name}.{ext}"
        if target.exists():
            continue
        if (unzipped / f"{name}.{ext}").exists():
            target.symlink_to(unzipped / f"{name}.{ext}")
        else:
            return _common.prepare_plink_set(name)
    return DATA / name


def datasets() -> list[DataSet]:
    mouse = _link_plink_set("mouse_hs1940")
    sorted_mouse = DATA / "mouse_hs1940_bp"
    bim = np.loadtxt(f"{mouse}.bim", dtype=str)
    keep = (bim[:, 3].astype(np.int64) > 0) & np.isin(bim[:, 0], [str(c) for c in range(1, 20)])
    if not Path(f"{sorted_mouse}.bed").exists():
        extract = DATA / "mouse_hs1940.with_bp.snps"
        extract.write_text("\n".join(bim[keep, 1]) + "\n")
        # plink 1.9 --make-bed sorts the variants by position (the .bim is in cM order)
        subprocess.run(
            [str(_common.PLINK19), "--bfile", str(mouse), "--extract", str(extract),
             "--make-bed", "--out", str(sorted_mouse), "--silent"],
            check=True,
        )  # fmt: skip
    hlc = _link_plink_set("HLC")
    return [
        DataSet(
            "mouse",
            sorted_mouse,
            (),
            f"mouse_hs1940, chromosomes 1–19, the {int(keep.sum())} of {len(bim)} SNPs with a "
            "bp position, sorted by position (plink1.9 --extract --make-bed)",
        ),
        DataSet("hlc", hlc, ("--chr", "21,22"), "HLC, chromosomes 21 and 22 only"),
    ]


@dataclass(frozen=True)
class Genotypes:
    """Standardized genotypes (mean 0, sd 1 with ddof 0, missing calls at the mean) of the
    SNPs that pass ``filters`` and are polymorphic, in .bim order."""

    snp: np.ndarray
    chrom: np.ndarray
    bp: np.ndarray
    a1: np.ndarray
    Z: np.ndarray  # (n_samples, n_snps) float64
    fid: np.ndarray
    iid: np.ndarray


def load_genotypes(ds: DataSet) -> Genotypes:
    from bed_reader import open_bed

    bim = np.loadtxt(f"{ds.prefix}.bim", dtype=str)
    fam = np.loadtxt(f"{ds.prefix}.fam", dtype=str)
    if not ds.filters:
        keep = np.ones(len(bim), dtype=bool)
    elif ds.filters[0] == "--chr":
        keep = np.isin(bim[:, 0], ds.filters[1].split(","))
    else:
        raise ValueError(f"filters {ds.filters} not handled here")
    idx = np.flatnonzero(keep)
    with open_bed(f"{ds.prefix}.bed", count_A1=True, num_threads=2) as bed:
        G = bed.read(index=np.s_[:, idx], dtype="float64")
    means = np.nanmean(G, axis=0)
    G = np.where(np.isnan(G), means, G)
    sds = G.std(axis=0)
    poly = sds > 0
    Z = (G[:, poly] - means[poly]) / sds[poly]
    idx = idx[poly]
    return Genotypes(
        bim[idx, 1], bim[idx, 0], bim[idx, 3].astype(np.int64), bim[idx, 4], Z, fam[:, 0], fam[:, 1]
    )


def write_pheno(path: Path, geno: Genotypes, names: list[str], Y: np.ndarray) -> None:
    """FID IID then one column per phenotype (for --pheno)."""
    with open(path, "w") as out:
        out.write("FID\tIID\t" + "\t".join(names) + "\n")
        for i in range(len(geno.iid)):
            vals = "\t".join(f"{v:.8g}" for v in Y[i])
            out.write(f"{geno.fid[i]}\t{geno.iid[i]}\t{vals}\n")


def read_table(path: Path):
    """A TSV of lmmlasso: leading ``##`` lines skipped, then the column line (``#CHROM`` kept
    as the name of the first column)."""
    import pandas as pd

    with open(path) as handle:
        skip = 0
        for line in handle:
            if not line.startswith("##"):
                break
            skip += 1
    return pd.read_csv(path, sep="\t", skiprows=skip)


read_shrink = read_table


def lmm(*args) -> list[str]:
    return [str(LMMLASSO), *map(str, args), "--threads", THREADS, "--quiet"]


def wait_for_other_benchmarks(pattern: str = "bench/distributed.py", poll: float = 30.0) -> None:
    """Only one benchmark runs on this machine at a time: wait while ``pattern`` runs."""
    import time

    while subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0:
        print(f"waiting for {pattern} to finish", file=sys.stderr)
        time.sleep(poll)


def machine() -> dict:
    _common.LMMLASSO = LMMLASSO
    facts = _common.machine()
    import numpy
    import sklearn

    facts["numpy"] = numpy.__version__
    facts["sklearn"] = sklearn.__version__
    facts["lmmlasso_source"] = git_head()
    return facts


def timing(r: _common.Run) -> dict:
    return {
        "command": _common.show_command(r.argv),
        "seconds": round(r.seconds, 2),
        "cpu_seconds": round(r.cpu_seconds, 2),
        "max_rss_mb": round(r.max_rss_mb, 1),
    }
