"""``PREFIX.gwas.tsv[.gz]`` of `gwas`: PLINK 2 ``.glm.linear`` columns.

``#CHROM POS ID REF ALT A1 OBS_CT BETA SE T_STAT P`` (REF = .bim A2, ALT = A1 = .bim A1, the
counted allele; BETA and SE per copy of A1), plus ``LOG_DELTA`` with ``--exact``.
"""

from __future__ import annotations

import pandas as pd

from lmmlasso_cli.io.artifacts import write_tsv


def write_gwas(path: str, plink, assoc) -> None:
    """Write a `gwas.Association` with the SNP identities from the .bim (gzip if ``.gz``)."""
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
    write_tsv(path, frame, float_format="%.6g")
