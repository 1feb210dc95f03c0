"""The language's tables, read by every stage: distributions (`pel.lang.distributions`), built-in functions
(`pel.lang.functions`), the unit vocabulary (`pel.lang.units`) and the provenance vocabulary
(`pel.lang.provenance`)."""
