"""Gene tables for `gene-test`, in two formats, returned in 1-based inclusive coordinates.

- A table with a header naming ``CHR START END GENE`` (any order, case-insensitive, an
  optional leading ``#``; ``CHROM`` and ``NAME`` are accepted too), positions in bp, 1-based,
  both ends inclusive. Extra columns are ignored.
- A BED file (no header; ``track``, ``browser`` and ``#`` lines skipped): ``chrom start end
  name`` and optionally more columns, as exported from refGene or GENCODE, with the usual
  0-based half-open start, so [start, end) becomes [start + 1, end].

Fields are split on tabs, else on commas, else on whitespace. Chromosome names are normalised
by `normalize_chrom` (``chr`` prefix dropped, PLINK's 23/24/25/26 read as X/Y/XY/MT), so that
``chr1`` in the gene table meets ``1`` in a .bim file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.errors import InputError

_ALIASES = {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT"}
_COLUMN_NAMES = {
    "CHR": "CHR",
    "CHROM": "CHR",
    "CHROMOSOME": "CHR",
    "START": "START",
    "END": "END",
    "STOP": "END",
    "GENE": "GENE",
    "NAME": "GENE",
}


@dataclass(frozen=True)
class GeneTable:
    """Genes on the requested chromosomes, in file order, 1-based inclusive [start, end]."""

    path: str
    gene: np.ndarray  # (n_genes,) str
    chrom: np.ndarray  # (n_genes,) str, normalised
    start: np.ndarray  # (n_genes,) int64
    end: np.ndarray  # (n_genes,) int64
    format: str  # "table" or "bed"
    n_other_chrom: int  # genes dropped because their chromosome is not among the data's

    @property
    def n_genes(self) -> int:
        return len(self.gene)


def normalize_chrom(values) -> np.ndarray:
    """Canonical chromosome names: strip ``chr`` (any case), upper-case, 23→X, 24→Y, 25→XY,
    26→MT, M→MT; leading zeros dropped from numbers (``01`` → ``1``)."""
    out = []
    for value in np.asarray(values, dtype=str):
        name = value.strip()
        if name[:3].lower() == "chr":
            name = name[3:]
        name = name.upper()
        if name.isdigit():
            name = str(int(name))
        out.append(_ALIASES.get(name, name))
    return np.array(out, dtype=str)


def _split(line: str) -> list[str]:
    line = line.rstrip("\r\n")
    if "\t" in line:
        return [f.strip() for f in line.split("\t")]
    if "," in line:
        return [f.strip() for f in line.split(",")]
    return line.split()


def _int(value: str, path: str, line_no: int, column: str) -> int:
    try:
        return int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            as_float = np.nan
        if np.isfinite(as_float) and as_float == int(as_float):
            return int(as_float)
        raise InputError(
            f"{path}: line {line_no}: {column} is {value!r}, not a whole number of bp; "
            f"fix the gene table"
        ) from None


def _is_header(line: str) -> bool:
    """Two or more known column names (a BED line never has them as fields)."""
    fields = {f.upper() for f in _split(line.lstrip().lstrip("#"))}
    return len(fields & set(_COLUMN_NAMES)) >= 2


def read_genes(path: str, chromosomes=None) -> GeneTable:
    """Read a gene table (module docstring). With ``chromosomes`` (the data's chromosome names,
    normalised here), genes elsewhere are dropped and counted; it is an error if none is left."""
    if not os.path.exists(path):
        raise InputError(f"{path}: gene file not found")
    with open(path) as handle:
        lines = [(i + 1, line) for i, line in enumerate(handle) if line.strip()]
    lines = [(n, s) for n, s in lines if not s.lstrip().lower().startswith(("track", "browser"))]
    header, fmt = None, "bed"
    while lines and lines[0][1].lstrip().startswith("#"):
        if _is_header(lines[0][1]):
            break
        lines = lines[1:]  # a BED comment
    if lines and _is_header(lines[0][1]):
        header, fmt = [f.upper() for f in _split(lines[0][1].lstrip().lstrip("#"))], "table"
        lines = lines[1:]
    if not lines:
        raise InputError(f"{path}: the gene file has no gene lines")
    if header is not None:
        cols = {}
        for j, name in enumerate(header):
            key = _COLUMN_NAMES.get(name)
            if key and key not in cols:
                cols[key] = j
        absent = [c for c in ("CHR", "START", "END", "GENE") if c not in cols]
        if absent:
            raise InputError(
                f"{path}: the header lacks {', '.join(absent)}; a gene table needs the columns "
                f"CHR START END GENE (or use a 4-column BED file without a header)"
            )
        width = len(header)
        where = (cols["CHR"], cols["START"], cols["END"], cols["GENE"])
    else:
        width, where = 4, (0, 1, 2, 3)
    chrom, start, end, gene = [], [], [], []
    for line_no, line in lines:
        fields = _split(line)
        if len(fields) < width:
            what = f"{width} columns as its header" if header else "chrom start end name (BED)"
            raise InputError(
                f"{path}: line {line_no} has {len(fields)} fields but needs {what}; fix the line"
            )
        c, s, e, g = (fields[j] for j in where)
        s_bp = _int(s, path, line_no, "START")
        e_bp = _int(e, path, line_no, "END")
        if fmt == "bed":
            if s_bp < 0:
                raise InputError(f"{path}: line {line_no}: BED start {s_bp} is negative")
            if s_bp >= e_bp:
                raise InputError(
                    f"{path}: line {line_no}: BED start {s_bp} ≥ end {e_bp} (an empty "
                    f"interval); BED intervals are 0-based half-open, so end must exceed start"
                )
            s_bp += 1
        else:
            if s_bp < 1:
                raise InputError(
                    f"{path}: line {line_no}: START {s_bp} < 1 but a headed gene table is "
                    f"1-based; for 0-based starts use a BED file without a header"
                )
            if s_bp > e_bp:
                raise InputError(
                    f"{path}: line {line_no}: START {s_bp} > END {e_bp} for gene {g}; swap them "
                    f"or fix the coordinates"
                )
        if not c:
            raise InputError(f"{path}: line {line_no}: the chromosome field is empty")
        chrom.append(c)
        start.append(s_bp)
        end.append(e_bp)
        gene.append(g)
    chrom_arr = normalize_chrom(chrom)
    keep = np.ones(len(chrom_arr), dtype=bool)
    if chromosomes is not None:
        wanted = set(normalize_chrom(list(chromosomes)))
        keep = np.isin(chrom_arr, list(wanted))
        if not keep.any():
            seen = sorted(set(chrom_arr))
            raise InputError(
                f"{path}: no gene lies on the data's chromosomes ({', '.join(sorted(wanted))}); "
                f"the file has {', '.join(seen[:8])}{' …' if len(seen) > 8 else ''}. Check that "
                f"the gene table and the genotypes use the same chromosome names and build"
            )
    return GeneTable(
        path=path,
        gene=np.array(gene, dtype=str)[keep],
        chrom=chrom_arr[keep],
        start=np.array(start, dtype=np.int64)[keep],
        end=np.array(end, dtype=np.int64)[keep],
        format=fmt,
        n_other_chrom=int((~keep).sum()),
    )
