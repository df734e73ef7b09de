"""Exceptions raised by order_exec_gym."""

from __future__ import annotations


class DataError(ValueError):
    """Market data that breaks a rule of the canonical bar schema.

    The message names the rule, the file, the instrument and the timestamp where it is broken.
    """

    def __init__(self, rule: str, *, source: str = "?", symbol: str | None = None, timestamp=None, detail: str = ""):
        self.rule = rule
        self.source = source
        self.symbol = symbol
        self.timestamp = timestamp
        self.detail = detail
        where = f"in {source}"
        if symbol is not None:
            where += f", symbol {symbol}"
        if timestamp is not None:
            where += f", at {timestamp}"
        message = f"{rule} {where}"
        if detail:
            message += f": {detail}"
        super().__init__(message)

    def with_source(self, source: str) -> DataError:
        """The same error, naming ``source`` (e.g. the file of the offending row, where the rule saw many)."""
        return DataError(self.rule, source=source, symbol=self.symbol, timestamp=self.timestamp, detail=self.detail)
