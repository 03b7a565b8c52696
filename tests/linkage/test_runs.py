"""Run bookkeeping: a :class:`LinkageRun` is a row of ``linkage.runs``, typed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from credlink.linkage.runs import LinkageRun, runs_frame
from credlink.linkage.tables import RUNS_COLUMNS


def _run(**changes: object) -> LinkageRun:
    row = LinkageRun(
        run_id="r1",
        logical_date=datetime(2026, 1, 2, 8, tzinfo=ZoneInfo("Asia/Shanghai")),
        subject_type="person",
        mode="full",
        full_reason="no previous run",
        model_version="person-20261201-7b4d7475",
        accept=0.99,
        review=0.3,
        evidence_policy="abc",
        fingerprint_scheme="polars-hash",
        records=12,
        spine_entries=40,
        spine_mode="rebuilt",
        spine_changed=40,
        relinked=12,
        kept=0,
        relinked_new=12,
        relinked_changed=None,
        relinked_spine_changed=None,
        relinked_not_accepted=None,
        seconds=1.25,
    )
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]


def test_a_run_has_the_columns_of_linkage_runs_in_their_order() -> None:
    assert [f.name for f in dataclasses.fields(LinkageRun)] == list(RUNS_COLUMNS)


def test_runs_become_rows_of_linkage_runs() -> None:
    incremental = _run(mode="incremental", full_reason=None, relinked=1, kept=11,
                       relinked_new=0, relinked_changed=1, relinked_spine_changed=0,
                       relinked_not_accepted=0, accept=1)  # fmt: skip
    frame = runs_frame([_run(), incremental])
    assert frame.schema == RUNS_COLUMNS
    assert frame["logical_date"].to_list() == [datetime(2026, 1, 2, 0, tzinfo=UTC)] * 2
    assert frame["full_reason"].to_list() == ["no previous run", None]
    assert frame["relinked_changed"].to_list() == [None, 1]
    assert frame["accept"].to_list() == [0.99, 1.0]
    assert runs_frame([]).schema == RUNS_COLUMNS
