"""Toy gene annotation for `lmmlasso gene-test`: ``python data/toy/make_genes.py``.

Writes ``toy.genes.tsv`` (``CHR START END GENE``, bp 1-based inclusive, a header): along each
chromosome of toy.bim, genes of GENE_BP base pairs every STEP_BP, starting at the first SNP,
named G0001, G0002, ... in genome order. Deterministic: no randomness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GENE_BP = 30_000
STEP_BP = 60_000
HERE = Path(__file__).resolve().parent


def main() -> None:
    bim = np.loadtxt(HERE / "toy.bim", dtype=str)
    chrom, bp = bim[:, 0], bim[:, 3].astype(np.int64)
    rows = []
    for c in dict.fromkeys(chrom):
        pos = bp[chrom == c]
        for start in range(int(pos.min()), int(pos.max()) + 1, STEP_BP):
            rows.append((c, start, start + GENE_BP - 1))
    lines = ["CHR\tSTART\tEND\tGENE"]
    lines += [f"{c}\t{a}\t{b}\tG{k + 1:04d}" for k, (c, a, b) in enumerate(rows)]
    (HERE / "toy.genes.tsv").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'toy.genes.tsv'}: {len(rows)} genes")


if __name__ == "__main__":
    main()
