"""Decision analysis on compiled kernels: which assumptions drive an output (`pel.analysis.sensitivity`: tornado,
Spearman, Sobol) and which value of a parameter meets a target (`pel.analysis.solve`), with the `pel sensitivity`
and `pel solve` subcommands (`pel.analysis.cli`).

Error codes: E0600 an unknown output or parameter; E0011 a malformed target, step, range or option.
Exit codes: `pel solve` 0 solved, 8 the target is not reached in the range, 7 no root within 25 simulations."""
