"""The unit vocabulary of the language (LANGUAGE.md §1): time units and their literal suffixes and spellings, and
the currency symbols. The lexer, the type checker, IR validation, overrides, the actuals reader and the source
rewriter read it."""

from __future__ import annotations

TIME_UNITS = ("Second", "Minute", "Hour", "Day", "Week", "Month", "Quarter", "Year")

# duration-literal suffix (`3mo`) -> time unit, and back
LITERAL_UNITS = {"s": "Second", "min": "Minute", "h": "Hour", "d": "Day", "w": "Week", "mo": "Month",
                 "q": "Quarter", "y": "Year"}
UNIT_LITERALS = {unit: suffix for suffix, unit in LITERAL_UNITS.items()}

# every suffix a duration literal may be written with -> its canonical suffix (`3days` is `3d`, `2yr` is `2y`)
SUFFIX_SPELLINGS = {
    "s": "s", "sec": "s", "m": "min", "min": "min", "h": "h", "hr": "h", "d": "d", "day": "d",
    "days": "d", "w": "w", "wk": "w", "mo": "mo", "q": "q", "y": "y", "yr": "y",
}

# spellings of a time unit after `per` or inside Duration<...>
UNIT_SPELLINGS = {
    **{u: u for u in TIME_UNITS},
    **{u.lower(): u for u in TIME_UNITS},
    "Sec": "Second", "Min": "Minute", "Hr": "Hour", "Wk": "Week", "Mo": "Month", "Yr": "Year",
    "Months": "Month", "Years": "Year", "Days": "Day", "Weeks": "Week", "Quarters": "Quarter",
    "Hours": "Hour", "Minutes": "Minute", "Seconds": "Second",
}

# currency symbols with one currency (¥ is JPY or CNY: the declaration decides)
CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
SYMBOL_OF_CURRENCY = {code: symbol for symbol, code in CURRENCY_SYMBOLS.items()}
LITERAL_SYMBOLS = "$€£¥"  # every symbol a money literal may start with
