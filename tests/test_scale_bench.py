"""bench/scale.py: the parts that need no lmmlasso run (log parsing, cases, growth fits).

bench/ is not a package: the script is loaded by path, with bench/ on sys.path for its
helpers (_common, scale_data).
"""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def scale():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("scale_bench", BENCH / "scale.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["scale_bench"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    finally:  # bench/distributed.py would shadow dask's distributed for later tests
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
    return module


@pytest.mark.parametrize(
    ("line", "gb"),
    [
        ("memory plan: K 0.80 GB + blocks 0.1 GB, estimated peak 3.21 GB", 3.21),
        ("memory plan (fit): estimated peak of 2 GiB", 2 * 1.073741824),
        ("memory plan: not estimated", None),
    ],
)
def test_memory_plan_is_read_from_the_log(scale, tmp_path, line, gb):
    log = tmp_path / "x.log"
    log.write_text(f"lmmlasso-cli 0.1.0\nWARNING: memory plan is not this\n{line}\nfinished\n")
    found, estimate = scale.memory_plan(log)
    assert found == line
    assert estimate == (None if gb is None else pytest.approx(gb))


def test_a_log_without_a_memory_plan_gives_none(scale, tmp_path):
    (tmp_path / "x.log").write_text("lmmlasso-cli 0.1.0\n0 warning(s); finished in 1.0 s\n")
    assert scale.memory_plan(tmp_path / "x.log") == (None, None)
    assert scale.memory_plan(tmp_path / "absent.log") == (None, None)


def test_cases_and_growth_exponents(scale):
    args = scale.argparse.Namespace(
        steps=["gwas", "kinship"], sizes=[(100, 1000)], fit_path=(50, 2000), growth=True,
        growth_n=[100, 200], growth_fixed_p=1000, growth_p=[1000, 4000], growth_fixed_n=100,
        ranks=[0, 30],
    )  # fmt: skip
    cases = scale.make_cases(args)
    assert [(c.kind, c.n, c.p, c.rank) for c in cases] == [
        ("chain", 100, 1000, 0), ("chain", 100, 1000, 30), ("fit-path", 50, 2000, 0),
        ("growth", 100, 1000, 0), ("growth", 200, 1000, 0), ("growth", 100, 4000, 0),
    ]  # fmt: skip
    assert cases[1].label == "chain 100x1000 rank 30" and cases[1].folder == "chain-rank30"
    assert "--rank" in scale.step_argv("kinship", "d", scale.Path("o"), 2, cases[1].rank)
    assert "--rank" not in scale.step_argv("kinship", "d", scale.Path("o"), 2, 0)
    assert cases[0].steps == ("kinship", "gwas") and cases[2].steps == scale.FIT_PATH
    # wall = n² p, peak RSS = n p^0.5
    rows = [
        {"kind": c.kind, "n": c.n, "p": c.p, "rows": [{"step": "kinship", "status": "ok",
         "wall_s": c.n**2 * c.p, "peak_rss_gb": c.n * math.sqrt(c.p)}]}
        for c in cases if c.kind == "growth"
    ]  # fmt: skip
    fits = scale.growth_exponents(rows, {"fixed_p": 1000, "fixed_n": 100})["kinship"]
    assert fits["wall_s_vs_n"]["exponent"] == pytest.approx(2)
    assert fits["wall_s_vs_p"]["exponent"] == pytest.approx(1)
    assert fits["peak_rss_gb_vs_n"]["exponent"] == pytest.approx(1)
    assert fits["peak_rss_gb_vs_p"] == {"exponent": pytest.approx(0.5), "points": 2}
