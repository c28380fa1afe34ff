"""LD-block files: ours (``PREFIX.blocks.tsv``) and BED-like ``chr start stop`` files.

Ours: ``CHR START END FIRST_SNP LAST_SNP N_SNPS``, tab-separated, one block per line, START and
END the bp positions of the block's first and last SNP (1-based, inclusive).

BED-like (LDetect's ``fourier_ls-chr*.bed`` and the like): the first three fields are
chromosome (an optional ``chr`` prefix is dropped), start and stop, 0-based half-open as BED
is, so the block holds 1-based positions start + 1 … stop. An optional header line whose second
field is not a number is skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.artifacts import write_tsv
from lmmlasso_cli.io.plink import PlinkSet
from lmmlasso_cli.mlmages.ld import BlockPartition

BLOCK_COLUMNS = ["CHR", "START", "END", "FIRST_SNP", "LAST_SNP", "N_SNPS"]


@dataclass(frozen=True)
class BlockIntervals:
    """Block intervals in 1-based inclusive bp, as read from a file."""

    path: str
    chrom: np.ndarray  # (n_blocks,) str, without a ``chr`` prefix
    start: np.ndarray  # (n_blocks,) int64, first bp in the block
    end: np.ndarray  # (n_blocks,) int64, last bp in the block
    source: str  # "lmmlasso" or "bed"


def write_blocks(path: str, plink: PlinkSet, snp_index: np.ndarray, blocks: BlockPartition):
    """Write ``blocks`` of the analysed SNPs ``snp_index`` (.bim positions) as our TSV."""
    first = snp_index[blocks.starts]
    last = snp_index[blocks.stops - 1]
    frame = pd.DataFrame(
        {
            "CHR": plink.chrom[first],
            "START": plink.bp[first],
            "END": plink.bp[last],
            "FIRST_SNP": plink.snp[first],
            "LAST_SNP": plink.snp[last],
            "N_SNPS": blocks.sizes,
        }
    )
    write_tsv(path, frame)


def _strip_chr(values) -> np.ndarray:
    out = np.asarray(values, dtype=str)
    return np.array([v[3:] if v.lower().startswith("chr") else v for v in out], dtype=str)


def read_blocks(path: str) -> BlockIntervals:
    """Read our blocks TSV or a BED-like ``chr start stop`` file (module docstring)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: blocks file not found")
    with open(path) as handle:
        rows = [line.split() for line in handle if line.strip() and not line.startswith("##")]
    if not rows:
        raise InputError(f"{path}: the blocks file is empty")
    if rows[0][: len(BLOCK_COLUMNS)] == BLOCK_COLUMNS:
        body, source = rows[1:], "lmmlasso"
    else:
        body = rows[1:] if not rows[0][1].lstrip("-").isdigit() else rows
        source = "bed"
    short = [i for i, r in enumerate(body) if len(r) < 3]
    if short:
        raise InputError(
            f"{path}: line {short[0] + 1 + (len(rows) - len(body))} has fewer than 3 fields; "
            "a blocks file needs `chr start stop` (or CHR START END ... from `lmmlasso ld-blocks`)"
        )
    try:
        start = np.array([int(r[1]) for r in body], dtype=np.int64)
        end = np.array([int(r[2]) for r in body], dtype=np.int64)
    except ValueError:
        raise InputError(
            f"{path}: block start and end (columns 2 and 3) must be integer bp positions"
        ) from None
    if source == "bed":
        start = start + 1  # 0-based half-open [start, stop) -> 1-based inclusive
    bad = np.flatnonzero(end < start)
    if len(bad):
        raise InputError(
            f"{path}: block {bad[0] + 1} ends ({end[bad[0]]}) before it starts "
            f"({start[bad[0]]}); fix the file"
        )
    chrom = _strip_chr([r[0] for r in body])
    return BlockIntervals(path=path, chrom=chrom, start=start, end=end, source=source)


def blocks_for_snps(
    intervals: BlockIntervals, plink: PlinkSet, snp_index: np.ndarray
) -> tuple[BlockPartition, int]:
    """Blocks of the analysed SNPs ``snp_index`` (.bim positions) from file intervals; returns
    (partition, number of SNPs in no interval, each run of which became a block of its own)."""
    from lmmlasso_cli.mlmages.ld import partition_from_intervals

    try:
        return partition_from_intervals(
            _strip_chr(plink.chrom[snp_index]),
            plink.bp[snp_index],
            intervals.chrom,
            intervals.start,
            intervals.end,
        )
    except ValueError as exc:
        raise InputError(f"{plink.prefix}.bim: {exc}; sort the PLINK set first") from None
