"""Render bench/README.md from the benchmarks' JSON results (bench/results/*.json).

    python bench/report.py [--check] [--out FILE] [--no-notes]

The bench scripts only measure: each writes bench/results/<script>.json. This script is the
only one that writes markdown. It renders one section per benchmark, in a fixed order, with
the renderer bench/_render_<script>.py, and replaces bench/README.md in one step (temporary
file, then rename). It needs nothing beyond the Python standard library.

Remarks written after a run (a bug fixed since, figures from a run the script did not record)
live in bench/notes/<script>.md. Such a file starts with a line

    <!-- run: YYYY-MM-DD HH:MM UTC ... -->

naming the run it is about (the "date" in the JSON), followed by blocks, each introduced by a
line ``<!-- slot: NAME -->``. A block is copied verbatim to the place its renderer offers
under that name (see each renderer's docstring); every renderer also offers ``body``, which
replaces the rendered text (for a part that was written by hand), and ``end``, appended after
it. The notes are used only while the JSON comes from that run: after a new run, report.py
leaves them out and says so, as they describe the old one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _render_distributed  # noqa: E402
import _render_gwas_vs_gemma  # noqa: E402
import _render_kinship_null  # noqa: E402
import _render_lasso_fit  # noqa: E402
import _render_mlmages  # noqa: E402
import _render_path_variants  # noqa: E402
import _render_pca_vs_plink2  # noqa: E402
import _render_precision  # noqa: E402
import _render_scale  # noqa: E402
import _render_score_vs_plink2  # noqa: E402
import _render_shrink  # noqa: E402
import _render_speed  # noqa: E402
import _render_stability_vs_paper  # noqa: E402
import _render_startup  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
NOTES = BENCH / "notes"
README = BENCH / "README.md"
GENERIC_SLOTS = ("body", "end")
RUN_LINE = re.compile(r"<!-- run: (\d{4}-\d\d-\d\d \d\d:\d\d UTC)\b")
SLOT_LINE = re.compile(r"^<!-- slot: ([a-z_]+) -->$", re.MULTILINE)

INTRO = """\
# Benchmarks

Each script in `bench/` measures lmmlasso against its peers and writes what it measured to
`bench/results/<script>.json`; `bench/report.py` renders this file from those JSON files, so do
not edit it by hand. `make bench` runs every benchmark, then `python bench/report.py`; after
running one script alone, run `python bench/report.py` to refresh this file. Remarks added after
a run (a fix made since, figures the script did not record) live in `bench/notes/<script>.md`
and are shown with that run only.
"""


class ReportError(RuntimeError):
    """A results or notes file that report.py cannot use as it stands."""


def rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def warn(message: str) -> None:
    print(f"report.py: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------- notes


@dataclass
class Notes:
    """The hand-written blocks of bench/notes/<bench>.md for one run (empty if none apply)."""

    path: Path | None = None
    blocks: dict[str, str] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, bench: str, results: Path, run_date: str) -> Notes:
        path = NOTES / f"{bench}.md"
        if not path.exists():
            return cls()
        text = path.read_text()
        match = RUN_LINE.match(text)
        if match is None:
            raise ReportError(
                f"{rel(path)} must start with `<!-- run: YYYY-MM-DD HH:MM UTC -->`, the date "
                f"of the run in {rel(results)} that its notes are about"
            )
        if match.group(1) != run_date:
            warn(
                f"{rel(path)} is about the run of {match.group(1)} but {rel(results)} is from "
                f"{run_date}: its notes are left out; update the file or delete it"
            )
            return cls()
        names, bodies = SLOT_LINE.findall(text), SLOT_LINE.split(text)[2::2]
        if len(set(names)) != len(names):
            raise ReportError(f"{rel(path)}: a slot appears twice among {', '.join(names)}")
        return cls(path, {n: b.strip("\n") for n, b in zip(names, bodies, strict=True)})

    def text(self, slot: str) -> str | None:
        self.asked.add(slot)
        return self.blocks.get(slot)

    def block(self, slot: str) -> list[str]:
        """The block as lines of a list joined by newlines: the text and a blank line."""
        text = self.text(slot)
        return [text, ""] if text else []

    def inline(self, slot: str) -> str:
        """The block to append to a sentence: a space and the text."""
        text = self.text(slot)
        return " " + text if text else ""

    def check_all_placed(self, renderer: str) -> None:
        unplaced = sorted(set(self.blocks) - self.asked)
        if unplaced:
            raise ReportError(
                f"{rel(self.path)}: {renderer} has no slot {', '.join(unplaced)} (it offers "
                f"{', '.join(sorted(self.asked))}); rename the block or move its text"
            )


# ----------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Part:
    """One benchmark's contribution to a section."""

    bench: str  # the script's name: bench/<bench>.py, notes/<bench>.md
    results: tuple[str, ...]  # JSON files in bench/results, the first that exists is used
    render: Callable[[dict, Notes, str], str]  # (result, notes, JSON path) -> markdown


@dataclass(frozen=True)
class Section:
    heading: str
    parts: tuple[Part, ...]


SECTIONS = (
    Section(
        "## Kinship and null model (issue 2)",
        (Part("kinship_null", ("kinship_null.json",), _render_kinship_null.render),),
    ),
    Section(
        "## Model selection: cv and stability (issue 4)",
        (
            Part(
                "stability_vs_paper",
                ("stability_vs_paper.json",),
                _render_stability_vs_paper.render,
            ),
        ),
    ),
    Section(
        "## GWAS vs GEMMA (issue 5)",
        (Part("gwas_vs_gemma", ("gwas_vs_gemma.json",), _render_gwas_vs_gemma.render),),
    ),
    Section(
        "## LMM-Lasso fit (issue 3)",
        (
            # the full run when there is one, else the --quick run
            Part("lasso_fit", ("lasso_fit.json", "lasso_fit_quick.json"), _render_lasso_fit.render),
            Part("score_vs_plink2", ("score_vs_plink2.json",), _render_score_vs_plink2.render),
        ),
    ),
    Section(
        "## Principal components vs plink2 (issue 13)",
        (Part("pca_vs_plink2", ("pca_vs_plink2.json",), _render_pca_vs_plink2.render),),
    ),
    Section(
        "## Beyond one machine: Dask and job arrays (issue 11)",
        (Part("distributed", ("distributed.json",), _render_distributed.render),),
    ),
    Section(
        "## Speed where users wait (issue 15)",
        (
            Part("speed", ("speed.json",), _render_speed.render),
            Part("path_variants", ("path_variants.json",), _render_path_variants.render),
        ),
    ),
    Section(
        "## Biobank scale (issue 10)",
        (Part("scale", ("scale.json",), _render_scale.render),),
    ),
    Section(
        "## float32 against float64 (issue 10)",
        (Part("precision", ("precision.json",), _render_precision.render),),
    ),
    Section(
        "## Start-up and first run (issue 15)",
        (Part("startup", ("startup.json",), _render_startup.render),),
    ),
    Section(
        "## ML-MAGES shrinkage (issue 8)",
        (Part("shrink", ("shrink.json", "shrink_quick.json"), _render_shrink.render),),
    ),
    Section(
        "## ML-MAGES clusters and gene tests (issue 9)",
        (Part("mlmages", ("mlmages.json", "mlmages_quick.json"), _render_mlmages.render),),
    ),
)


def render_part(part: Part, use_notes: bool) -> str | None:
    path = next((RESULTS / name for name in part.results if (RESULTS / name).exists()), None)
    if path is None:
        warn(f"no {' or '.join(part.results)} in {rel(RESULTS)}: bench/{part.bench}.py left out")
        return None
    result = json.loads(path.read_text())
    notes = Notes.load(part.bench, path, result["date"]) if use_notes else Notes()
    text = notes.text("body")
    if text is None:
        text = part.render(result, notes, rel(path))
    end = notes.text("end")
    if end:
        text = text.rstrip("\n") + "\n\n" + end
    notes.check_all_placed(f"_render_{part.bench}.py")
    return text.strip("\n")


def render_readme(use_notes: bool = True) -> str:
    """The whole of bench/README.md."""
    sections = []
    for section in SECTIONS:
        parts = [text for part in section.parts if (text := render_part(part, use_notes))]
        if parts:
            sections.append(section.heading + "\n\n" + "\n\n".join(parts) + "\n")
    return "\n".join([INTRO, *sections])


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the README differs from what the results render",
    )
    parser.add_argument("--out", type=Path, default=README, help="default: bench/README.md")
    parser.add_argument(
        "--no-notes", action="store_true", help="leave bench/notes/ out (the JSON alone)"
    )
    args = parser.parse_args(argv)
    try:
        text = render_readme(use_notes=not args.no_notes)
    except ReportError as err:
        print(f"report.py: error: {err}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            warn(f"{rel(args.out)} is not what the results render; run `python bench/report.py`")
            return 1
        return 0
    write_atomically(args.out, text)
    print(f"wrote {rel(args.out.resolve())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
