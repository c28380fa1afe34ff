"""The section "Speed where users wait (issue 15)" from bench/results/speed.json.

Renders what bench/speed.py measured; slot for notes: ``remarks`` (after the table).
"""

from __future__ import annotations

from _render_markdown import commands_section, markdown_table, source_commit

NONE = "—"


def _s(seconds) -> str:
    return NONE if seconds is None else f"{seconds:.3g} s"


def _met(met) -> str:
    return NONE if met is None else ("yes" if met else "no")


def _timing(t: dict) -> str:
    """Median wall, CPU and peak RSS of one repeated command, and every wall time."""
    runs = ", ".join(f"{x:.3g}" for x in t.get("all_seconds", []))
    return (
        f"{t['seconds']:.3g} s wall (runs: {runs}), {t['cpu_seconds']:.3g} s CPU, "
        f"peak RSS {t['max_rss_mb']:.0f} MB"
    )


def table(result: dict) -> str:
    rows = []
    for ln in result["lines"]:
        peer = NONE if ln["peer"] is None else f"{ln['peer']}: {_s(ln['peer_seconds'])}"
        if ln.get("note"):
            peer += f" ({ln['note']})"
        rows.append([ln["id"], ln["what"], _s(ln["seconds"]), peer, ln["goal"], _met(ln["met"])])
    return markdown_table(["#", "what", "now", "peer", "goal", "met"], rows)


def _cv(d: dict) -> list[str]:
    chosen = "".join(f" Log: `{c.split('; wrote')[0]}`." for c in d["chosen"])
    return [f"- **1, cv**: {_timing(d['ours'])}.{chosen}"]


def _glmnet(d: dict) -> list[str]:
    p = d["problem"]
    lines = [
        f"- **2, fit path vs glmnet**: ours {_timing(d['ours'])}. The problem: n = "
        f"{p['n_samples']}, p = {p['n_snps']:,} SNPs ({p['n_duplicates_left_out']} identical "
        f"to an earlier SNP left out), log δ = {p['log_delta']:.4f}, {p['n_mu']} μ from "
        f"{p['mu_max']:.4g} to {p['mu_min']:.4g}."
    ]
    if d.get("glmnet_problem"):
        return lines + [f"  R glmnet was not run: {d['glmnet_problem']}."]
    inner = d["glmnet_inner"]
    solver = ", ".join(f"{r['elapsed']:.3g}" for r in inner)
    first = inner[0]
    o = d["objectives"]
    low, high = o["over_y2_range"]
    whole = _timing(d["glmnet"])
    size = f"{p['n_samples']} × {p['n_snps']:,}"
    lines[0] += (
        f" glmnet {first['glmnet']} ({first['R']}): the glmnet() call "
        f"{d['glmnet_solver_seconds']:.3g} s (runs: {solver}); the whole Rscript process "
        f"(R start-up and reading the {size} matrix included) {whole}; {first['n_lambda']} "
        f"λ fitted, {first['npasses']} passes, jerr {first['jerr']}, thresh {first['thresh']:g}."
    )
    lines += [
        f"  Our objective ½‖ỹ − X̃w‖² + μ‖w‖₁ of both paths at {o['n_compared']} μ: glmnet "
        f"minus ours, relative to ours at most {o['max_abs_relative']:.2e} in absolute value; "
        f"over ‖ỹ‖² (the scale of our --tol) from {low:.2e} to {high:.2e} (glmnet lower at "
        f"{o['n_glmnet_lower']} μ); max |Δw| {o['max_abs_diff_coef']:.2e}.",
        "",
        markdown_table(
            ["μ index", "μ", "ours", "glmnet", "relative", "over ‖ỹ‖²", "SNPs ours", "SNPs glmnet"],
            [
                [
                    a["index"],
                    f"{a['mu']:.4g}",
                    f"{a['ours']:.10g}",
                    f"{a['glmnet']:.10g}",
                    f"{a['relative']:.2e}",
                    f"{a['over_y2']:.2e}",
                    a["active_ours"],
                    a["active_glmnet"],
                ]
                for a in o["at"]
            ],
        ),  # fmt: skip
        "",
    ]
    return lines


def _warm_fit(d: dict) -> list[str]:
    if "left_to" in d:
        return [f"- **3, warm fit vs recipe**: {d['left_to']}."]
    ours, recipe = d["rows"]
    a, phases = d["agreement"], d["recipe_phases"]
    split = ", ".join(f"{k} {v:.3g} s" for k, v in phases.items() if k not in ("n_samples",
                      "n_snps", "n_selected", "n_iter", "total"))  # fmt: skip
    return [
        f"- **3, warm fit vs recipe** (bench/startup.py's `time_warm_fit`): ours "
        f"{_timing(ours)} ({d['ours_in_process_seconds']:.3g} s by its log); recipe "
        f"{_timing(recipe)}, phases {split}. Coefficients: max |Δw| "
        f"{a['max_abs_diff_coef']:.2e}, {a['n_selected_ours']} and {a['n_selected_recipe']} "
        f"SNPs selected, same support: {'yes' if a['same_support'] else 'no'}."
    ]


def _first_run(d: dict) -> list[str]:
    if "left_to" in d:
        return [f"- **4, first run vs GEMMA**: {d['left_to']}."]
    r, c = d["rows"], d["compiled"]
    compiled = "; ".join(
        f"{k}: {v['kernels']} kernels, {v['specializations']} specializations" for k, v in c.items()
    )
    return [
        f"- **4, first run vs GEMMA** (bench/startup.py's `time_first_runs`, NUMBA_CACHE_DIR "
        f"empty each time): fit {_timing(r['fit'])}; gwas --exact {_timing(r['gwas'])}, the "
        f"same warm {_timing(r['gwas_warm'])}; GEMMA -lmm 1 {_timing(r['gemma'])}. Compiled: "
        f"{compiled}."
    ]


def _stability(d: dict) -> list[str]:
    runs, per = d["runs"], d["per_replicate"]
    n = d["n_reps"]
    parts = [
        f"--threads {t}: {n} replicates {runs[f't{t}_all']['seconds']:.3g} s, replicate 0 "
        f"alone {runs[f't{t}_one']['seconds']:.3g} s, so {per[t]:.3g} s per replicate"
        for t in per
    ]
    paper = ", ".join(f"{x:.3g}" for x in d["paper_seconds"])
    return [
        f"- **5, stability per replicate**: (wall of {n} replicates − wall of replicate 0 "
        f"alone) / {n - 1}, medians of the repeats; {'; '.join(parts)}. The original procedure: "
        f"{d['paper_reps']} replicates, {paper} s (median in the table); the same SNPs "
        f"selected as our run in {d['paper_same_selection']} of them, max |Δ log δ| "
        f"{d['paper_max_abs_diff_log_delta']:.2e}."
    ]


def _kinship(d: dict) -> list[str]:
    return [
        f"- **{id_}, kinship**: ours {_timing(v['ours'])} (`{'; '.join(v['snps_ours'])}`); "
        f"plink2 {_timing(v['plink2'])} ({v['snps_plink2']:,} variants by its log)."
        for id_, v in d.items()
        if id_ in ("6a", "6b")
    ]


def _gwas(d: dict) -> list[str]:
    lines = [f"- **7a, gwas**: ours {_timing(d['gwas'])}."]
    if d.get("fastlmm_problem"):
        lines[0] += f" FaST-LMM was not run: {d['fastlmm_problem']}."
    elif "fastlmm" in d:
        a, inner = d["agreement"], d["fastlmm_inner"]
        lines[0] += (
            f" FaST-LMM {d['fastlmm_version']}: {_timing(d['fastlmm'])} (in its process: "
            f"imports and loading K {inner['import_and_load_s']:.3g} s, single_snp "
            f"{inner['single_snp_s']:.3g} s). Agreement on {a['n_common']:,} SNPs: corr of "
            f"−log10 P {a['corr_neglog10p']:.8f}, max |Δ −log10 P| "
            f"{a['max_abs_diff_neglog10p']:.2e}, max |ΔT| {a['max_abs_diff_t']:.2e}."
        )
    lines.append(f"- **7b, fit-null**: {_timing(d['fit_null'])}; `{d['null_model_line']}`.")
    return lines


DETAILS = {"1": _cv, "2": _glmnet, "3": _warm_fit, "4": _first_run, "5": _stability,
           "6": _kinship, "7": _gwas}  # fmt: skip


def _commands(result: dict) -> list[str]:
    found = []

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("command"), str):
                found.append(value["command"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(result["details"])
    return found


def render(result: dict, notes, source: str) -> str:
    """The section body; ``notes`` supplies the hand-written blocks, ``source`` the JSON path."""
    m, v = result["machine"], result["versions"]
    after = result.get("loadavg_after")
    lines = [
        f"Measured by `python bench/speed.py` on {result['date']} (rows "
        f"{', '.join(map(str, result['rows_run']))}; raw numbers in `{source}`). Every figure "
        f"is the median wall time of {result['repeats']} run(s) of a whole process, ours "
        "and the peer's interleaved, unless the row says otherwise. Machine: "
        f"{m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM; 1-minute load average "
        f"{result['loadavg_before'][0]} before"
        + (f", {after[0]} after" if after else "")
        + " (the machine may be shared).",
        "",
    ]
    if result.get("quick"):
        lines += ["**A --quick run: every row on a 300 × 2000 dummy set, to test the script; "
                  "these figures say nothing about speed.**", ""]  # fmt: skip
    if not result.get("complete"):
        lines += ["**The run did not finish: the table holds the rows done by then.**", ""]
    lines += [table(result), ""]
    lines += [f"Row {row} failed: {why}" for row, why in result.get("failed", {}).items()]
    lines += [*notes.block("remarks"), "### Details", ""]
    for row, detail in result["details"].items():
        if row in DETAILS and row not in result.get("failed", {}):
            lines += DETAILS[row](detail)
    lines += [
        "",
        "### Versions",
        "",
        f"{m['lmmlasso']} at commit {source_commit(result['source'])}, run by "
        f"`{result['launcher'].splitlines()[-1]}`; "
        f"Python {m['python']}; "
        + ", ".join(f"{k} {x}" for k, x in v.items())
        + f"; {m['plink2']}; {m['gemma']}.",
        "",
    ]
    if _commands(result):
        lines += commands_section(_commands(result))
    return "\n".join(lines) + "\n"
