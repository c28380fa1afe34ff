"""Files of `cluster` and `gene-test`: shrink tables in, clusters/components/genes tables out.

- ``*.shrink.tsv`` (from `shrink`): ``#CHROM POS ID A1 A2 BLOCK BETA SE BETA_SHRUNK BETA_STD
  BETA_SHRUNK_STD``. Several are matched by ID (`read_shrink_files`): the first file fixes the
  variant order and the alleles; a variant with A1/A2 swapped in a later file has its effect
  negated; one with other alleles is dropped. The intersection is kept.
- ``PREFIX.clusters.tsv``: ``#CHROM POS ID A1``, one effect column per trait, ``CLUSTER`` (1…K,
  0 = set aside as near-zero), ``PROB`` (posterior of that cluster, NA if set aside), ``TYPE``.
- ``PREFIX.components.tsv``: ``CLUSTER WEIGHT N_VARIANTS TYPE`` and ``COV_<a>_<b>`` for each
  trait pair a ≤ b; the row ``CLUSTER 0`` counts the set-aside variants.
- ``PREFIX.genes.tsv``: ``GENE CHR START END N_SNPS STAT EPSILON P Q`` (one trait) or those
  statistics suffixed ``_<trait>`` per trait, then with clusters ``FRAC_<type>`` and
  ``ABS_SUM_<type>`` per type and ``ABS_SUM_SPECIFIC ABS_SUM_SHARED``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.artifacts import _n_comment_lines, read_tsv, write_tsv

SHRINK_ID_COLUMNS = ["#CHROM", "POS", "ID", "A1", "A2"]
DEFAULT_COLUMN = "BETA_SHRUNK_STD"


@dataclass(frozen=True)
class MatchedEffects:
    """Variants present in every shrink file, in the order of the first one."""

    paths: tuple[str, ...]
    trait_names: tuple[str, ...]
    column: str
    chrom: np.ndarray  # (n_variants,) str
    pos: np.ndarray  # (n_variants,) int64
    snp_id: np.ndarray  # (n_variants,) str
    a1: np.ndarray  # (n_variants,) str, counted allele of the first file
    a2: np.ndarray  # (n_variants,) str
    effects: np.ndarray  # (n_variants, n_traits), oriented to the first file's A1
    n_rows: tuple[int, ...]  # per file, rows read
    n_missing: tuple[int, ...]  # per file, rows dropped for NA in `column`
    n_flipped: tuple[int, ...]  # per file, matched variants with A1/A2 swapped (sign flipped)
    n_allele_mismatch: tuple[int, ...]  # per file, same ID but other alleles (dropped)

    @property
    def n_variants(self) -> int:
        return len(self.snp_id)


def trait_name_of(path: str) -> str:
    """``dir/LDL.shrink.tsv.gz`` → ``LDL``."""
    name = os.path.basename(path)
    for suffix in (".gz", ".tsv", ".shrink"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or "trait"


def _read_one_shrink(path: str, column: str) -> tuple[pd.DataFrame, int, int]:
    if not os.path.exists(path):
        raise InputError(f"{path}: shrink file not found")
    try:
        frame = read_tsv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise InputError(
            f"{path}: not a readable TSV ({exc}); re-create it with `shrink`"
        ) from None
    absent = [c for c in SHRINK_ID_COLUMNS + [column] if c not in frame.columns]
    if absent:
        raise InputError(
            f"{path}: lacks the column(s) {', '.join(absent)} (it has "
            f"{', '.join(map(str, frame.columns))}); pass a shrink.tsv written by `shrink`, "
            f"or choose another --column"
        )
    n_rows = len(frame)
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = frame[column].notna() & values.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{path}: {column} holds the non-numeric value {frame[column].iloc[row]!r} "
            f"(variant {frame['ID'].iloc[row]}); fix or re-create the file"
        )
    frame = frame.assign(**{column: values})
    missing = frame[column].isna().to_numpy()
    frame = frame.loc[~missing]
    ids = frame["ID"].astype(str)
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(
            f"{path}: {len(dup)} duplicated variant ID(s), e.g. {dup.iloc[0]}; variants are "
            f"matched by ID, so make IDs unique (plink2 --set-all-var-ids) and re-run `shrink`"
        )
    return frame, n_rows, int(missing.sum())


def read_shrink_files(paths, column: str = DEFAULT_COLUMN, trait_names=None) -> MatchedEffects:
    """Read one or more shrink tables and match them (module docstring). Trait names default
    to the file names without ``.shrink.tsv``; repeated names get ``_2``, ``_3``… ."""
    paths = tuple(str(p) for p in paths)
    if not paths:
        raise InputError("no shrink file given; pass at least one PREFIX.shrink.tsv")
    names = list(trait_names) if trait_names is not None else [trait_name_of(p) for p in paths]
    if len(names) != len(paths):
        raise InputError(f"{len(names)} trait names for {len(paths)} shrink files")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[i] = f"{name}_{seen[name]}"
    for path, name in zip(paths, names, strict=True):
        if "+" in name or ":" in name or any(ch.isspace() for ch in name):
            raise InputError(
                f"{path}: the trait name {name!r} contains '+', ':' or a space, which the cluster "
                f"types (shared:A+B) cannot carry; rename the file or pass other trait names"
            )
    frames, n_rows, n_missing = [], [], []
    for path in paths:
        frame, rows, miss = _read_one_shrink(path, column)
        frames.append(frame)
        n_rows.append(rows)
        n_missing.append(miss)
    ref = frames[0].reset_index(drop=True)
    ref_id = ref["ID"].astype(str).to_numpy()
    ref_a1 = ref["A1"].astype(str).to_numpy()
    ref_a2 = ref["A2"].astype(str).to_numpy()
    keep = np.ones(len(ref), dtype=bool)
    effects = np.empty((len(ref), len(paths)))
    effects[:, 0] = ref[column].to_numpy(dtype=np.float64)
    swapped_masks, n_mismatch = [np.zeros(len(ref), dtype=bool)], [0]
    for f, frame in enumerate(frames[1:], start=1):
        other = frame.set_index(frame["ID"].astype(str))
        present = np.isin(ref_id, other.index.to_numpy())
        rows = other.reindex(ref_id)
        a1 = rows["A1"].astype(str).to_numpy()
        a2 = rows["A2"].astype(str).to_numpy()
        same = present & (a1 == ref_a1) & (a2 == ref_a2)
        swapped = present & (a1 == ref_a2) & (a2 == ref_a1) & ~same
        mismatch = present & ~same & ~swapped
        values = rows[column].to_numpy(dtype=np.float64)
        effects[:, f] = np.where(swapped, -values, values)
        keep &= same | swapped
        swapped_masks.append(swapped)
        n_mismatch.append(int(mismatch.sum()))
    if not keep.any():
        raise InputError(
            f"no variant ID is shared by all of {', '.join(paths)} (with matching alleles); "
            f"the shrink files must come from the same variant set"
        )
    n_flipped = [int(np.sum(m & keep)) for m in swapped_masks]
    ref = ref.loc[keep]
    return MatchedEffects(
        paths=paths,
        trait_names=tuple(names),
        column=column,
        chrom=ref["#CHROM"].astype(str).to_numpy(),
        pos=ref["POS"].to_numpy(dtype=np.int64),
        snp_id=ref_id[keep],
        a1=ref_a1[keep],
        a2=ref_a2[keep],
        effects=effects[keep],
        n_rows=tuple(n_rows),
        n_missing=tuple(n_missing),
        n_flipped=tuple(n_flipped),
        n_allele_mismatch=tuple(n_mismatch),
    )


# ------------------------------------------------------------------------- clusters.tsv


def write_clusters(path: str, matched: MatchedEffects, fit, types, header_lines=()) -> None:
    """``fit`` is a `mixture.MixtureFit` on ``matched.effects``; ``types`` the
    `labels.ComponentTypes` of its components."""
    frame = pd.DataFrame(
        {"#CHROM": matched.chrom, "POS": matched.pos, "ID": matched.snp_id, "A1": matched.a1}
    )
    for t, name in enumerate(matched.trait_names):
        frame[name] = matched.effects[:, t]
    frame["CLUSTER"] = fit.labels + 1
    frame["PROB"] = fit.probabilities
    frame["TYPE"] = types.of_variants(fit.labels)
    lines = [
        f"column={matched.column}",
        f"zero_cutoff={fit.zero_cutoff:.10g}",
        f"n_components={fit.n_components}",
        "CLUSTER=0 marks variants set aside (every |effect| <= zero_cutoff)",
        *header_lines,
    ]
    write_tsv(path, frame, header_lines=lines)


def _cov_columns(trait_names) -> list[tuple[int, int, str]]:
    p = len(trait_names)
    return [(a, b, f"COV_{trait_names[a]}_{trait_names[b]}") for a in range(p) for b in range(a, p)]


def write_components(path: str, fit, types, trait_names, header_lines=()) -> None:
    """One row per component (1…K, widest first) plus ``CLUSTER 0`` for the set-aside variants."""
    counts = fit.counts
    rows = {
        "CLUSTER": np.arange(fit.n_components + 1),
        "WEIGHT": np.r_[np.nan, fit.weights],
        "N_VARIANTS": np.r_[int(np.sum(~fit.kept)), counts],
        "TYPE": ["none", *types.types],
    }
    for a, b, name in _cov_columns(trait_names):
        rows[name] = np.r_[np.nan, fit.covariances[:, a, b]]
    lines = [
        f"zero_cutoff={fit.zero_cutoff:.10g}",
        f"traits={','.join(trait_names)}",
        f"bic={fit.bic:.10g}",
        f"chosen_run={fit.chosen_run}",
        f"run_n_components={','.join(str(k) for k in fit.run_n_components)}",
        *header_lines,
    ]
    write_tsv(path, pd.DataFrame(rows), header_lines=lines, float_format="%.10g")


def _header_values(path: str) -> dict[str, str]:
    import gzip

    out = {}
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as handle:
        for _ in range(_n_comment_lines(path)):
            line = handle.readline()[2:].strip()
            if "=" in line:
                key, value = line.split("=", 1)
                out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Components:
    """A components.tsv read back (the ``CLUSTER 0`` row left out)."""

    path: str
    trait_names: tuple[str, ...]
    weights: np.ndarray  # (K,)
    n_variants: np.ndarray  # (K,)
    types: tuple[str, ...]  # (K,)
    covariances: np.ndarray  # (K, p, p)
    zero_cutoff: float
    n_set_aside: int


def read_components(path: str) -> Components:
    frame = read_tsv(path)
    meta = _header_values(path)
    needed = ["CLUSTER", "WEIGHT", "N_VARIANTS", "TYPE"]
    if any(c not in frame.columns for c in needed) or "traits" not in meta:
        raise InputError(
            f"{path}: not a components.tsv written by `lmmlasso cluster` (it needs the columns "
            f"{' '.join(needed)} and a ## traits= line); re-run `lmmlasso cluster`"
        )
    names = tuple(meta["traits"].split(","))
    absent = [name for _, _, name in _cov_columns(names) if name not in frame.columns]
    if absent:
        raise InputError(f"{path}: lacks {', '.join(absent)}; re-run `lmmlasso cluster`")
    set_aside = frame["CLUSTER"] == 0
    body = frame.loc[~set_aside].sort_values("CLUSTER")
    K, p = len(body), len(names)
    cov = np.empty((K, p, p))
    for a, b, name in _cov_columns(names):
        cov[:, a, b] = cov[:, b, a] = body[name].to_numpy(dtype=np.float64)
    return Components(
        path=path,
        trait_names=names,
        weights=body["WEIGHT"].to_numpy(dtype=np.float64),
        n_variants=body["N_VARIANTS"].to_numpy(dtype=np.int64),
        types=tuple(body["TYPE"].astype(str)),
        covariances=cov,
        zero_cutoff=float(meta.get("zero_cutoff", "nan")),
        n_set_aside=int(frame.loc[set_aside, "N_VARIANTS"].sum()),
    )


@dataclass(frozen=True)
class Clusters:
    """A clusters.tsv read back."""

    path: str
    trait_names: tuple[str, ...]
    chrom: np.ndarray
    pos: np.ndarray
    snp_id: np.ndarray
    a1: np.ndarray
    effects: np.ndarray  # (n_variants, n_traits)
    cluster: np.ndarray  # (n_variants,) 1…K, 0 = set aside
    prob: np.ndarray
    types: np.ndarray  # (n_variants,) str


def read_clusters(path: str) -> Clusters:
    frame = read_tsv(path)
    fixed = ["#CHROM", "POS", "ID", "A1"]
    tail = ["CLUSTER", "PROB", "TYPE"]
    cols = list(frame.columns)
    if cols[:4] != fixed or cols[-3:] != tail or len(cols) < 8:
        raise InputError(
            f"{path}: not a clusters.tsv written by `lmmlasso cluster` (expected "
            f"{' '.join(fixed)} <traits…> {' '.join(tail)}); re-run `lmmlasso cluster`"
        )
    names = tuple(cols[4:-3])
    return Clusters(
        path=path,
        trait_names=names,
        chrom=frame["#CHROM"].astype(str).to_numpy(),
        pos=frame["POS"].to_numpy(dtype=np.int64),
        snp_id=frame["ID"].astype(str).to_numpy(),
        a1=frame["A1"].astype(str).to_numpy(),
        effects=frame[list(names)].to_numpy(dtype=np.float64),
        cluster=frame["CLUSTER"].to_numpy(dtype=np.int64),
        prob=frame["PROB"].to_numpy(dtype=np.float64),
        types=frame["TYPE"].astype(str).to_numpy(),
    )


# ------------------------------------------------------------------------- genes.tsv


def genes_frame(windows, tests, summary=None) -> pd.DataFrame:
    """The genes.tsv table (module docstring) from `genetest.GeneWindows`, `GeneTests` and an
    optional `GeneClusterSummary`."""
    frame = pd.DataFrame(
        {
            "GENE": windows.gene,
            "CHR": windows.chrom,
            "START": windows.start,
            "END": windows.end,
            "N_SNPS": windows.n_snps,
        }
    )
    single = len(tests.trait_names) == 1
    for t, name in enumerate(tests.trait_names):
        suffix = "" if single else f"_{name}"
        frame["STAT" + suffix] = tests.stat[:, t]
        frame["EPSILON" + suffix] = tests.epsilon[t]
        frame["P" + suffix] = tests.pvalue[:, t]
        frame["Q" + suffix] = tests.qvalue[:, t]
    if summary is not None:
        for c, name in enumerate(summary.types):
            frame[f"FRAC_{name}"] = summary.fraction[:, c]
        for c, name in enumerate(summary.types):
            if name.startswith(("specific:", "shared:")):
                frame[f"ABS_SUM_{name}"] = summary.abs_sum[:, c]
        frame["ABS_SUM_SPECIFIC"] = summary.abs_sum_specific
        frame["ABS_SUM_SHARED"] = summary.abs_sum_shared
    return frame


def write_genes(path: str, windows, tests, summary=None, header_lines=()) -> None:
    lines = [
        f"method={tests.method}",
        f"window_bp={windows.window_bp}",
        f"min_snps={windows.min_snps}",
        *header_lines,
    ]
    write_tsv(path, genes_frame(windows, tests, summary), header_lines=lines, float_format="%.6g")
