"""Pages of a list answer as AWS serves them (`MaxRecords`, an opaque `NextToken`), for the
describes moto answers whole: `DescribePolicies` and `DescribeAlarms` page on AWS (at most 100
records, 50 by default), so a client that stops after one page misses records there. Pure."""

from __future__ import annotations

from typing import Any

DEFAULT_RECORDS = 50
MOST_RECORDS = 100
_TOKEN_PREFIX = "zdd-page-"


class PagingError(ValueError):
    """A `MaxRecords` out of range or a `NextToken` this server did not hand out."""


def page(items: list[Any], next_token: str | None, max_records: int | None) -> tuple[list[Any], str | None]:
    """The page of `items` that `next_token` (None: the first) starts, at most `max_records`
    (None: 50) long, and the token of the next page (None: this is the last)."""
    size = DEFAULT_RECORDS if max_records is None else max_records
    if not 1 <= size <= MOST_RECORDS:
        raise PagingError(f"MaxRecords must be between 1 and {MOST_RECORDS}, got {size}")
    start = 0
    if next_token:
        offset = next_token.removeprefix(_TOKEN_PREFIX)
        if not next_token.startswith(_TOKEN_PREFIX) or not offset.isdigit():
            raise PagingError(f"invalid NextToken {next_token!r}")
        start = int(offset)
    end = start + size
    return items[start:end], (f"{_TOKEN_PREFIX}{end}" if end < len(items) else None)
