"""Provenance checks: required fields, methods, confidence, freshness, correlation shapes and the PSD check."""

from __future__ import annotations

import pytest

from pel.diagnostics import DiagnosticBag, Span
from pel.frontend import ast
from pel.frontend.parser import parse
from pel.frontend.provenance import ProvenanceInfo, collect
from tests.conftest import corpus_labels
from tests.frontend.pass_util import only, parse_corpus_model

GOOD = 'source: "finance", method: "fitted", confidence: 0.8'


def run(body: str, *, strict: bool = False) -> tuple[ProvenanceInfo, DiagnosticBag, str]:
    source = "model M {\n" + body + "\n}\n"
    bag = DiagnosticBag()
    info = collect(parse(source, "m.pel"), bag, strict=strict)
    return info, bag, source


def text_at(source: str, span: Span) -> str:
    line = source.splitlines()[span.line - 1]
    assert span.end_line == span.line
    return line[span.col - 1 : span.end_col - 1]


def test_complete_block_is_collected() -> None:
    info, bag, _ = run(
        'param a: Fraction = 0.5 { source: "db", method: "observed", confidence: 0.95, freshness: "P1M",\n'
        '  owner: "cfo", notes: "n", fit_details: { data_points: 24 } }'
    )
    assert not bag.items
    prov = info.by_name["a"]
    assert (prov.source, prov.method, prov.confidence, prov.freshness, prov.owner, prov.notes) == (
        "db",
        "observed",
        0.95,
        "P1M",
        "cfo",
        "n",
    )
    assert prov.extra == (("fit_details", "{data_points: 24}"),)


def test_missing_block_is_E0400_with_a_hint() -> None:
    info, bag, source = run("param growth: Fraction = 0.5")
    diag = only(bag, "E0400")
    assert diag.level == "error" and "growth" in diag.message
    assert text_at(source, diag.span) == "growth"
    assert diag.hint is not None and all(k in diag.hint for k in ("source:", "method:", "confidence:"))
    assert info.by_name == {}  # never invented


@pytest.mark.parametrize("missing", ["source", "method", "confidence"])
def test_missing_required_field_is_E0401(missing: str) -> None:
    fields = {"source": '"db"', "method": '"observed"', "confidence": "0.9"}
    del fields[missing]
    block = ", ".join(f"{k}: {v}" for k, v in fields.items())
    info, bag, _ = run(f"param a: Fraction = 0.5 {{ {block} }}")
    diag = only(bag, "E0401")
    assert f"'{missing}'" in diag.message
    assert "a" not in info.by_name


@pytest.mark.parametrize("value", ["1.5", "-0.1", '"high"', "$5", "true"])
def test_bad_confidence_is_E0402(value: str) -> None:
    _, bag, source = run(
        f'param a: Fraction = 0.5 {{ source: "db", method: "observed", confidence: {value} }}'
    )
    diag = only(bag, "E0402")
    assert text_at(source, diag.span) == value


def test_confidence_as_percent_is_accepted() -> None:
    info, bag, _ = run('param a: Fraction = 0.5 { source: "db", method: "observed", confidence: 80% }')
    assert not bag.errors and info.by_name["a"].confidence == pytest.approx(0.8)


def test_unknown_method_is_E0401_listing_the_valid_ones() -> None:
    _, bag, source = run('param a: Fraction = 0.5 { source: "db", method: "guess", confidence: 0.5 }')
    diag = only(bag, "E0401")
    assert text_at(source, diag.span) == '"guess"'
    assert diag.hint is not None and "expert_estimate" in diag.hint


@pytest.mark.parametrize("method", ["benchmark", "interpolated", "calibration"])
def test_tutorial_methods_are_warnings(method: str) -> None:
    info, bag, _ = run(f'param a: Fraction = 0.5 {{ source: "db", method: "{method}", confidence: 0.5 }}')
    assert not bag.errors
    assert only(bag, "W0401").level == "warning"
    assert info.by_name["a"].method == method


def test_assumption_without_notes_warns() -> None:
    _, bag, _ = run('param a: Fraction = 0.5 { source: "db", method: "assumption", confidence: 0.5 }')
    assert not bag.errors and only(bag, "W0403").level == "warning"
    _, bag, _ = run(
        'param a: Fraction = 0.5 { source: "db", method: "assumption", confidence: 0.5, notes: "ok" }'
    )
    assert not bag.items


@pytest.mark.parametrize("fresh", ["P1M", "P2W", "P1Y6M", "P30D", "P1Y2M3W4D"])
def test_good_freshness(fresh: str) -> None:
    _, bag, _ = run(f'param a: Fraction = 0.5 {{ {GOOD}, freshness: "{fresh}" }}')
    assert not bag.items


@pytest.mark.parametrize("fresh", ['"P"', '"1M"', '"P1.5M"', '"PT1H"', '"monthly"', "3"])
def test_bad_freshness_is_E0401(fresh: str) -> None:
    _, bag, source = run(f"param a: Fraction = 0.5 {{ {GOOD}, freshness: {fresh} }}")
    diag = only(bag, "E0401")
    assert text_at(source, diag.span) == fresh


# -- correlations -------------------------------------------------------------------------------------

DISTS = (
    f"param a: Fraction ~ Normal(μ=0.1, σ=0.02) {{ {GOOD}{{A}} }}\n"
    f"param b: Fraction ~ Normal(μ=0.1, σ=0.02) {{ {GOOD}{{B}} }}\n"
    f"param c: Fraction = ~Normal(μ=0.1, σ=0.02) {{ {GOOD}{{C}} }}\n"
    f"param k: Fraction = 0.3 {{ {GOOD}{{K}} }}"
)


def corr(
    a: str = "", b: str = "", c: str = "", k: str = "", **kw: bool
) -> tuple[ProvenanceInfo, DiagnosticBag, str]:
    body = DISTS.replace("{A}", a).replace("{B}", b).replace("{C}", c).replace("{K}", k)
    return run(body, **kw)


@pytest.mark.parametrize(
    "written",
    [
        "correlated_with: [b, 0.5]",
        'correlated_with: ["b", 0.5]',
        "correlated_with: [[b, 0.5]]",
        'correlated_with: [("b", 0.5)]',
        "correlated_with: [(b, 0.5)]",
        'correlated_with: [{ param: "b", coefficient: 0.5 }]',
        "correlated_with: [{ param: b, coefficient: 0.5 }]",
        "correlation: [(b, 0.5)]",
    ],
)
def test_every_correlation_shape_normalizes(written: str) -> None:
    info, bag, _ = corr(a=", " + written)
    assert not bag.items
    assert info.by_name["a"].correlated_with == (("b", 0.5),)
    assert info.correlations == [("a", "b", 0.5)]


def test_several_pairs_and_negative_coefficients() -> None:
    info, bag, _ = corr(a=", correlated_with: [[b, 0.5], [c, -0.3]]")
    assert not bag.items
    assert info.by_name["a"].correlated_with == (("b", 0.5), ("c", -0.3))
    assert info.correlations == [("a", "b", 0.5), ("a", "c", -0.3)]


def test_pair_declared_on_the_later_param_is_ordered_by_declaration() -> None:
    info, bag, _ = corr(c=', correlated_with: [("a", 0.4)]')
    assert not bag.items and info.correlations == [("a", "c", 0.4)]


def test_two_sided_agreement_is_fine_and_conflict_is_an_error() -> None:
    info, bag, _ = corr(a=", correlated_with: [(b, 0.5)]", b=", correlated_with: [(a, 0.5)]")
    assert not bag.items and info.correlations == [("a", "b", 0.5)]
    _, bag, _ = corr(a=", correlated_with: [(b, 0.5)]", b=", correlated_with: [(a, 0.6)]")
    assert "conflicting" in only(bag, "E0401").message


def test_coefficient_out_of_range_is_E0432() -> None:
    info, bag, source = corr(a=", correlated_with: [(b, 1.2)]")
    diag = only(bag, "E0432")
    assert text_at(source, diag.span) == "1.2"
    assert info.correlations == []


def test_unknown_name_is_a_warning_then_an_error_in_strict_mode() -> None:
    info, bag, source = corr(a=', correlated_with: [("nonexistent", 0.5)]')
    diag = only(bag, "E0433")
    assert diag.level == "warning" and text_at(source, diag.span) == '"nonexistent"'
    assert info.correlations == [] and info.by_name["a"].correlated_with == ()
    _, bag, _ = corr(a=', correlated_with: [("nonexistent", 0.5)]', strict=True)
    assert only(bag, "E0433").level == "error"


def test_correlation_with_a_fixed_param_is_ignored_with_a_warning() -> None:
    info, bag, _ = corr(a=", correlated_with: [(k, 0.5)]")
    assert not bag.errors and only(bag, "W0434").level == "warning"
    assert info.correlations == [] and info.by_name["a"].correlated_with == ()


def test_malformed_entries_are_E0401() -> None:
    _, bag, _ = corr(a=', correlated_with: "b"')
    assert only(bag, "E0401").hint is not None
    _, bag, _ = corr(a=", correlated_with: [(b, high)]")
    assert only(bag, "E0401")


def test_self_correlation_is_an_error() -> None:
    _, bag, _ = corr(a=", correlated_with: [(a, 0.5)]")
    assert "itself" in only(bag, "E0401").message


def test_non_psd_matrix_is_E0430() -> None:
    _, bag, _ = corr(
        a=", correlated_with: [(b, 0.9), (c, 0.9)]",
        b=", correlated_with: [(c, -0.9)]",
    )
    diag = only(bag, "E0430")
    assert "a, b, c" in diag.message and diag.span is not None


def test_psd_matrix_passes() -> None:
    info, bag, _ = corr(a=", correlated_with: [(b, 0.5), (c, 0.5)]", b=", correlated_with: [(c, 0.5)]")
    assert not bag.items and len(info.correlations) == 3


def test_var_provenance_is_optional_but_checked() -> None:
    info, bag, _ = run(
        "var x: Fraction = 0.5\n"
        f"var y: Fraction = 0.5 {{ {GOOD} }}\n"
        'var z: Fraction = 0.5 { source: "db", method: "observed", confidence: 2 }'
    )
    assert [d.code for d in bag.items] == ["E0402"]
    assert set(info.by_name) == {"y"}


def test_hand_built_ast() -> None:
    sp = Span("h.pel", 1, 1, 1, 5)
    block = ast.Provenance(
        sp,
        (
            ast.ProvField(sp, "source", ast.String(sp, "db")),
            ast.ProvField(sp, "method", ast.String(sp, "observed")),
            ast.ProvField(sp, "confidence", ast.Number(sp, 0.7, "0.7")),
        ),
    )
    model = ast.Model(
        sp,
        "H",
        (
            ast.ParamDecl(sp, "a", None, ast.Number(sp, 1.0, "1"), block),
            ast.ParamDecl(sp, "b", None, ast.Number(sp, 1.0, "1"), None, name_span=sp),
        ),
    )
    bag = DiagnosticBag()
    info = collect(model, bag)
    assert info.by_name["a"].confidence == 0.7
    assert [d.code for d in bag.items] == ["E0400"]


# -- the shared corpus --------------------------------------------------------------------------------

LABELS = corpus_labels()
PROV_ERRORS = [
    r["file"] for r in LABELS if r["label"] == "error" and r["expected_code"] in ("E0400", "E0401", "E0430")
]
VALID = [r["file"] for r in LABELS if r["label"] == "valid"]
EXPECTED = {r["file"]: r["expected_code"] for r in LABELS}
needs_shared = pytest.mark.skipif(not LABELS, reason="../shared/corpus is not present")


def _collect_file(name: str) -> DiagnosticBag:
    bag = DiagnosticBag()
    collect(parse_corpus_model(name), bag)
    return bag


@needs_shared
@pytest.mark.parametrize("name", PROV_ERRORS)
def test_corpus_provenance_errors(name: str) -> None:
    bag = _collect_file(name)
    assert EXPECTED[name] in [d.code for d in bag.errors]


@needs_shared
@pytest.mark.parametrize("name", VALID)
def test_corpus_valid_models_have_no_provenance_errors(name: str) -> None:
    assert _collect_file(name).errors == []
