"""``PREFIX.gwas.tsv[.gz]`` of `gwas`: PLINK 2 ``.glm.linear`` columns.

``#CHROM POS ID REF ALT A1 OBS_CT BETA SE T_STAT P`` (REF = .bim A2, ALT = A1 = .bim A1, the
counted allele; BETA and SE per copy of A1), plus ``LOG_DELTA`` with ``--exact``.
"""

from __future__ import annotations

import os

import pandas as pd

from lmmlasso_cli.io.artifacts import write_tsv


def write_gwas(path: str, plink, assoc, header_lines: list[str] = ()) -> None:
    """Write a `gwas.Association` with the SNP identities from the .bim (gzip if ``.gz``);
    job-array parts start with ``## part=K/N`` and ``## job=...`` lines."""
    pos = assoc.snp_index
    frame = pd.DataFrame(
        {
            "#CHROM": plink.chrom[pos],
            "POS": plink.bp[pos],
            "ID": plink.snp[pos],
            "REF": plink.a2[pos],
            "ALT": plink.a1[pos],
            "A1": plink.a1[pos],
            "OBS_CT": assoc.n_samples,
            "BETA": assoc.beta,
            "SE": assoc.se,
            "T_STAT": assoc.t_stat,
            "P": assoc.p_value,
        }
    )
    if assoc.method == "exact":
        frame["LOG_DELTA"] = assoc.log_delta
    write_tsv(path, frame, header_lines, float_format="%.6g")


def check_gwas_parts(paths: list[str]) -> list[str]:
    """The part files in order 1..N, after checking (from their ``## part=K/N`` and ``## job=``
    lines) that they are parts of one job, each exactly once."""
    from lmmlasso_cli.errors import ArtifactError
    from lmmlasso_cli.io.artifacts import read_header

    seen = {}
    first = None
    for path in paths:
        if not os.path.exists(path):
            raise ArtifactError(f"{path}: file not found")
        header = read_header(path)
        if "part" not in header or "job" not in header:
            raise ArtifactError(f"{path}: not a part of `lmmlasso gwas --part K/N` (no ## part=)")
        k, n = (int(v) for v in header["part"].split("/"))
        if first is None:
            first = (path, n, header["job"])
        elif (n, header["job"]) != first[1:]:
            raise ArtifactError(
                f"{path}: cannot be concatenated with {first[0]}: part {k}/{n} of another job "
                f"(other data, phenotype, kinship or parameters); run every part with the same "
                f"options and N"
            )
        if k in seen:
            raise ArtifactError(f"{path}: part {k}/{n} is also {seen[k]}")
        seen[k] = path
    missing = sorted(set(range(1, first[1] + 1)) - set(seen))
    if missing:
        raise ArtifactError(
            f"parts {', '.join(map(str, missing))} of {first[1]} are missing; run "
            f"`lmmlasso gwas --part K/{first[1]}` for them and merge all {first[1]}"
        )
    return [seen[k] for k in sorted(seen)]


def concatenate_gwas_parts(paths: list[str], out: str) -> int:
    """Write the rows of the parts (in the order given) under one column header, without the
    ``##`` lines: the file a single run writes. Returns the number of SNP rows."""
    import gzip

    from lmmlasso_cli.io.artifacts import atomic_path

    n_rows = 0
    with atomic_path(out) as tmp:
        opener = gzip.open if out.endswith(".gz") else open
        with opener(tmp, "wt") as sink:
            for i, path in enumerate(paths):
                source = gzip.open(path, "rt") if path.endswith(".gz") else open(path)  # noqa: SIM115
                with source:
                    lines = (line for line in source if not line.startswith("##"))
                    column_header = next(lines)
                    if i == 0:
                        sink.write(column_header)
                    for line in lines:
                        sink.write(line)
                        n_rows += 1
    return n_rows
