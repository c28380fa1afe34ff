"""The section "Biobank scale (issue 10)" from bench/results/scale.json.

Renders what bench/scale.py measured; slot for notes: ``remarks`` (after the table of steps).
"""

from __future__ import annotations

from _render_markdown import commands_section, markdown_table

NONE = "–"
MIN_TREE_SAMPLES = 3  # a step shorter than this many samples has no meaningful tree peak


def _num(value, digits: int) -> str:
    return NONE if value is None else f"{value:.{digits}f}"


def _size(case: dict) -> str:
    return f"{case['n']:,} × {case['p']:,}"


def _gwas_step(result: dict) -> str:
    """How the run's gwas steps were called: with fit-null's file (`--null`) or not."""
    rows = [r for c in result["cases"] for r in c["rows"] if r["step"] == "gwas"]
    return "gwas `--null`" if rows and all("--null" in r["command"] for r in rows) else "gwas"


def blas_line(result: dict) -> str:
    """The BLAS kernels the steps ran, from their logs (bench/scale.py records them)."""
    libraries = {
        lib for c in result["cases"] for r in c["rows"] if r.get("blas")
        for lib in r["blas"].split(", ")
    }  # fmt: skip
    env = result["settings"].get("blas_env")
    if not libraries:
        return ""
    text = "BLAS: " + ", ".join(sorted(libraries))
    if env and env.get("mode") == "native":
        removed = [f"{k}={v}" for k, v in env["before"].items() if v is not None]
        if removed:
            text += " (the steps ran without this shell's " + ", ".join(removed) + ")"
    return text + "."


def steps_table(cases: list[dict]) -> str:
    rows = []
    for case in cases:
        for r in case["rows"]:
            if r["step"] == "generate":
                continue
            status = r["status"] if r["status"] != "skipped" else f"skipped: {r['reason']}"
            tree = (
                r.get("tree_peak_pss_gb") if r.get("tree_samples", 0) >= MIN_TREE_SAMPLES else None
            )
            kind = case["kind"] + (f", rank {case['rank']}" if case.get("rank") else "")
            rows.append([
                kind, r["step"], f"{case['n']:,}", f"{case['p']:,}", status,
                _num(r.get("wall_s"), 1), _num(r.get("cpu_s"), 1), _num(r.get("peak_rss_gb"), 2),
                _num(tree, 2), _num(r.get("estimated_peak_gb"), 2),
                _num(r.get("estimated_peak_gb_final"), 2),
                _num(r.get("final_estimate_over_measured"), 2),
            ])  # fmt: skip
    headers = ["case", "step", "n", "p", "status", "wall s", "CPU s", "peak RSS GB",
               "tree PSS GB", "logged estimate GB", "final plan GB",
               "final plan / measured"]  # fmt: skip
    return markdown_table(headers, rows)


def chain_totals(cases: list[dict]) -> str:
    """Per chain case, the summed wall time of its steps and its largest peak."""
    rows = []
    for case in cases:
        if case["kind"] != "chain":
            continue
        done = [r for r in case["rows"] if r["step"] != "generate" and r.get("status") == "ok"]
        if not done:
            continue
        wall = sum(r["wall_s"] for r in done)
        peak = max(max(r.get("peak_rss_gb") or 0, r.get("tree_peak_pss_gb") or 0) for r in done)
        rank = f"`kinship --rank {case['rank']}`" if case.get("rank") else "full n × n"
        rows.append([_size(case), rank, str(len(done)), f"{wall:.0f}", f"{wall / 60:.1f}",
                     f"{peak:.2f}"])  # fmt: skip
    headers = ["n × p", "kinship", "steps done", "chain wall s", "minutes", "largest peak GB"]
    return markdown_table(headers, rows) if rows else ""


def against_full_table(cases: list[dict]) -> str:
    """A low-rank chain's answers against the full chain's on the same data."""
    rows = []
    for case in cases:
        a = case.get("against_full")
        if not a:
            continue

        def get(key, digits, a=a):
            return _num(a.get(key), digits)

        fit = a.get("fit_n_snps")
        rows.append([
            _size(case), str(a["rank"]), f"{get('h2_low_rank', 3)} / {get('h2_full', 3)}",
            f"{get('lambda_gc_low_rank', 3)} / {get('lambda_gc_full', 3)}",
            get("gwas_corr_log10p", 4), str(a.get("gwas_top100_shared", NONE)),
            f"{a.get('fit_shared_snps', NONE)} of {fit[1]}" if fit else NONE,
            str(a.get("stability_top100_shared", NONE)),
        ])  # fmt: skip
    headers = ["n × p", "rank", "h² low rank / full", "λ_GC low rank / full",
               "corr −log10 P", "gwas top 100 shared", "fit SNPs shared",
               "stability top 100 shared"]  # fmt: skip
    return markdown_table(headers, rows) if rows else ""


def data_table(cases: list[dict]) -> str:
    rows = []
    for case in cases:
        gen = next((r for r in case["rows"] if r["step"] == "generate"), None)
        if gen is None:
            continue
        data = gen.get("data") or {}
        if gen["status"] == "reused":
            how = f"reused (made earlier in {gen['generator_seconds']:.1f} s)"
            wall, rss = NONE, NONE
        else:
            how = gen["status"]
            wall, rss = _num(gen.get("wall_s"), 1), _num(gen.get("peak_rss_gb"), 2)
        rows.append([
            case["label"], _size(case), how, wall, rss,
            _num(data.get("bed_bytes", 0) / 1e9 if data else None, 3),
            data.get("n_families", NONE), f"{100 * data['missing_share']:.2f}" if data else NONE,
        ])  # fmt: skip
    headers = ["case", "n × p", "generated", "wall s", "peak RSS GB", ".bed GB", "families",
               "missing %"]  # fmt: skip
    return markdown_table(headers, rows)


def growth_table(exponents: dict) -> str:
    rows = []
    for step, fits in exponents.items():
        row = [step]
        for key in ("wall_s_vs_n", "wall_s_vs_p", "peak_rss_gb_vs_n", "peak_rss_gb_vs_p"):
            fit = fits.get(key)
            row.append(NONE if fit is None else f"{fit['exponent']:.2f} ({fit['points']})")
        rows.append(row)
    headers = ["step", "wall ∝ n^a", "wall ∝ p^b", "peak RSS ∝ n^a", "peak RSS ∝ p^b"]
    return markdown_table(headers, rows)


def render(result: dict, notes, source: str) -> str:
    """The section body; ``notes`` supplies the hand-written blocks, ``source`` the JSON path."""
    m, s = result["machine"], result["settings"]
    status = (
        f"to {result['finished']}"
        if result["complete"]
        else "**the run did not finish: the table holds the steps done by then**"
    )
    data = s["data_defaults"]
    lines = [
        f"Measured by `python bench/scale.py` on {result['date']} ({status}; raw numbers in "
        f"`{source}`). Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, "
        f"Python {m['python']}, {m['lmmlasso']} at commit "
        f"{_source(m.get('lmmlasso_source', NONE))}. Load "
        f"average before: {' '.join(map(str, result['loadavg_before']))}"
        + (f", after: {' '.join(map(str, result['loadavg_after']))}" if result["complete"] else "")
        + " (the machine may be shared).",
        "",
        "Data: `bench/scale_data.py --seed "
        f"{s['seed']} --missing {s['missing']:g}`, one set per size: "
        f"{100 * data['family_fraction']:.0f}% of the individuals in families of six (founders, "
        f"full and half sibs), {data['n_populations']} populations at Fst {data['fst']:g}, "
        "haplotype-mosaic LD, ancestral MAF 0.01 + 0.49·Beta"
        f"({data['maf_beta'][0]:g}, {data['maf_beta'][1]:g}), {data['n_chromosomes']} "
        f"chromosomes; the phenotype {s['pheno']} has {data['n_causal']} causal SNPs "
        f"({100 * data['h2_causal']:.0f}% of the variance) and a polygenic background "
        f"({100 * data['h2_poly']:.0f}%).",
        "",
        f"Steps, each a separate process with `--threads {s['threads']}`: kinship; fit-null; "
        f"fit `--null` `--n-active {s['n_active']}`; {_gwas_step(result)}; stability `--n-active "
        f"{s['n_active']} --n-reps {s['n_reps']}`; predict (the fitted model on the same "
        f"individuals); the fit-path case times `fit --n-mu {s['n_mu']}` (a whole μ path) "
        "after its own kinship and fit-null."
        + (f" Time limit per step: {s['timeout_s']:g} s." if s.get("timeout_s") else "")
        + (" " + blas_line(result) if blas_line(result) else ""),
        "",
        steps_table(result["cases"]),
        "",
        *([chain_totals(result["cases"]), ""] if chain_totals(result["cases"]) else []),
        *(
            [
                "Low-rank chains against the full chain of the same data:",
                "",
                against_full_table(result["cases"]),
                "",
            ]
            if against_full_table(result["cases"])
            else []
        ),  # fmt: skip
        "*wall s*: GNU time's elapsed time of the whole command (reading included). *peak RSS "
        "GB*: GNU time's maximum resident set size, that of the largest single process "
        "(stability's worker processes are not summed). *tree PSS GB*: the largest summed "
        f"proportional set size of the command and all its child processes, sampled every "
        f"{s['sample_s']:g} s (shown for steps that lasted {MIN_TREE_SAMPLES} samples or more; "
        "sampling can miss a short peak). *logged estimate GB*: the figure the command's own "
        "log gave on its `memory plan` line when it ran; *final plan GB*: the committed plan's "
        "estimate for the same sizes (`bench/scale_replan.py`), divided in the last column by "
        "the larger of the peak RSS and the tree PSS.",
        "",
        *notes.block("remarks"),
    ]
    if result.get("growth_exponents"):
        g = s["growth"]
        lines += [
            "### Growth",
            "",
            f"Exponents fitted by least squares on log-log over the growth cases: n in "
            f"{', '.join(f'{x:,}' for x in g['n'])} at p = {g['fixed_p']:,}; p in "
            f"{', '.join(f'{x:,}' for x in g['p'])} at n = {g['fixed_n']:,} (points in "
            "brackets; only steps that finished).",
            "",
            growth_table(result["growth_exponents"]),
            "",
        ]
    commands = [
        _template(r["command"], c) for c in result["cases"] for r in c["rows"] if r.get("command")
    ]
    lines += [
        "### Data sets",
        "",
        data_table(result["cases"]),
        "",
        *commands_section(commands),
        "",
        "`$DATA` is the case's data set (`bench/work/scale/data/NxP_seedS_missingM/sim`), `$OUT` "
        "its run folder (`bench/work/scale/runs/CASE/NxP_seedS_missingM`); per-step logs and "
        "GNU time reports are in `$OUT/logs`.",
    ]
    return "\n".join(lines)


def _template(command: str, case: dict) -> str:
    """A command with the case's own paths replaced by $DATA and $OUT, so that cases share it."""
    if case.get("run_folder"):
        command = command.replace(case["run_folder"], "$OUT")
    if case.get("data_prefix"):
        command = command.replace(case["data_prefix"], "$DATA")
    return command


def _source(text: str) -> str:
    """``path: hash subject`` of `_common.git_head` as ``hash`` (and its local changes)."""
    head = text.split(": ", 1)[-1].split(" ", 1)[0]
    return head + (" with uncommitted changes" if text.endswith("(uncommitted changes)") else "")
