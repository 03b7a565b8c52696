"""etl.standardise.values: text, dates, timestamps and amounts in every format the sources use."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from credlink.etl.standardise.values import EPOCH_SECONDS, amounts, dates, text, timestamps

COURTS = ["%Y年%m月%d日", "%Y-%m-%d"]


def test_text_normalises_width_trims_and_nulls_empty() -> None:
    s = pl.Series("x", ["  ＡＢＣ１２３ ", "", "\u3000", None, "a  b"])
    out = text(s)
    assert out.to_list() == ["ABC123", None, None, None, "a  b"]
    assert out.name == "x"
    assert text(pl.Series([12, None])).to_list() == ["12", None]


@pytest.mark.parametrize(
    ("raw", "formats", "expected"),
    [
        ("2023年03月05日", COURTS, date(2023, 3, 5)),  # courts' habit
        ("2023-03-05", COURTS, date(2023, 3, 5)),  # a courts' slip, transport's habit
        ("２０２３年０３月０５日", COURTS, date(2023, 3, 5)),  # full-width digits
        (" 2023年03月05日 ", COURTS, date(2023, 3, 5)),
        ("2023/03/05", ["%Y/%m/%d"], date(2023, 3, 5)),  # food
        ("20230305", ["%Y%m%d"], date(2023, 3, 5)),
        ("2023年02月30日", COURTS, None),  # no such day
        ("2023/03/05", COURTS, None),  # a format not listed
        ("next week", COURTS, None),
        ("", COURTS, None),
        (None, COURTS, None),
    ],
)
def test_dates_from_text(raw: str | None, formats: list[str], expected: date | None) -> None:
    assert dates(pl.Series([raw], dtype=pl.String), formats).to_list() == [expected]


def test_dates_from_integers_as_the_tax_agency_writes_them() -> None:
    s = pl.Series("djrq", [20230305, None, 20230231, 2023], dtype=pl.Int64)
    out = dates(s, ["%Y%m%d"])
    assert out.dtype == pl.Date
    assert out.name == "djrq"
    assert out.to_list() == [date(2023, 3, 5), None, None, None]


def test_dates_try_formats_in_order_and_keep_row_order() -> None:
    raw = ["2024-01-02", "2024年01月03日", "2024-01-02", None, "2024年01月03日"]
    out = dates(pl.Series(raw), COURTS)
    jan2, jan3 = date(2024, 1, 2), date(2024, 1, 3)
    assert out.to_list() == [jan2, jan3, jan2, None, jan3]
    # The first format that reads a value wins: day-first before month-first.
    assert dates(pl.Series(["03/04/2024"]), ["%d/%m/%Y", "%m/%d/%Y"]).item() == date(2024, 4, 3)


def test_dates_pass_dates_through_and_truncate_datetimes() -> None:
    d = pl.Series([date(2024, 5, 6)])
    assert dates(d, COURTS).to_list() == [date(2024, 5, 6)]
    dt = pl.Series([datetime(2024, 5, 6, 23, 59)])
    assert dates(dt, COURTS).to_list() == [date(2024, 5, 6)]
    assert dates(pl.Series(["2024-05-06"]), []).to_list() == [None]


def test_timestamps_epoch_seconds_are_utc() -> None:
    out = timestamps(pl.Series([1_700_000_000, None]), EPOCH_SECONDS, "UTC")
    assert out.dtype == pl.Datetime("us", "UTC")
    assert out.to_list() == [datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), None]
    # Epoch seconds typed as text work too; junk is null.
    text_epochs = timestamps(pl.Series(["1700000000", "x"]), EPOCH_SECONDS)
    assert text_epochs.to_list() == [datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), None]


def test_timestamps_with_offset_carry_their_own_zone() -> None:
    s = pl.Series(["2024-03-05T14:07:00+08:00", "2024-03-05T14:07:00+00:00", "bad"])
    out = timestamps(s, "%Y-%m-%dT%H:%M:%S%z", "Europe/London")  # the zone is not used
    assert out.dtype == pl.Datetime("us", "UTC")
    assert out.to_list() == [
        datetime(2024, 3, 5, 6, 7, tzinfo=UTC),
        datetime(2024, 3, 5, 14, 7, tzinfo=UTC),
        None,
    ]


@pytest.mark.parametrize(
    ("raw", "fmt"),
    [
        ("2024-03-05 14:07:00", "%Y-%m-%d %H:%M:%S"),  # courts, registries
        ("2024/03/05 14:07", "%Y/%m/%d %H:%M"),  # food, minutes only
    ],
)
def test_timestamps_naive_are_local_time(raw: str, fmt: str) -> None:
    out = timestamps(pl.Series([raw, None]), fmt, "Asia/Shanghai")
    assert out.dtype == pl.Datetime("us", "UTC")
    assert out.to_list() == [datetime(2024, 3, 5, 6, 7, tzinfo=UTC), None]


def test_timestamps_in_a_zone_with_daylight_saving() -> None:
    fmt = "%Y-%m-%d %H:%M"
    # 02:30 did not exist in New York on 2024-03-10; 01:30 happened twice on 2024-11-03.
    out = timestamps(pl.Series(["2024-03-10 02:30", "2024-11-03 01:30"]), fmt, "America/New_York")
    assert out.to_list() == [None, datetime(2024, 11, 3, 5, 30, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234,567.00", 1234567.0),  # courts' ZXBD
        ("¥1,234", 1234.0),
        ("￥1,234", 1234.0),  # full-width yen sign
        ("1234元", 1234.0),
        ("人民币1,234.50元", 1234.5),
        ("RMB 88", 88.0),
        ("1.5万元", 15000.0),
        ("-12.5", -12.5),
        ("-¥12.5", -12.5),
        ("+7", 7.0),
        ("１２３", 123.0),  # full-width digits
        (".5", 0.5),
        ("1 2", None),  # two numbers
        ("12abc", None),
        ("inf", None),
        ("1e5", None),
        ("--1", None),
        ("", None),
        (None, None),
    ],
)
def test_amounts(raw: str | None, expected: float | None) -> None:
    out = amounts(pl.Series([raw], dtype=pl.String))
    assert out.dtype == pl.Float64
    assert out.to_list() == [expected]


def test_amounts_from_numbers() -> None:
    out = amounts(pl.Series("fine_yuan", [1200, None, -3]))
    assert out.dtype == pl.Float64
    assert out.name == "fine_yuan"
    assert out.to_list() == [1200.0, None, -3.0]


def test_every_function_keeps_length_on_nulls_and_empty_input() -> None:
    for s in (pl.Series([None, None], dtype=pl.String), pl.Series([], dtype=pl.String)):
        for out in (
            text(s),
            dates(s, COURTS),
            amounts(s),
            timestamps(s, "%Y-%m-%d %H:%M:%S", "Asia/Shanghai"),
            timestamps(s, EPOCH_SECONDS, "UTC"),
        ):
            assert len(out) == len(s)
            assert out.null_count() == len(s)
