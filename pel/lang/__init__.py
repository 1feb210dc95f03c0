"""The language's tables, read by every stage: distributions (`pel.lang.distributions`)."""
