"""A subject's credit record, from the warehouse: what restricts it, why, since when, on what.

:func:`credit_record` reads, for one credit code, the subject, its restrictions in force (with
memorandum, document number, measure, clause, enforcing agency, dates), their history, and the
listing records behind each (list, reference, dates, removal) with the link evidence (band,
method, probability, what a deterministic link matched on, model version, and its identity
evidence: how the names compare and which independent facts agree). For a legal
representative it also names the listed organisation. The law around them too: the legal basis
of each measure (the national basic list of measures), each listing's severity grade and
publication bounds, whether and from when it may be repaired, the credit-repair applications
and objections (open ones suspend the restrictions they concern), and the joint incentives the
subject receives. :func:`format_credit_record` renders it as text: a person restricted by
mistake can see exactly which record and which link did it.

Example:
    >>> record = credit_record(Path("data/warehouse/credlink.duckdb"), "11010519491231002X")
    ...                                                                   # doctest: +SKIP
    >>> print(format_credit_record(record))                               # doctest: +SKIP

Agency text reaches a person's terminal here, so every value is passed through
:func:`printable`: control characters and escape sequences (ESC, BEL, clear screen, set title,
C1 controls, bidirectional overrides, line separators) are shown escaped (ESC as the four
characters ``\\x1b``), never sent. :func:`check_code_shape` refuses anything but 18
characters of the citizen ID or USCC alphabets before any lookup.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

__all__ = [
    "CodeShapeError",
    "CreditRecord",
    "check_code_shape",
    "credit_record",
    "format_credit_record",
    "printable",
]

#: Unicode categories never written raw to a terminal: controls (C0, DEL, C1), format
#: characters (bidirectional overrides, zero-width), line and paragraph separators, surrogates,
#: private use, unassigned.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escape(ch: str) -> str:
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def printable(value: object) -> str:
    """`value` as text safe for a terminal: every control, format or separator character
    escaped (ESC as the four characters ``\\x1b``, a newline as ``\\x0a``). Rich markup is not
    escaped here: print the result as plain text (``rich.text.Text``, ``markup=False``)."""
    text = str(value)
    if text.isprintable():  # the common case, fast
        return text
    return "".join(_escape(c) if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)


class CodeShapeError(ValueError):
    """A credit code that is neither a citizen identity number nor a USCC by its shape."""


_CITIZEN_ID = re.compile(r"[0-9]{17}[0-9X]")
_USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")


def check_code_shape(code: str) -> str:
    """`code` stripped and upper-cased if it has the shape of a credit code (18 characters: a
    citizen identity number, 17 digits and a digit or X; or a USCC, of the GB 32100 alphabet),
    else :class:`CodeShapeError` naming at most its first 24 characters (escaped)."""
    value = code.strip().upper()
    if len(value) == 18 and (_CITIZEN_ID.fullmatch(value) or _USCC.fullmatch(value)):
        return value
    shown = printable(code[:24]) + ("..." if len(code) > 24 else "")
    raise CodeShapeError(
        f"'{shown}' ({len(code):,} characters) is not a credit code: 18 characters, a citizen "
        "identity number (17 digits and a digit or X) or a USCC (digits and capitals but I, O, "
        "S, V and Z)"
    )


@dataclass(frozen=True)
class CreditRecord:
    """One subject's record in the warehouse (empty frames where it has none)."""

    code: str
    subject: pl.DataFrame  # publish.subjects row (0 or 1)
    restrictions: pl.DataFrame  # in force, with memorandum and measure
    history: pl.DataFrame  # every change, oldest first
    listings: pl.DataFrame  # the listing records behind them, with link evidence
    repairs: pl.DataFrame = field(default_factory=pl.DataFrame)  # its credit-repair cases
    objections: pl.DataFrame = field(default_factory=pl.DataFrame)  # its objections
    incentives: pl.DataFrame = field(default_factory=pl.DataFrame)  # joint incentives in force


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
    ).fetchall()
    return {r[0] for r in rows}


def _optional_rows(
    con: duckdb.DuckDBPyConnection, tables: set[str], table: str, sql: str, params: list[Any]
) -> pl.DataFrame:
    """`sql` on `table`, or no rows when the warehouse predates the table."""
    return con.execute(sql, params).pl() if table in tables else pl.DataFrame()


def credit_record(warehouse: Path, code: str) -> CreditRecord:
    """The credit record of `code` in the warehouse at `warehouse` (opened read-only)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = _tables(con)
        subject = con.execute("SELECT * FROM publish.subjects WHERE credit_code = ?", [code]).pl()
        restrictions = con.execute(
            """
            SELECT r.*, m.title, m.document_number, x.text AS measure, x.category
            FROM publish.restrictions r
            JOIN publish.memoranda m USING (memorandum_id)
            JOIN publish.measures x USING (memorandum_id, measure_id)
            WHERE r.credit_code = ?
            ORDER BY r.memorandum_id, r.measure_id
            """,
            [code],
        ).pl()
        history = con.execute(
            "SELECT * FROM publish.restriction_history WHERE credit_code = ? "
            "ORDER BY seq, restriction_id",
            [code],
        ).pl()
        listings = con.execute(
            """
            SELECT l.* FROM publish.listings l
            WHERE l.unique_id IN (
                SELECT unnest(listing_records) FROM publish.restriction_history
                WHERE credit_code = ?
            ) OR l.credit_code = ? OR l.candidate_code = ?
            ORDER BY l.listed_on, l.unique_id
            """,
            [code, code, code],
        ).pl()
        ids = listings["unique_id"].to_list() if not listings.is_empty() else []
        repairs = _optional_rows(
            con, tables, "publish.repairs",
            "SELECT * FROM publish.repairs WHERE applicant_code = ? OR list_contains(?, unique_id)"
            " ORDER BY filed_on NULLS FIRST, case_id",
            [code, ids],
        )  # fmt: skip
        objections = _optional_rows(
            con, tables, "publish.objections",
            "SELECT * FROM publish.objections WHERE objector_code = ? "
            "OR list_contains(?, unique_id) ORDER BY filed_on NULLS FIRST, objection_id",
            [code, ids],
        )  # fmt: skip
        incentives = _optional_rows(
            con, tables, "publish.incentives",
            "SELECT i.*, x.text AS measure FROM publish.incentives i "
            "LEFT JOIN publish.measures x USING (memorandum_id, measure_id) "
            "WHERE i.credit_code = ? ORDER BY i.memorandum_id, i.measure_id",
            [code],
        )  # fmt: skip
    finally:
        con.close()
    return CreditRecord(
        code, subject, restrictions, history, listings, repairs, objections, incentives
    )


def _day(value: object) -> str:
    return "open-ended" if value is None else printable(value)


class _Safe(dict[str, Any]):
    """A row whose values read back as :func:`printable` text (lists element by element)."""

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if value is None or isinstance(value, int | float):
            return value
        if isinstance(value, list):
            return [printable(v) for v in value]
        return printable(value)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


def _rows(frame: pl.DataFrame) -> list[_Safe]:
    return [_Safe(r) for r in frame.iter_rows(named=True)]


def format_credit_record(record: CreditRecord) -> str:
    """The record as plain text (what ``credlink explain CODE`` prints)."""
    lines = []
    if record.subject.is_empty():
        lines.append(
            f"{printable(record.code)}: not in the warehouse (never linked, never restricted)"
        )
    else:
        s = _rows(record.subject)[0]
        lines.append(
            f"{s['credit_code']} {s['subject_type']} {s['name'] or '(no registry name)'} "
            f"region {s['region'] or '-'}: {s['active_restrictions']} restriction(s) in force, "
            f"{s['pending_restrictions']} pending"
        )
    if not record.restrictions.is_empty():
        lines.append("")
        lines.append("Restrictions in force:")
    for r in _rows(record.restrictions):
        lines.append(
            f"  [{r['status']}] {r['measure']} — enforced by {r['enforcing_agency']}, "
            f"from {r['valid_from']} to {_day(r['valid_to'])}"
        )
        lines.append(
            f"      memorandum {r['memorandum_id']} ({r['document_number']}), clause {r['clause']}"
        )
        if r.get("legal_basis"):
            lines.append(
                f"      legal basis ({r['legal_basis_kind']}): {r['legal_basis']}; national list "
                f"entry {r['list_entry']}"
            )
        if r.get("objection_ids"):
            lines.append(
                f"      suspended while objection(s) {', '.join(r['objection_ids'])} are open"
            )
        via = f" of {', '.join(r['via_codes'])}" if r["via_codes"] else ""
        lines.append(
            f"      as {', '.join(r['roles'])}{via}; listing record(s): "
            f"{', '.join(r['listing_records'])}"
        )
    if not record.listings.is_empty():
        lines.append("")
        lines.append("Listing records and their links:")
    for item in _rows(record.listings):
        removed = (
            f", removed {item['removed_on']} ({item['removal_reason']})"
            if item["removed_on"] is not None
            else ""
        )
        lines.append(
            f"  {item['unique_id']} on {item['list_id']} ({item['reference'] or '-'}): listed "
            f"{item['listed_on']}, effective {item['effective_from']}, own term to "
            f"{_day(item['ends_on'])}{removed}; outcome {item['outcome']}"
        )
        lines.extend(_publication_lines(item))
        prob = item["link_probability"]
        lines.append(
            f"      link: band {item['link_band']}, method {item['link_method']}, "
            f"probability {'-' if prob is None else f'{prob:.4f}'}"
            + (f", matched on {item['matched_on']}" if item["matched_on"] else "")
            + (f", model {item['model_version']}" if item["model_version"] else "")
            + f", code {item['credit_code'] or '-'} (candidate {item['candidate_code'] or '-'})"
        )
        if item.get("name_agreement") is not None:
            facts = ", ".join(item.get("evidence") or []) or "none"
            lines.append(
                f"      identity evidence: name {item['name_agreement']}; facts that agree: {facts}"
            )
    lines.extend(_case_lines(record))
    if not record.incentives.is_empty():
        lines.append("")
        lines.append("Joint incentives in force:")
    for i in _rows(record.incentives):
        lines.append(
            f"  [{i['status']}] {i['measure']} — granted by {i['enforcing_agency']}, from "
            f"{i['valid_from']} to {_day(i['valid_to'])}; memorandum {i['memorandum_id']}, "
            f"clause {i['clause']}; record(s): {', '.join(i['listing_records'])}"
        )
    if not record.history.is_empty():
        lines.append("")
        lines.append("History:")
    for h in _rows(record.history):
        reason = f" ({h['reason']})" if h["reason"] else ""
        if h.get("case_id"):
            reason += f" [case {h['case_id']}]"
        lines.append(
            f"  {h['as_of']} run {h['run_id']}: {h['memorandum_id']}/{h['measure_id']} "
            f"{h['change']}{reason} -> {h['status']} {h['valid_from']} to {_day(h['valid_to'])}"
        )
    return "\n".join(lines)


def _publication_lines(item: _Safe) -> list[str]:
    """A listing's severity, publication bounds and repair eligibility (when the warehouse
    has them)."""
    if item.get("severity") is None:
        return []
    shown = "published" if item.get("published") else "not published"
    ended = item.get("outcome") in ("repaired", "withdrawn")
    lines = [
        f"      severity {item['severity']}: {shown} from {_day(item['publication_from'])} to "
        f"{_day(item['publication_to'])} (stops by itself then)"
        + (f"; publication stopped: {item['outcome']}" if ended else "")
    ]
    if item.get("repairable"):
        met = "met" if item.get("obligations_met") else "not met yet"
        lines.append(
            f"      credit repair: may be applied for from {_day(item['repair_from'])}; "
            f"obligations {met}; a credit commitment is required"
        )
    else:
        lines.append(f"      credit repair: not repairable ({item['not_repairable_reason']})")
    return lines


def _case_lines(record: CreditRecord) -> list[str]:
    """Its credit-repair cases and objections."""
    lines: list[str] = []
    if not record.repairs.is_empty():
        lines += ["", "Credit repair:"]
    for r in _rows(record.repairs):
        filed = f"filed {r['filed_on']}" if r["filed_on"] is not None else "reported by the agency"
        outcome = (
            f"accepted, restrictions lifted from {_day(r['effective_from'])}"
            if r["outcome"] == "accepted"
            else f"refused: {r['refusal_reason']}"
            + (f" (may apply from {r['may_apply_from']})" if r["may_apply_from"] else "")
        )
        lines.append(f"  {r['case_id']} ({r['kind']}) on {r['unique_id']}, {filed}: {outcome}")
    if not record.objections.is_empty():
        lines += ["", "Objections:"]
    for o in _rows(record.objections):
        filed = f"filed {o['filed_on']}" if o["filed_on"] is not None else "by the agency"
        state = o["status"]
        if o["decided_on"] is not None:
            state += f" on {o['decided_on']}" + (
                f" ({o['decision_reason']})" if o["decision_reason"] else ""
            )
        if o["refusal_reason"]:
            state += f": {o['refusal_reason']}"
        lines.append(
            f"  {o['objection_id']} to the {o['scope']} {o['unique_id']}, {filed}: {state}"
        )
    return lines
