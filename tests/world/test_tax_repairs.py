"""Simulated credit repairs of major tax violators (world/agencies/tax.py): the documented rate
(``EventRates.tax_repair`` of the cases paid in full), the repair dates (at or after payment
and one year of publication), and nothing else of the world changes with them."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from credlink.world.agencies import tax
from credlink.world.config import EventRates, WorldConfig
from credlink.world.generate import _streams, generate_world, world_registries

REPAIRED = "信用修复"
PAID = "已缴清税款、滞纳金和罚款"
#: many cases over six years, so that the realised share is measured closely
RATES = replace(EventRates(), tax_violations=3.0)
CFG = WorldConfig(persons=2000, seed=17, start=date(2019, 1, 1), end=date(2024, 12, 31),
                  out=Path("unused"), rates=RATES)  # fmt: skip


#: paid within 900 days of publication, repaired at most 60 days after the later of payment and
#: one year: every decision on a case published by then is made by the end
SETTLED = date(2024, 12, 31) - timedelta(days=960)


def _date(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String).str.strptime(pl.Date, "%Y%m%d")


@pytest.fixture(scope="module")
def cases() -> pl.DataFrame:
    """The tax bureau's major violation cases of `CFG`, in memory, with days as dates."""
    reg = world_registries(CFG)
    built = tax.generate(np.random.default_rng(_streams(CFG)[2]), CFG, reg)
    return built.tables["zdsswfaj"].with_columns(
        _date("gbrq").alias("published"),
        _date("jqrq").alias("paid"),
        _date("ycrq").alias("removed"),
    )


def test_the_documented_share_of_paid_cases_is_repaired(cases: pl.DataFrame) -> None:
    assert RATES.tax_repair == EventRates().tax_repair == 0.25
    # cases published long enough before the end that every decision on them is seen
    settled = cases.filter(pl.col("paid").is_not_null() & (pl.col("published") <= SETTLED))
    assert settled.height > 500
    share = (settled["ycyy"] == REPAIRED).mean()
    assert share == pytest.approx(RATES.tax_repair, abs=0.05)
    # every paid case is removed: on payment (tax_paid) or on its repair
    assert set(settled["ycyy"]) == {PAID, REPAIRED}


def test_repairs_come_after_payment_and_the_minimum_publication_period(
    cases: pl.DataFrame,
) -> None:
    repaired = cases.filter(pl.col("ycyy") == REPAIRED)
    assert repaired.height > 100
    assert repaired["paid"].null_count() == 0
    assert (repaired["removed"] >= repaired["paid"]).all()
    one_year = repaired["published"].dt.offset_by("1y")
    assert (repaired["removed"] >= one_year).all()
    assert (repaired["removed"] <= pl.Series([CFG.end])).all()
    # within the serious grade's maximum of 3 years of publication
    assert (repaired["removed"] < repaired["published"].dt.offset_by("3y")).all()
    # the repair decision's number: only on a repair, of the listing province's bureau
    assert repaired["xyxfwh"].null_count() == 0
    assert (
        cases.filter(pl.col("ycyy") != REPAIRED)["xyxfwh"].null_count()
        == cases.filter(pl.col("ycyy") != REPAIRED).height
    )
    assert (repaired["xyxfwh"].str.slice(0, 1) == repaired["ajbh"].str.slice(0, 1)).all()
    assert repaired["xyxfwh"].str.contains(r"^\p{Han}税信修〔20\d\d〕\d+号$").all()
    # paid and removed that day otherwise (as before repairs existed)
    paid = cases.filter(pl.col("ycyy") == PAID)
    assert (paid["removed"] == paid["paid"]).all()
    # paid, repair not decided yet by the end: still published, the payment shows
    waiting = cases.filter(pl.col("paid").is_not_null() & pl.col("removed").is_null())
    assert waiting.height > 0
    assert (waiting["published"] > SETTLED).all()


def _tables(db: Path) -> dict[str, pl.DataFrame]:
    with sqlite3.connect(db) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = {}
        for name in sorted(names):
            cur = con.execute(f'SELECT * FROM "{name}"')
            cols = [d[0] for d in cur.description]
            out[name] = pl.DataFrame(
                cur.fetchall(), schema=cols, orient="row", infer_schema_length=None
            )
    return out


def test_repairs_change_nothing_else_of_the_world(tmp_path: Path) -> None:
    """The same world without repairs and with every paid case repaired: the registries and
    the other agencies are identical, and so is every tax row and column but the repaired
    cases' withdrawal (day, reason, decision) and update time."""
    small = replace(CFG, persons=1000, start=date(2020, 1, 1), rates=replace(RATES,
                    tax_violations=1.0))  # fmt: skip
    worlds = {}
    for rate in (0.0, 1.0):
        out = tmp_path / f"rate{rate}"
        generate_world(replace(small, out=out, rates=replace(small.rates, tax_repair=rate)))
        worlds[rate] = out
    none, every = worlds[0.0], worlds[1.0]
    dbs = sorted(p.relative_to(none) for p in none.glob("*/*.db"))
    assert len(dbs) >= 6  # two registries, the tax bureau and the other agencies
    for db in dbs:
        if db.name == "tax.db":
            continue
        a, b = _tables(none / db), _tables(every / db)
        assert a.keys() == b.keys()
        for name in a:
            assert a[name].equals(b[name]), f"{db}: {name}"
    assert pl.read_parquet(none / "truth" / "records.parquet").equals(
        pl.read_parquet(every / "truth" / "records.parquet")
    )
    a, b = _tables(none / "agencies" / "tax.db"), _tables(every / "agencies" / "tax.db")
    assert a["nsrxx"].equals(b["nsrxx"]) and a["nsxypj"].equals(b["nsxypj"])
    before, after = a["zdsswfaj"], b["zdsswfaj"]
    assert REPAIRED not in set(before["ycyy"].drop_nulls())
    repaired = after["ycyy"] == REPAIRED
    assert repaired.sum() > 5
    changed = ["ycrq", "ycyy", "xyxfwh", "modified_ts"]
    assert before.drop(changed).equals(after.drop(changed))
    assert before.filter(~repaired).equals(after.filter(~repaired))
    # without repairs every case paid by the end was removed on payment
    assert (before.filter(pl.col("jqrq").is_not_null())["ycyy"] == PAID).all()
