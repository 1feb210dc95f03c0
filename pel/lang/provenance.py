"""The provenance vocabulary of the language (LANGUAGE.md §6), read by the frontend's provenance checks, IR
validation, the sampler, lint and the assumption register: the methods, the block's fields, the freshness form
and default policy, and the correlation tolerance."""

from __future__ import annotations

import re

METHODS = ("observed", "fitted", "derived", "expert_estimate", "external_research", "assumption")
TOLERATED_METHODS = ("benchmark", "interpolated", "calibration")  # accepted with a warning (tutorial spellings)
ACCEPTED_METHODS = frozenset(METHODS + TOLERATED_METHODS)  # what an IR file may hold
REQUIRED = ("source", "method", "confidence")
CORRELATION_KEYS = ("correlated_with", "correlation")
KNOWN_KEYS = frozenset({*REQUIRED, "freshness", "owner", "notes", *CORRELATION_KEYS})
VALIDATED = "validated"  # the date (YYYY-MM-DD) a value was last checked: freshness is counted from it
NO_FRESHNESS = "freshness_not_applicable"  # a parameter that declares it needs no re-validation
DEFAULT_FRESHNESS = "P6M"  # the staleness policy of a validated value that declares none (LANGUAGE.md §6)
FRESHNESS = re.compile(r"^P(?=\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$")  # an ISO 8601 duration of whole Y/M/W/D
PSD_TOLERANCE = -1e-8  # a correlation matrix is positive semi-definite when its least eigenvalue is at least this
