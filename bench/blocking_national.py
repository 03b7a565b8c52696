"""Blocking rules for a national population: what each rule set costs and what it finds.

    .venv/bin/python bench/blocking_national.py --world W100K/world --lake W100K/lake \\
        --world W1M/world --lake W1M/lake

For the person records the model gets (those the deterministic pass left, as the linkage stage
gives them) and the person spine, for each rule set below: the pairs it makes (exact, DuckDB),
the share of the records whose true entry it pairs them with (blocking recall: a record its
rules never pair with its entry can never be linked), and the pairs at 1.4 billion persons by
the exponent of the pairs' growth between the two worlds. Worlds from ``bench/scale.py``
(``<work>/w<persons>/world`` and ``lake``). Figures in docs/scale.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

NATIONAL_PERSONS = 1_400_000_000

#: The production person model's rules (linkage/models/person-*.json), in its order.
CURRENT = [
    "l.birth_ymd = r.birth_ymd",
    "l.id_region = r.id_region and l.id_tail = r.id_tail",
    "l.id_tail = r.id_tail and l.birth_year = r.birth_year",
    "l.name_pinyin = r.name_pinyin",
    "l.surname_pinyin = r.surname_pinyin and l.birth_year = r.birth_year",
    "l.household_region = r.household_region and l.given_pinyin = r.given_pinyin",
]
#: Without the rule on a surname and a birth year: the largest blocks of a national population
#: (a common surname such as Wang, about 7% of the population, born in one year).
WITHOUT_SURNAME_YEAR = [rule for i, rule in enumerate(CURRENT) if i != 4]
#: The rules on names bound by the province of the identifier or of the household register
#: (two digits of the region code), the birth day by the surname.
PROVINCE = "(substr(l.id_region, 1, 2) = substr(r.id_region, 1, 2) or " \
    "substr(l.household_region, 1, 2) = substr(r.household_region, 1, 2))"  # fmt: skip
BY_PROVINCE = [
    "l.birth_ymd = r.birth_ymd and l.surname_pinyin = r.surname_pinyin",
    CURRENT[1],
    CURRENT[2],
    f"l.name_pinyin = r.name_pinyin and {PROVINCE}",
    f"l.surname_pinyin = r.surname_pinyin and l.birth_year = r.birth_year and {PROVINCE}",
    CURRENT[5],
]
RULE_SETS = {
    "current (the production model)": CURRENT,
    "without surname + birth year": WITHOUT_SURNAME_YEAR,
    "names bound by province": BY_PROVINCE,
    **{f"alone: `{rule}`": [rule] for rule in CURRENT},
}


def inputs(world: Path, lake_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The model's person records with their true entry, and the person spine."""
    from bench_stages import model_inputs

    from credlink.linkage.quality import read_truth

    ((_, records, spine),) = model_inputs(lake_dir, ["person"])
    truth = read_truth(world).select("unique_id", "true_code")
    return records.join(truth, on="unique_id", how="left"), spine


def measure(records: pl.DataFrame, spine: pl.DataFrame, rules: Sequence[str]) -> dict[str, int]:
    """Pairs of the rule set (each pair once) and records paired with their true entry."""
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false")
    con.register("recs", records.to_arrow())
    con.register("spine", spine.to_arrow())
    union = " UNION ".join(
        f"SELECT l.unique_id AS rid, r.unique_id AS sid FROM recs l JOIN spine r ON ({rule})"
        for rule in rules
    )
    row = con.sql(
        f"WITH pairs AS ({union}) SELECT count(*), count(DISTINCT p.rid) FILTER "
        "(WHERE p.sid = t.true_code) FROM pairs p JOIN recs t ON t.unique_id = p.rid"
    ).fetchone()
    linkable = con.sql(
        "SELECT count(*) FROM recs WHERE true_code IN (SELECT unique_id FROM spine)"
    ).fetchone()
    con.close()
    assert row is not None and linkable is not None
    return {"pairs": int(row[0]), "found": int(row[1]), "linkable": int(linkable[0]),
            "records": records.height, "spine": spine.height}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--world", type=Path, action="append", required=True)
    p.add_argument("--lake", type=Path, action="append", required=True)
    opts = p.parse_args(argv)
    if len(opts.world) != len(opts.lake):
        sys.exit("give one --lake per --world")
    worlds = [inputs(w, lk) for w, lk in zip(opts.world, opts.lake, strict=True)]
    sizes = [spine.height for _, spine in worlds]
    print("| rule set | " + " | ".join(f"{n:,} persons: records, pairs, recall" for n in sizes)  # noqa: T201
          + " | exponent | pairs at 1.4 bn persons |")  # fmt: skip
    print("|---|" + "---:|" * (len(worlds) + 2))  # noqa: T201
    for name, rules in RULE_SETS.items():
        got = [measure(records, spine, rules) for records, spine in worlds]
        cells = " | ".join(f"{g['records']:,}, {g['pairs']:,}, "
                           f"{g['found'] / max(g['linkable'], 1):.4f}" for g in got)  # fmt: skip
        (a, b) = got[-2], got[-1]
        if a["pairs"] == 0 or b["pairs"] == 0:  # no growth to measure
            print(f"| {name} | {cells} | n/a | n/a |")  # noqa: T201
            continue
        exp_ = math.log(b["pairs"] / a["pairs"]) / math.log(b["spine"] / a["spine"])
        national = b["pairs"] * (NATIONAL_PERSONS / b["spine"]) ** exp_
        print(f"| {name} | {cells} | {exp_:.2f} | {national:,.0f} |")  # noqa: T201


if __name__ == "__main__":
    main()
