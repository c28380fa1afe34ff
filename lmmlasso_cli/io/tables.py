"""Phenotype and covariate tables: whitespace-separated, ``FID IID`` first.

A header is detected when the first two fields are ``FID IID`` (case-insensitive, an optional
leading ``#``). Missing values are ``NA``, ``-9`` and empty fields (tab-separated files may have
empty fields; other whitespace cannot express them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.errors import InputError

MISSING = {"NA", "-9", "", "na", "nan", "NaN", "."}


@dataclass(frozen=True)
class Table:
    """A numeric sample table: one row per individual, NaN for missing values."""

    path: str
    fid: np.ndarray  # (n_rows,) str
    iid: np.ndarray  # (n_rows,) str
    names: list[str]  # column names (``V3``, ``V4``... without a header)
    values: np.ndarray  # (n_rows, n_columns) float64
    has_header: bool


def _fields(line: str) -> list[str]:
    line = line.rstrip("\r\n")
    return line.split("\t") if "\t" in line else line.split()


def _parse(value: str, path: str, line_no: int, column: str) -> float:
    value = value.strip()
    if value in MISSING:
        return np.nan
    try:
        number = float(value)
    except ValueError:
        raise InputError(
            f"{path}: line {line_no}, column {column}: non-numeric value {value!r}; "
            f"use NA or -9 for missing values and recode categories as numbers"
        ) from None
    if not np.isfinite(number):
        raise InputError(
            f"{path}: line {line_no}, column {column}: infinite value {value!r}; fix the value "
            f"or write NA for a missing one"
        )
    return number


def read_table(path: str, kind: str = "phenotype") -> Table:
    """Read a phenotype or covariate table (``kind`` only words the error messages)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: {kind} file not found")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a {kind} file; give the file")
    with open(path) as handle:
        lines = [(i + 1, _fields(line)) for i, line in enumerate(handle) if line.strip()]
    if not lines:
        raise InputError(f"{path}: the {kind} file is empty")
    first = [f.lstrip("#").upper() for f in lines[0][1][:2]]
    has_header = first == ["FID", "IID"]
    if has_header:
        names = lines[0][1][2:]
        lines = lines[1:]
    else:
        names = [f"V{j + 3}" for j in range(len(lines[0][1]) - 2)]
    width = len(names) + 2
    if width < 3:
        raise InputError(f"{path}: the {kind} file needs FID, IID and at least one value column")
    for line_no, fields in lines:
        if len(fields) != width:
            raise InputError(
                f"{path}: line {line_no} has {len(fields)} fields but the {kind} file has "
                f"{width} columns; every line needs FID IID and one value per column"
            )
    fid = np.array([f[0] for _, f in lines], dtype=str)
    iid = np.array([f[1] for _, f in lines], dtype=str)
    values = np.empty((len(lines), len(names)))
    for r, (line_no, fields) in enumerate(lines):
        for c, name in enumerate(names):
            values[r, c] = _parse(fields[c + 2], path, line_no, name)
    seen: set = set()
    for f, i in zip(fid, iid, strict=True):
        if (f, i) in seen:
            raise InputError(
                f"{path}: individual (FID {f}, IID {i}) appears twice; keep one row per individual"
            )
        seen.add((f, i))
    return Table(path, fid, iid, list(names), values, has_header)


def select_columns(
    table: Table, names: list[str] | None, numbers: list[int] | None, what: str
) -> tuple[list[str], np.ndarray]:
    """Pick columns by name (needs a header) or by 1-based number after FID IID."""
    if names:
        if not table.has_header:
            raise InputError(
                f"{table.path}: --{what}-name needs a header line starting with FID IID; "
                f"add one or select columns with --m{what}"
            )
        missing = [n for n in names if n not in table.names]
        if missing:
            raise InputError(
                f"{table.path}: no column named {missing[0]!r}; available: {', '.join(table.names)}"
            )
        idx = [table.names.index(n) for n in names]
    elif numbers:
        bad = [k for k in numbers if not 1 <= k <= len(table.names)]
        if bad:
            raise InputError(
                f"{table.path}: --m{what} {bad[0]} is out of range; the file has "
                f"{len(table.names)} value columns after FID IID"
            )
        idx = [k - 1 for k in numbers]
    else:
        idx = list(range(len(table.names)))
    return [table.names[i] for i in idx], table.values[:, idx]
