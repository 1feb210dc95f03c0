"""Standard errors and the --until-se stopping rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pel.backend import convergence as cv
from pel.diagnostics import RunError


def test_standard_error_matches_numpy() -> None:
    x = np.random.default_rng(0).standard_normal(1000) * 3 + 10
    m2 = ((x - x.mean()) ** 2).sum()
    se = cv.standard_error(np.array([1000]), np.array([m2]))
    assert se[0] == pytest.approx(x.std(ddof=1) / math.sqrt(1000))
    assert np.isnan(cv.standard_error(np.array([1]), np.array([0.0])))[0]


def test_relative_se_edge_cases() -> None:
    mean = np.array([[10.0, 0.0, 0.0, 5.0]])
    se = np.array([[1.0, 0.0, 1.0, np.nan]])
    rel = cv.relative_se(mean, se)
    assert rel[0, 0] == pytest.approx(0.1) and rel[0, 1] == 0.0 and math.isinf(rel[0, 2]) and np.isnan(rel[0, 3])
    assert math.isinf(cv.worst_relative_se(mean, se)[0])


def test_stop_rule() -> None:
    rule = cv.StopRule(0.01, max_paths=100_000, names=("a", "b"))
    mean = np.array([[100.0, 100.0], [50.0, 50.0]])
    assert not rule.converged(4096, mean, np.full((2, 2), 0.5))  # below target but under min_paths
    assert rule.converged(8192, mean, np.full((2, 2), 0.4))
    assert not rule.converged(12288, mean, np.array([[0.4, 0.4], [0.6, 0.4]]))  # b is at 1.2%
    report = rule.report(8192, True, mean, np.full((2, 2), 0.4))
    assert report["stopped"] == "converged" and report["paths"] == 8192
    assert report["relative_se"]["b"] == pytest.approx(0.008)
    assert cv.StopRule(None, 10).report(10, False, mean, mean)["stopped"] == "runs_completed"
    assert cv.StopRule(0.001, 10).report(10, False, mean, mean)["stopped"] == "max_runs"


@pytest.mark.parametrize("bad", [0, -0.1, math.nan, math.inf, True, "1%"])
def test_bad_target_refused(bad: object) -> None:
    with pytest.raises(RunError) as err:
        cv.check_target(bad)  # type: ignore[arg-type]
    assert err.value.code == "E0011"
