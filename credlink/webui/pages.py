"""What the platform pages read: the quality tables ``credlink quality`` stores, and subjects by
name.

The quality tables are those :func:`linkage.quality.measure_linkage_quality` and
:func:`publish.quality.measure_restriction_quality` store in the lake (``linkage.quality``,
``linkage.who_fails``, ``linkage.restriction_quality``): measured against a world's ground
truth, so they exist only where someone ran ``credlink quality`` on a world with truth. The
pages say so when a table is missing rather than showing nothing.

Example:
    >>> [t.title for t in platform_tables(lake)]                          # doctest: +SKIP
    ['Linkage quality', 'Restriction quality', 'Who fails to link']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from credlink.etl.lake import Lake

__all__ = ["Table", "platform_tables", "search_subjects"]

#: (title, lake table, columns shown, what it is)
QUALITY_TABLES = (
    (
        "Linkage quality",
        "quality",
        ["subject_type", "source", "table", "records", "linkable", "absent", "accepted",
         "precision", "recall", "f1", "link_rate", "review_share", "absent_linked"],
        "the last linkage run against the world's ground truth (linkage.quality)",
    ),
    (
        "Restriction quality",
        "restriction_quality",
        ["memorandum_id", "enforcing_agency", "as_of", "expected", "imposed", "right",
         "wrongful", "held_in_review", "missed", "recall", "precision", "listings_in_review"],
        "the published restrictions against the truth (linkage.restriction_quality)",
    ),
    (
        "Who fails to link",
        "who_fails",
        ["subject_type", "dimension", "value", "linkable", "linked", "recall", "in_review",
         "missed"],
        "recall by the records' traits (linkage.who_fails)",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Table:
    """A table of a platform page: title, what it is, columns and rows (None: not measured)."""

    title: str
    about: str
    columns: list[str]
    rows: list[list[Any]] | None


def platform_tables(lake: Lake) -> list[Table]:
    """The quality tables of the lake (rows None where ``credlink quality`` never ran)."""
    out = []
    for title, name, cols, about in QUALITY_TABLES:
        frame = lake.read("linkage", name)
        if frame.is_empty():
            out.append(Table(title, about, cols, None))
            continue
        shown = [c for c in cols if c in frame.columns]
        out.append(Table(title, about, shown, [list(r) for r in frame.select(shown).iter_rows()]))
    return out


def search_subjects(warehouse: Path, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """Subjects of the published warehouse whose registry name contains `text` (or whose code
    starts with it), most restricted first; empty before the first publish run."""
    if not warehouse.is_file():
        return []
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            """
            SELECT credit_code, subject_type, name, region, active_restrictions,
                   pending_restrictions
            FROM publish.subjects
            WHERE contains(name, ?) OR starts_with(credit_code, upper(?))
            ORDER BY active_restrictions DESC, credit_code
            LIMIT ?
            """,
            [text, text, limit],
        ).pl()
    finally:
        con.close()
    return rows.to_dicts()
