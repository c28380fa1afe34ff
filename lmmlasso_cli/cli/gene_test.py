"""`lmmlasso gene-test`: gene-level tests of shrunk effects against their LD-only null."""

from __future__ import annotations

import click

from lmmlasso_cli.cli.options import BFILE, BLOCK_SIZE, RUN, SAMPLES, options
from lmmlasso_cli.cli.runner import run_command

INPUT = [
    click.option(
        "--shrink",
        "shrink_path",
        metavar="FILE",
        help="PREFIX.shrink.tsv of one trait (its BETA_SHRUNK_STD column).",
    ),
    click.option(
        "--clusters",
        "clusters_path",
        metavar="FILE",
        help="PREFIX.clusters.tsv of `lmmlasso cluster`: a test per trait and the genes' "
        "cluster make-up (reads PREFIX.components.tsv beside it).",
    ),
    click.option(
        "--genes",
        "genes_path",
        required=True,
        metavar="FILE",
        help="Genes: CHR START END GENE with a header (bp, 1-based inclusive), or a 4-column "
        "BED (chr start end name; 0-based half-open).",
    ),
    click.option(
        "--window-bp",
        type=click.IntRange(0),
        default=0,
        show_default=True,
        help="Flank added on both sides of each gene.",
    ),
    click.option(
        "--min-snps",
        type=click.IntRange(1),
        default=2,
        show_default=True,
        help="Genes with fewer variants in their window are not tested (and counted).",
    ),
    click.option(
        "--epsilon",
        type=click.FloatRange(0, min_open=True),
        help="ε of the null (variance per standardized effect)  [default: from the mixture, "
        "by --epsilon-rule]",
    ),
    click.option(
        "--epsilon-rule",
        type=click.Choice(["smallest-nonnull", "original"]),
        default="smallest-nonnull",
        show_default=True,
        help="ε of trait t: the smallest variance Σ_k[t,t] among the components that load on t "
        "(not `none`; with --clusters, typed with t); original = ML-MAGES: the second-widest "
        "component, the third when the widest weighs ≤ 1%.",
    ),
    click.option(
        "--pvalue",
        type=click.Choice(["liu", "imhof", "exact"]),
        default="liu",
        show_default=True,
        help="liu = moment matching (fast); imhof = Imhof's integral (to ~1e-11 absolute); "
        "exact = numerical inversion along the saddlepoint contour (relative accuracy, "
        "trustworthy for tiny P).",
    ),
    click.option(
        "--restarts",
        type=click.IntRange(1),
        default=25,
        show_default=True,
        help="With --shrink and no --epsilon: restarts of the 1-trait mixture that gives ε.",
    ),
    click.option(
        "--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of that fit."
    ),
    click.option("--plot", is_flag=True, help="Also write PREFIX.genes.png, a gene Manhattan."),
]


@click.command("gene-test", short_help="ML-MAGES: which genes carry more signal than LD explains.")
@options(BFILE, INPUT, SAMPLES, [BLOCK_SIZE], RUN)
@run_command
def gene_test(log, **kw):
    """Test each gene's shrunk effects against the null of LD alone (ML-MAGES).

    For gene g with variants j in [START − --window-bp, END + --window-bp]: Q = Σ_j β̃_j² of
    the shrunk standardized effects. Under the null β̃ ~ N(0, ε R_g), R_g the in-sample LD
    (correlation) of the gene's variants in --bfile, Q ~ Σ_k λ_k χ²₁ with λ the eigenvalues of
    ε R_g. ε is --epsilon, or from the mixture (per trait). P = Pr(Q' ≥ Q) by --pvalue; Q is
    the Benjamini–Hochberg q-value over the tested genes, per trait. With --clusters, every
    trait is tested and each gene gets the fraction of its variants in each association type
    (FRAC_<type>) and the sum of |β̃| over each type's traits (ABS_SUM_<type>,
    ABS_SUM_SPECIFIC, ABS_SUM_SHARED). Writes PREFIX.genes.tsv: GENE CHR START END N_SNPS STAT
    EPSILON P Q (suffixed _<trait> for several traits) and those columns. --pvalue exact is a
    numerical inversion of the characteristic function (as Davies' method is), integrated along
    the saddlepoint contour so that its error is relative: P down to 1e-100 and below.
    """
    import os
    import warnings

    import numpy as np

    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.errors import ConvergenceWarning, InputError
    from lmmlasso_cli.io.cluster_file import read_components, write_genes
    from lmmlasso_cli.io.genes_file import normalize_chrom, read_genes
    from lmmlasso_cli.io.plink import GenotypeReader, plink_prefix, read_plink
    from lmmlasso_cli.mlmages.genetest import (
        gene_windows,
        mixture_epsilon,
        run_gene_tests,
        summarize_gene_clusters,
    )
    from lmmlasso_cli.mlmages.labels import traits_of_types

    given = [k for k in ("shrink_path", "clusters_path") if kw[k]]
    if len(given) != 1:
        raise InputError("give the effects with one of --shrink or --clusters")
    variants = _variants(kw)
    effects, names = variants["effects"], variants["names"]
    plink = read_plink(plink_prefix(kw["bfile"]), kw["genotype_format"])
    pos, n_absent = _bim_positions(plink, variants, kw[given[0]])
    keep = pos >= 0
    if n_absent:
        log.info(f"{n_absent} variants are not in {plink.bim_path} and are left out")
    chrom = normalize_chrom(variants["chrom"][keep])
    genes = read_genes(kw["genes_path"], chromosomes=np.unique(chrom))
    log.info(
        f"{genes.path}: {len(genes.gene)} genes ({genes.format} format); "
        f"{genes.n_other_chrom} on chromosomes without variants left out"
    )
    win = gene_windows(
        genes.gene,
        genes.chrom,
        genes.start,
        genes.end,
        chrom,
        variants["pos"][keep],
        kw["window_bp"],
        kw["min_snps"],
    )
    if win.n_genes == 0:
        raise InputError(
            f"{genes.path}: no gene has --min-snps {kw['min_snps']} variants in its window; "
            f"widen --window-bp or check the build and chromosome names"
        )
    log.info(
        f"{win.n_genes} genes tested; {win.n_too_few} with fewer than {kw['min_snps']} "
        f"variants (window ±{kw['window_bp']} bp)"
    )
    effects = effects[keep]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        epsilon = _epsilon(log, kw, variants, effects, names, mixture_epsilon, read_components)
    for w in caught:
        log.warning(str(w.message))
    samples = _reference_samples(kw, plink)
    with GenotypeReader(plink, samples, num_threads=kw["threads"]) as reader:
        ld_of = _ld_reader(reader, pos[keep])
        with progress_bar(win.n_genes, "genes", kw["quiet"], unit="gene") as bar:

            def counting_map(fn, items):
                for g in items:
                    yield fn(g)
                    bar.update(1)

            method = {"exact": "contour"}.get(kw["pvalue"], kw["pvalue"])
            tests = run_gene_tests(effects, win, ld_of, epsilon, method, names, counting_map)
    summary = None
    if kw["clusters_path"]:
        types = variants["types"][keep]
        summary = summarize_gene_clusters(
            win, effects, types, traits_of_types(set(types.tolist()), names)
        )
    out = kw["out"] + ".genes.tsv"
    header = [
        f"traits={','.join(names)} epsilon={','.join(f'{e:.6g}' for e in tests.epsilon)} "
        f"pvalue={kw['pvalue']} window_bp={kw['window_bp']} min_snps={kw['min_snps']}",
        f"source={os.path.basename(kw[given[0]])}",
    ]
    write_genes(out, win, tests, summary, header)
    for t, name in enumerate(names):
        q = tests.qvalue[:, t]
        n_sig = int(np.sum(q < 0.05))
        log.info(f"{name}: ε = {tests.epsilon[t]:.4g}; {n_sig} genes with q < 0.05")
        for g in np.argsort(np.where(np.isnan(tests.pvalue[:, t]), np.inf, tests.pvalue[:, t]))[:5]:
            log.info(
                f"  {win.gene[g]} chr{win.chrom[g]}:{win.start[g]}-{win.end[g]} "
                f"{win.n_snps[g]} SNPs Q={tests.stat[g, t]:.4g} P={tests.pvalue[g, t]:.3g} "
                f"q={q[g]:.3g}"
            )
    log.info(f"wrote {out}")
    if kw["plot"]:
        from lmmlasso_cli.io.plots import plot_manhattan

        mid = (win.start + win.end) // 2
        for t, name in enumerate(names):
            path = kw["out"] + (f".{name}" if len(names) > 1 else "") + ".genes.png"
            title = f"{name}: gene test ({kw['pvalue']}), {win.n_genes} genes"
            plot_manhattan(path, win.chrom, mid, tests.pvalue[:, t], title)
            log.info(f"wrote {path}")


def _variants(kw) -> dict:
    """Effects (n_variants, n_traits), names and identities from --shrink or --clusters."""
    import numpy as np

    from lmmlasso_cli.io.cluster_file import read_clusters, read_shrink_files

    if kw["shrink_path"]:
        m = read_shrink_files([kw["shrink_path"]])
        return {
            "effects": m.effects,
            "names": tuple(m.trait_names),
            "chrom": m.chrom,
            "pos": m.pos,
            "snp": m.snp_id,
            "a1": m.a1,
            "types": None,
        }
    cl = read_clusters(kw["clusters_path"])
    return {
        "effects": cl.effects,
        "names": tuple(cl.trait_names),
        "chrom": cl.chrom,
        "pos": np.asarray(cl.pos),
        "snp": cl.snp_id,
        "a1": cl.a1,
        "types": np.asarray(cl.types).astype(str),
    }


def _bim_positions(plink, variants, path):
    """.bim position of each variant by ID (−1 if absent); an A1 in neither allele is an error
    (LD eigenvalues do not depend on the orientation)."""
    import numpy as np

    from lmmlasso_cli.errors import InputError

    lookup = {s: i for i, s in enumerate(plink.snp)}
    pos = np.array([lookup.get(s, -1) for s in variants["snp"]], dtype=np.int64)
    found = pos >= 0
    if not found.any():
        raise InputError(
            f"{path}: none of its variants is in {plink.bim_path}; give the LD reference the "
            f"effects were shrunk with"
        )
    p = pos[found]
    a1 = variants["a1"][found]
    bad = (plink.a1[p] != a1) & (plink.a2[p] != a1)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{path}: {int(bad.sum())} variants have an A1 that is neither allele in "
            f"{plink.bim_path} (e.g. {variants['snp'][found][j]}); check the build and strand"
        )
    return pos, int((~found).sum())


def _reference_samples(kw, plink):
    from lmmlasso_cli.cli.options import data_options_from
    from lmmlasso_cli.io.dataset import load_dataset

    data = load_dataset(data_options_from(kw, need_pheno=False))
    return data.samples.fam_index


def _ld_reader(reader, positions):
    """ld_of(indices) -> the LD of those variants over the reference individuals, as `shrink`
    computes it (`mlmages.ld.block_ld` of the standardized genotypes, missing at the mean)."""
    import numpy as np

    from lmmlasso_cli.genotypes import snp_stats, standardize
    from lmmlasso_cli.mlmages.ld import block_ld

    def ld_of(indices):
        counts = reader.read(positions[np.asarray(indices)])
        stats = snp_stats(counts)
        return block_ld(standardize(counts, stats.means, stats.sds))

    return ld_of


def _epsilon(log, kw, variants, effects, names, mixture_epsilon, read_components):
    """ε per trait: --epsilon, the components beside --clusters, or a 1-trait mixture fit."""
    import numpy as np

    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.mlmages.mixture import fit_mixture

    if kw["epsilon"] is not None:
        return np.full(len(names), kw["epsilon"])
    if kw["clusters_path"]:
        path = kw["clusters_path"].removesuffix(".clusters.tsv") + ".components.tsv"
        comp = read_components(path)
        if tuple(comp.trait_names) != tuple(names):
            raise InputError(f"{path}: its traits {comp.trait_names} differ from {names}")
        from lmmlasso_cli.mlmages.labels import traits_of_types

        loads = traits_of_types(set(comp.types), names)
        eps = []
        for t in range(len(names)):
            null = np.array([t not in loads[k] for k in comp.types])
            eps.append(
                mixture_epsilon(
                    comp.covariances, comp.weights, t, kw["epsilon_rule"], null_mask=null
                )
            )
        pairs = zip(names, eps, strict=True)
        log.info(f"ε from {path}: " + ", ".join(f"{n} {e:.4g}" for n, e in pairs))
        return np.array(eps)
    from lmmlasso_cli.mlmages.labels import null_components

    fit = fit_mixture(effects, restarts=kw["restarts"], seed=kw["seed"])
    null = null_components(fit.covariances, fit.zero_cutoff)
    eps = mixture_epsilon(fit.covariances, fit.weights, 0, kw["epsilon_rule"], null_mask=null)
    variances = ", ".join(f"{v:.3g}" for v in np.sort(fit.covariances[:, 0, 0])[::-1])
    log.info(
        f"ε = {eps:.4g} from a 1-trait mixture of the shrunk effects ({fit.n_components} "
        f"components; component variances {variances})"
    )
    return np.array([eps])
