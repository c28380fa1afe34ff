"""Every case of the bad-input corpus (tests/bad_inputs/make_corpus.py) through the CLI.

Each must exit with code 1 and print exactly one line starting with ``Error:`` that matches the
case's pattern (it names the file or option and the fix), no traceback, and write nothing into
its output folder besides the log.
"""

import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "bad_inputs"))
from make_corpus import build  # noqa: E402

from lmmlasso_cli.cli import main  # noqa: E402

MIN_CASES = 40


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return {case.id: case for case in build(folder)}


def _case_ids():
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return [case.id for case in build(folder)]


CASE_IDS = _case_ids()


def test_corpus_is_large_enough():
    assert len(CASE_IDS) >= MIN_CASES and len(set(CASE_IDS)) == len(CASE_IDS)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_bad_input_gives_one_error_line(corpus, case_id, tmp_path):
    case = corpus[case_id]
    out = tmp_path / "out" / "run"
    args = [a.replace("{out}", str(out)) for a in case.args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert re.search(case.pattern, errors[0]), errors[0]
    written = sorted(os.listdir(out.parent)) if out.parent.exists() else []
    assert written in ([], ["run.log"]), written
