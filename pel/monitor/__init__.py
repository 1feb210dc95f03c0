"""Monitoring models against reality: actuals read from CSV (`pel.monitor.actuals`), backtest metrics of a run's
predictions against them (`pel.monitor.backtest`), parameters fitted to them (`pel.monitor.calibrate`) and
written back into the source (`pel.monitor.rewrite`), drift of the fitted parameters over rolling windows
(`pel.monitor.drift`), the state folder of actuals and estimates shared with `pel serve` (`pel.monitor.state`), and the `pel backtest`, `pel calibrate` and `pel drift` subcommands (`pel.monitor.cli`).

Error codes of this package (docs/monitoring.md lists them with examples):
  E0900  the actuals file cannot be read (missing, a folder, not UTF-8: line and column of the bad byte)
  E0901  no usable header (empty file, first line is data, no t/date column, empty or repeated column name)
  E0902  a row does not split into the header's columns (ragged row, unterminated quote)
  E0903  a variable the run does not output (unknown name, not in the `output` directive, a text variable)
  E0904  a time the run does not cover (t not a whole number, outside 0..steps, a bad date, a date without --start)
  E0905  a value that is not a number (empty, text, NaN, infinite)
  E0906  a value whose unit does not fit the variable's declared type ($ on a count, EUR on a USD series)
  E0907  the same variable and step twice
  E0908  no observations (a header and nothing else)
  E0909  a --fit name that is no parameter, repeated, or not a parameter holding one number
  E0910  --write refused: compiled IR, or a parameter declared with a distribution
  E0911  a fit that cannot be set up (too few observations, a bad --bound or --variables, a relative objective
         with an actual of 0, a run at the starting values without a value at an observed step)
  E0912  --write failed (the rewritten model would not compile to the fitted values, the file changed, an OS error)
  E0913  pel drift: a window longer than the data, or no window with enough observations
  E0914  --state: the folder's database cannot be used (not SQLite, another schema version, a foreign record)
Exit codes of the commands: 6 a MAPE above --max-mape (backtest) or a drift with --fail-on-drift (drift); 7 a fit
that did not converge or does not identify its parameters (calibrate; drift: the latest window's).
"""
