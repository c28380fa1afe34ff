"""``PREFIX.eigenvec`` and ``PREFIX.eigenval`` in plink2's format.

eigenvec: a header ``#FID IID PC1 ... PCk`` then one tab-separated line per individual (the
eigenvectors of K, unit length); eigenval: one eigenvalue of K per line, largest first. The
eigenvec file is a covariate table as it is (``--covar PREFIX.eigenvec``).
"""

from __future__ import annotations

import pandas as pd

from lmmlasso_cli.io.artifacts import atomic_path, write_tsv


def write_pcs(prefix: str, fid, iid, pcs) -> None:
    frame = pd.DataFrame({"#FID": fid, "IID": iid})
    for k in range(pcs.vectors.shape[1]):
        frame[f"PC{k + 1}"] = pcs.vectors[:, k]
    write_tsv(prefix + ".eigenvec", frame, float_format="%.8g")
    with atomic_path(prefix + ".eigenval") as tmp, open(tmp, "w") as handle:
        handle.writelines(f"{v:.8g}\n" for v in pcs.values)
