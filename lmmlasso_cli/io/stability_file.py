"""``PREFIX.stability.npz`` / ``.stability.tsv``, merging shards, and data for worker processes.

The npz (kind "stability") holds the individuals (``fid``, ``iid``), the analysed SNPs
(``snp``, ``chrom``, ``bp``, ``a1``), the replicates run (``reps``), which SNPs each selected
(``selected_packed``: np.packbits of a (n_run, n_snps) boolean matrix along SNPs), and per
replicate ``mu``, ``n_active``, ``log_delta`` and ``converged``. Its metadata ``run`` entry fixes
what a run is: the data fingerprint (`data_fingerprint`), the seed, n_reps, the fraction, the
selection mode and every fitting setting. Shards merge only if their ``run`` entries are equal
and their replicates disjoint; the merged files are then those of a single run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmlasso_cli import __version__
from lmmlasso_cli.errors import ArtifactError
from lmmlasso_cli.io.artifacts import load_npz, provenance, save_npz, write_tsv
from lmmlasso_cli.selection.folds import subsample_size
from lmmlasso_cli.selection.stability import StabilityRuns, StabilitySummary

KIND = "stability"
REQUIRED = (
    "fid",
    "iid",
    "snp",
    "chrom",
    "bp",
    "a1",
    "reps",
    "selected_packed",
    "mu",
    "n_active",
    "log_delta",
    "converged",
)


@dataclass(frozen=True)
class SnpLabels:
    """The analysed SNPs as the TSV names them (arrays (n_snps,))."""

    chrom: np.ndarray
    snp: np.ndarray
    bp: np.ndarray
    a1: np.ndarray


@dataclass(frozen=True)
class StabilityShard:
    """A loaded ``.stability.npz``: a full run or a shard of one."""

    path: str
    run: dict  # what defines the run (compared when merging)
    fid: np.ndarray
    iid: np.ndarray
    snps: SnpLabels
    runs: StabilityRuns


def _hash_strings(h, values) -> None:
    h.update("\t".join(map(str, values)).encode())
    h.update(b"\n")


def _hash_array(h, values: np.ndarray) -> None:
    values = np.asarray(values, dtype=np.float64)
    h.update(repr(values.shape).encode())
    h.update(np.ascontiguousarray(values).data)


def data_fingerprint(fid, iid, snps: SnpLabels, data) -> str:
    """sha256 of the individuals, SNP IDs and alleles, standardized genotypes, raw phenotype,
    covariates and kinship that a run used."""
    h = hashlib.sha256()
    for values in (fid, iid, snps.snp, snps.a1):
        _hash_strings(h, values)
    X = data.X
    if hasattr(X, "codes"):  # compact genotypes: the codes of its rows and their values
        h.update(repr(X.shape).encode())
        rows = X.rows
        full = rows.size == X.codes.shape[0] and np.array_equal(rows, np.arange(rows.size))
        h.update(np.ascontiguousarray((X.codes if full else X.codes[rows]).T).data)
        _hash_array(h, X.lut)
    else:
        _hash_array(h, X)
    K = getattr(data.K, "factor", data.K)  # a LowRankKinship by its factor
    for values in (data.y_raw, data.covariates, K):
        _hash_array(h, values)
    return h.hexdigest()


def run_record(pheno: str, fid, iid, snps: SnpLabels, data, plan, covariate_names) -> dict:
    """What defines a run (the ``run`` metadata entry), as JSON gives it back: shards merge
    only if theirs are equal."""
    n_samples, n_snps = data.X.shape
    record = {
        "pheno": pheno,
        "fingerprint": data_fingerprint(fid, iid, snps, data),
        "seed": plan.seed,
        "n_reps": plan.n_reps,
        "fraction": plan.fraction,
        "mode": plan.mode.kind,
        "value": plan.mode.value,
        "settings": dataclasses.asdict(plan.settings),
        "covariate_names": list(covariate_names),
        "n_samples": n_samples,
        "n_subsample": subsample_size(n_samples, plan.fraction),
        "n_snps": n_snps,
    }
    return json.loads(json.dumps(record))


def save_stability(path: str, run: dict, params: dict, fid, iid, snps: SnpLabels, runs) -> None:
    meta = provenance("stability", params)
    meta["run"] = run
    save_npz(
        path,
        KIND,
        meta,
        {
            "fid": np.asarray(fid, dtype=str),
            "iid": np.asarray(iid, dtype=str),
            "snp": np.asarray(snps.snp, dtype=str),
            "chrom": np.asarray(snps.chrom, dtype=str),
            "bp": np.asarray(snps.bp, dtype=np.int64),
            "a1": np.asarray(snps.a1, dtype=str),
            "reps": runs.reps,
            "selected_packed": np.packbits(runs.selected, axis=1),
            "mu": runs.mu,
            "n_active": runs.n_active,
            "log_delta": runs.log_delta,
            "converged": runs.converged,
        },
    )


def load_stability(path: str) -> StabilityShard:
    art = load_npz(path, KIND, REQUIRED)
    run = art.meta.get("run")
    n_snps = len(art["snp"])
    n_run = len(art["reps"])
    packed = art["selected_packed"]
    if (
        not isinstance(run, dict)
        or packed.shape != (n_run, (n_snps + 7) // 8)
        or any(len(art[k]) != n_run for k in ("mu", "n_active", "log_delta", "converged"))
    ):
        raise ArtifactError(
            f"{path}: inconsistent stability artifact ({n_run} replicates, {n_snps} SNPs); "
            f"re-run `lmmlasso stability` for it"
        )
    runs = StabilityRuns(
        n_snps=n_snps,
        reps=art["reps"].astype(np.int64),
        selected=np.unpackbits(packed, axis=1, count=n_snps).astype(bool),
        mu=art["mu"],
        n_active=art["n_active"].astype(np.int64),
        log_delta=art["log_delta"],
        converged=art["converged"].astype(bool),
    )
    snps = SnpLabels(art["chrom"].astype(str), art["snp"].astype(str), art["bp"], art["a1"])
    return StabilityShard(path, run, art["fid"].astype(str), art["iid"].astype(str), snps, runs)


def check_mergeable(shards: Sequence[StabilityShard]) -> None:
    """Shards must come from one run (same data, seeds, parameters) with disjoint replicates."""
    first = shards[0]
    for shard in shards[1:]:
        differ = sorted(
            k for k in set(first.run) | set(shard.run) if first.run.get(k) != shard.run.get(k)
        )
        if differ:
            key = differ[0]
            raise ArtifactError(
                f"{shard.path}: cannot be merged with {first.path}: {key} differs "
                f"({shard.run.get(key)!r} vs {first.run.get(key)!r}; also: "
                f"{', '.join(differ[1:]) or 'nothing else'}); shards must be run on the same "
                f"data with the same --seed, --n-reps and parameters"
            )
        same_ids = np.array_equal(shard.iid, first.iid) and np.array_equal(
            shard.snps.snp, first.snps.snp
        )
        if not same_ids:
            raise ArtifactError(
                f"{shard.path}: its individuals or SNPs differ from {first.path}; shards must be "
                f"run on the same data"
            )
    owner: dict[int, str] = {}
    for shard in shards:
        for rep in shard.runs.reps.tolist():
            if rep in owner:
                raise ArtifactError(
                    f"{shard.path}: replicate {rep} is also in {owner[rep]}; give each replicate "
                    f"range (--reps A:B) once"
                )
            owner[rep] = shard.path


def rep_ranges(reps: np.ndarray) -> str:
    """Sorted replicate indices as ranges A:B (B excluded), e.g. '0:50,60:100'."""
    if len(reps) == 0:
        return ""
    breaks = np.flatnonzero(np.diff(reps) != 1)
    starts = np.concatenate([[reps[0]], reps[breaks + 1]])
    stops = np.concatenate([reps[breaks], [reps[-1]]]) + 1
    return ",".join(f"{a}:{b}" for a, b in zip(starts, stops, strict=True))


def header_lines(run: dict, runs: StabilityRuns, summary: StabilitySummary) -> list[str]:
    """The ``## `` lines of the TSV: the run, the bound, no timestamp."""
    settings = run["settings"]
    return [
        f"pheno={run['pheno']}",
        f"n_samples={run['n_samples']} subsample={run['n_subsample']} "
        f"(fraction {run['fraction']:g}, without replacement)",
        f"replicates={runs.n_run} of n_reps={run['n_reps']} (reps {rep_ranges(runs.reps)}) "
        f"seed={run['seed']}",
        f"mode={run['mode']} value={run['value']:g} l1_ratio={settings['lasso']['l1_ratio']:g} "
        f"transform={settings['transform']} null={'REML' if settings['null']['reml'] else 'ML'}",
        f"mean_selected_per_replicate={summary.mean_selected:.6g} n_snps={runs.n_snps}",
        f"threshold={summary.threshold:g} n_at_or_above={len(summary.stable)} "
        f"mb_bound_expected_false_selections={summary.bound:.6g} "
        f"(Meinshausen-Buhlmann: E[V] <= q^2/((2*threshold-1)*p))",
        f"fingerprint={run['fingerprint']}",
        f"lmmlasso-cli {__version__}",
    ]


def write_stability_table(
    path: str, snps: SnpLabels, run: dict, runs: StabilityRuns, summary: StabilitySummary
) -> None:
    """CHR SNP BP A1 FREQ, by decreasing FREQ, after the header lines."""
    order = summary.order
    table = pd.DataFrame(
        {
            "CHR": snps.chrom[order],
            "SNP": snps.snp[order],
            "BP": snps.bp[order],
            "A1": snps.a1[order],
            "FREQ": summary.frequencies[order],
        }
    )
    write_tsv(path, table, header_lines(run, runs, summary))
