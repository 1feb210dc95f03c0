"""Shared inputs of the report tests: example runs (computed once per session) and an HTML inspector."""

from __future__ import annotations

import functools
from html.parser import HTMLParser

import pel
from pel.backend.results import Result
from tests.conftest import EXAMPLES

SAAS = EXAMPLES / "saas.pel"
REVENUE = EXAMPLES / "revenue_forecast.pel"


@functools.cache
def saas_mc() -> Result:
    """SaasBusiness, Monte Carlo, 2,000 paths over its 60 months (fatal and warning constraints both fire)."""
    return pel.compile(SAAS).run("monte_carlo", runs=2000, seed=7)


@functools.cache
def revenue_det() -> Result:
    """SubscriptionRevenue, deterministic, 24 months."""
    return pel.compile(REVENUE).run("deterministic", steps=24)


class Page(HTMLParser):
    """Every element of an HTML document as (tag, attributes, the classes of the <figure> it sits in), and its
    text; for checks on what a report holds and links to."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], str]] = []
        self.figures: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self._figure: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "figure":
            self.figures.append({**attributes, "svgs": "0", "paths": "0"})
            self._figure.append(attributes.get("class") or "")
        elif self._figure and tag in ("svg", "path"):
            key = "svgs" if tag == "svg" else "paths"
            self.figures[-1][key] = str(int(self.figures[-1][key] or 0) + 1)
        self.elements.append((tag, attributes, self._figure[-1] if self._figure else ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure" and self._figure:
            self._figure.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def charts(self, kind: str) -> list[dict[str, str | None]]:
        """The <figure> elements of class `chart <kind>`."""
        return [f for f in self.figures if f.get("class") == f"chart {kind}"]
