"""`lmmlasso cluster`: multi-trait clustering of shrunk effects by a variational DP mixture."""

import click

from lmmlasso_cli.cli.options import RUN, csv_list, options
from lmmlasso_cli.cli.runner import run_command

MODEL = [
    click.option(
        "--shrink",
        "shrink_paths",
        multiple=True,
        metavar="FILE",
        help="PREFIX.shrink.tsv of one trait; repeat it, or list the files after it "
        "(`--shrink a.shrink.tsv b.shrink.tsv`). Variants are matched by ID and A1.",
    ),
    click.option(
        "--names",
        callback=csv_list,
        metavar="NAME[,NAME...]",
        help="Trait names, one per file  [default: the file names without .shrink.tsv]",
    ),
    click.option(
        "--column",
        default="BETA_SHRUNK_STD",
        show_default=True,
        help="Effect column of the shrink files.",
    ),
    click.option(
        "--max-components",
        type=click.IntRange(1),
        default=20,
        show_default=True,
        help="Truncation K of the Dirichlet-process mixture.",
    ),
    click.option(
        "--concentration",
        type=click.FloatRange(0, min_open=True),
        default=0.5,
        show_default=True,
        help="DP concentration α of the stick-breaking prior Beta(1, α).",
    ),
    click.option(
        "--restarts",
        type=click.IntRange(1),
        default=25,
        show_default=True,
        help="Seeded VI runs; K = the most frequent number of components, then least BIC.",
    ),
    click.option(
        "--tol",
        type=click.FloatRange(0, min_open=True),
        default=1e-3,
        show_default=True,
        help="Stop a run when the ELBO changes by less than this.",
    ),
    click.option(
        "--max-iter",
        type=click.IntRange(1),
        default=1000,
        show_default=True,
        help="Coordinate-ascent sweeps per run at most.",
    ),
    click.option(
        "--zero-cutoff",
        type=click.FloatRange(0, min_open=True),
        help="Set aside variants with every |effect| ≤ this  [default: the adaptive ML-MAGES "
        "rule: 1e-3/1e-4/1e-5 by size, halved or doubled until 1000 to N/5 variants remain]",
    ),
    click.option(
        "--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the runs."
    ),
]

LABELS = [
    click.option(
        "--specific-ratio",
        type=click.FloatRange(1),
        default=2.0,
        show_default=True,
        help="Eigenvalue ratio λ1/λ2 above which a component has one principal axis.",
    ),
    click.option(
        "--shared-ratio",
        type=click.FloatRange(1),
        default=1.5,
        show_default=True,
        help="Ratio below which the next axis counts too (between the two: ambiguous).",
    ),
    click.option(
        "--angle-tol",
        type=click.FloatRange(0, 90),
        default=15.0,
        show_default=True,
        help="Degrees: a trait whose variance share in the principal axes is below "
        "sin²(angle) is not loaded on.",
    ),
    click.option(
        "--null-sd-factor",
        type=click.FloatRange(0),
        default=2.0,
        show_default=True,
        help="A component whose largest sd is ≤ this × the zero cut-off is `none`.",
    ),
    click.option("--plot", is_flag=True, help="Also write PREFIX.clusters.png (needs matplotlib)."),
]


@click.command("cluster", short_help="ML-MAGES: cluster shrunk effects across traits.")
@options(MODEL, LABELS)
@click.argument("more_paths", nargs=-1, metavar="[FILE]...")
@options(RUN)
@run_command
def cluster(log, **kw):
    """Cluster the variants' shrunk effect vectors across traits (ML-MAGES).

    Model, on the effects x_j ∈ R^T scaled by s = 1/mean_t sd_t: x_j | z_j = k ~ N(0, Λ_k⁻¹),
    weights π by stick-breaking v_k ~ Beta(1, --concentration) truncated at K =
    --max-components, precisions Λ_k ~ Wishart(ν₀ = max(5, T), I) (ML-MAGES: ν₀ = 5), fitted
    by coordinate-ascent variational inference (the ELBO with log-determinants, never
    decreasing) until it changes by less than --tol. Variants whose every |effect| is below the zero
    cut-off are set aside (type `none`). Components holding 99% of the weight are kept; each
    variant gets its most probable component (PROB). A component's TYPE comes from its
    covariance: one principal axis when λ1/λ2 > --specific-ratio, more while the next ratio is
    below --shared-ratio; the traits whose share of the principal variance exceeds
    sin²(--angle-tol) make it `specific:T` (one trait) or `shared:T1+T2...`; `ambiguous` when
    λ1/λ2 lies between the two ratios; `none` for a near-zero component. For 2 traits this is
    the original rule (ratio > 2 and within 15° of an axis: specific; ratio < 1.5: shared).

    Writes PREFIX.clusters.tsv (#CHROM POS ID A1, one effect column per trait, CLUSTER PROB
    TYPE; CLUSTER 0 = set aside) and PREFIX.components.tsv (CLUSTER WEIGHT N_VARIANTS TYPE and
    the covariance entries COV_<a>_<b> on the scale of the effects). --threads N runs restarts
    in N processes; results do not depend on N.
    """
    import warnings

    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.errors import ConvergenceWarning, InputError
    from lmmlasso_cli.io.cluster_file import read_shrink_files, write_clusters, write_components
    from lmmlasso_cli.mlmages.labels import label_components, null_components
    from lmmlasso_cli.mlmages.mixture import fit_mixture
    from lmmlasso_cli.parallel import process_map

    paths = list(kw["shrink_paths"]) + list(kw["more_paths"])
    if not paths:
        raise InputError("give the shrink files: --shrink a.shrink.tsv [b.shrink.tsv ...]")
    matched = read_shrink_files(paths, kw["column"], kw["names"])
    for k, path in enumerate(matched.paths):
        log.info(
            f"{matched.trait_names[k]}: {path}: {matched.n_rows[k]} rows, {matched.n_missing[k]} "
            f"without {kw['column']}, {matched.n_flipped[k]} with A1/A2 swapped (sign flipped), "
            f"{matched.n_allele_mismatch[k]} with other alleles (dropped)"
        )
    log.info(f"{matched.n_variants} variants in every file, {len(paths)} trait(s)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        with process_map(kw["restarts"], kw["threads"]) as map_fn:
            with progress_bar(kw["restarts"], "VI restarts", kw["quiet"], unit="run") as bar:

                def counting_map(fn, items):
                    for result in map_fn(fn, items):
                        bar.update(1)
                        yield result

                try:
                    fit = fit_mixture(
                        matched.effects,
                        max_components=kw["max_components"],
                        concentration=kw["concentration"],
                        restarts=kw["restarts"],
                        seed=kw["seed"],
                        tol=kw["tol"],
                        max_iter=kw["max_iter"],
                        zero_cutoff=kw["zero_cutoff"],
                        map_fn=counting_map,
                    )
                except ValueError as exc:
                    raise InputError(f"{paths[0]}: {exc}") from None
    for w in caught:
        log.warning(str(w.message))
    null = null_components(fit.covariances, fit.zero_cutoff, kw["null_sd_factor"])
    try:
        types = label_components(
            fit.covariances,
            matched.trait_names,
            null_mask=null,
            specific_ratio=kw["specific_ratio"],
            shared_ratio=kw["shared_ratio"],
            angle_tol_deg=kw["angle_tol"],
        )
    except ValueError as exc:
        raise InputError(f"--names/--specific-ratio/--shared-ratio: {exc}") from None
    n_kept = int(fit.kept.sum())
    log.info(
        f"zero cut-off {fit.zero_cutoff:.3g}: {matched.n_variants - n_kept} variants set aside, "
        f"{n_kept} clustered; K = {fit.n_components} (restart {fit.chosen_run}, BIC "
        f"{fit.bic:.6g}; components per restart: {sorted(fit.run_n_components.tolist())})"
    )
    for k in range(fit.n_components):
        log.info(
            f"  cluster {k + 1}: weight {fit.weights[k]:.4f}, {int(fit.counts[k])} variants, "
            f"{types.types[k]}"
        )
    prefix = kw["out"]
    header = [
        f"traits={','.join(matched.trait_names)}",
        f"column={kw['column']} zero_cutoff={fit.zero_cutoff:.6g} seed={kw['seed']} "
        f"restarts={kw['restarts']} max_components={kw['max_components']}",
    ]
    write_clusters(prefix + ".clusters.tsv", matched, fit, types, header)
    write_components(prefix + ".components.tsv", fit, types, matched.trait_names, header)
    log.info(f"wrote {prefix}.clusters.tsv and {prefix}.components.tsv")
    if kw["plot"]:
        from lmmlasso_cli.io.plots import plot_clusters

        labels = types.of_variants(fit.labels)
        plot_clusters(prefix + ".clusters.png", matched.effects, labels, matched.trait_names)
        log.info(f"wrote {prefix}.clusters.png")
