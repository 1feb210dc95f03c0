"""Tests of Monte Carlo at scale: the quantile sketch, convergence, progress and Dask."""
