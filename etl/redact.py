"""Personal data kept out of messages and logs: identifiers masked, record keys masked when
the key itself is personal data.

An identifier keeps its first 6 and last 2 characters (`342301**********24`: the region of a
citizen ID, never the birth date), a USCC or any other identifier likewise; short values are
masked whole. Messages name source, table, column and the
record, never a raw identifier.

Example:
    >>> mask_identifier("342301196405183224")
    '342301**********24'
    >>> mask_identifier("abc")
    '***'
"""

from __future__ import annotations

import re

from credlink.etl.contracts import Table

KEEP_HEAD = 6
KEEP_TAIL = 2

#: What an identifier looks like inside free text (an exception message, a log line): citizen
#: IDs (18 and 15 digits, masked ones), USCCs, organisation codes, passport-like numbers.
_IDENTIFIER_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"\d{17}[\dXx]|\d{15}|\d{10}\*{4}\d{3}[\dXx]"
    r"|[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}"
    r"|[0-9A-Z]{8}-[0-9X]"
    r"|[A-Z]{1,2}\d{7,8}"
    r")(?![0-9A-Za-z])"
)


def mask_identifier(value: object) -> str:
    """`value` with all but its first 6 and last 2 characters masked (all of it when short)."""
    text = str(value)
    if len(text) <= KEEP_HEAD + KEEP_TAIL + 2:
        return "*" * len(text)
    return text[:KEEP_HEAD] + "*" * (len(text) - KEEP_HEAD - KEEP_TAIL) + text[-KEEP_TAIL:]


def key_is_personal(table: Table) -> bool:
    """Whether the table's primary key holds personal data (an identifier or PII column)."""
    return any(table.column(c).identifier or table.column(c).pii for c in table.primary_key)


def record_label(table: Table, record_id: object) -> str:
    """How a message names a record: its key, masked when the key is personal data."""
    if record_id is None:
        return "(NULL key)"
    return mask_identifier(record_id) if key_is_personal(table) else str(record_id)


def mask_text(text: str) -> str:
    """`text` with everything that looks like an identifier masked.

    Example:
        >>> mask_text("value '342301196405183224' at row 3")
        "value '342301**********24' at row 3"
    """
    return _IDENTIFIER_IN_TEXT.sub(lambda m: mask_identifier(m.group(0)), text)
