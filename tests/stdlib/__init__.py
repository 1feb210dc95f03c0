"""Tests of the shipped standard library and of import resolution."""
