"""Seeing the results of a run: a self-contained HTML report (`pel.report.page`), single charts
(`pel.report.charts`), the notebook views of Result and Model (`pel.report.notebook`), results files read back
(`pel.report.resultsfile`), and the `pel report` and `pel plot` subcommands (`pel.report.cli`).

Error codes of this package (docs/report.md lists them):
  E1000  a chart needs matplotlib, which is not installed (the `plot` extra: pip install 'pel-lang[plot]')
  E1001  the results file cannot be read (missing, a folder, not UTF-8, not JSON: line and column)
  E1002  the results file is not PEL results (a key missing or of the wrong type: the key's path is named)
  E1003  a variable the results do not hold, or one that holds text rather than numbers
  E1004  an output file of the wrong kind (`pel plot`: .png or .svg; `pel report`: .html or .htm)
  E1005  run options given with a results file (the run is done: give the model to run it again)
  E1006  --sensitivity with a results file: a tornado runs the model
  E1007  the report or chart cannot be written (an OS error; the previous file, if any, is unchanged)
"""

DEFAULT_MAX_CHARTS = 24  # fan charts (and as many histograms) in a report; its table lists every output
