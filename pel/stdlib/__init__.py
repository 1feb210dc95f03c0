"""PEL's standard library: modules written in PEL (`import stdlib.unit_econ as econ`), shipped as package data."""
