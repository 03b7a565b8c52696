"""Identity errors of the generated world (issue 11): each kind at its configured rate among the
records eligible for it, logged per record in the truth, and really what it claims to be.

One 5,000-person world with raised identity-error rates (and more events, so that each rate has
a few hundred eligible records) is shared by the module; the look-alike subjects, whose pools
are small in such a world (25 foreigners, 25 unregistered businesses), have their rates measured
on larger pools built by the same registry functions.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from credlink.cli import app
from credlink.etl.identifiers import is_valid_ric, is_valid_uscc
from credlink.world import codes, names, registries
from credlink.world.config import (
    IDENTITY_ERRORS,
    EventRates,
    NoiseConfig,
    WorldConfig,
    WorldConfigError,
)
from credlink.world.generate import generate_world, world_registries
from credlink.world.names.organisations import prefecture_shorts
from credlink.world.registries import Registries

RAISED = NoiseConfig(
    other_person_id=0.05,
    relative_id=0.15,
    other_firm_uscc=0.05,
    foreign_namesake=0.3,
    passport_no_number=0.2,
    unregistered_lookalike=0.3,
    same_name_birthday=0.05,
    unregistered_subject=0.1,
)
BUSY = EventRates(
    court_cases_person=0.3,
    court_cases_org=0.5,
    flight_bans=0.2,
    rail_bans=0.2,
    tax_violations=0.05,
    food_licensed_91=0.3,
)
CFG = {"persons": 5000, "seed": 13, "start": date(2024, 1, 1), "end": date(2025, 6, 30)}
#: Typing noise that leaves a record without its subject's intact identifier.
TYPED_PERSON = ("legacy_id", "id_mistype", "id_missing")
TYPED_ORG = ("id_mistype", "id_missing")


def read(db: Path, table: str) -> pl.DataFrame:
    with sqlite3.connect(db) as con:
        cur = con.execute(f'SELECT * FROM "{table}"')
        cols = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=cols, orient="row", infer_schema_length=None)


def has(kind: str) -> pl.Expr:
    return pl.col("noise").str.split(",").list.contains(kind)


def has_any(kinds: tuple[str, ...]) -> pl.Expr:
    return pl.any_horizontal([has(k) for k in kinds])


def assert_rate(hits: int, eligible: int, rate: float, minimum: int = 200) -> None:
    """Realised share within 4 standard errors (plus 0.5 point) of the setting."""
    assert eligible >= minimum, f"too few eligible records ({eligible}) to measure a rate"
    share = hits / eligible
    tolerance = 4 * (rate * (1 - rate) / eligible) ** 0.5 + 0.005
    assert abs(share - rate) <= tolerance, f"{hits}/{eligible} = {share:.4f}, setting {rate}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = WorldConfig(out=tmp_path_factory.mktemp("identity"), noise=RAISED, rates=BUSY, **CFG)  # type: ignore[arg-type]
    generate_world(cfg)
    return cfg.out


@pytest.fixture(scope="module")
def reg(world: Path) -> Registries:
    """The world's registries in memory, with their helper columns."""
    return world_registries(WorldConfig(out=world, noise=RAISED, rates=BUSY, **CFG))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def truth(world: Path) -> pl.DataFrame:
    return pl.read_parquet(world / "truth" / "records.parquet")


@pytest.fixture(scope="module")
def people(world: Path) -> pl.DataFrame:
    """The population registry as written, with surname and ID county."""
    persons = read(world / "registries" / "population.db", "person")
    surname, _ = names.split_names(persons["name"].to_numpy())
    return persons.with_columns(
        pl.Series("surname", surname), pl.col("citizen_id").str.slice(0, 6).alias("id_region")
    )


@pytest.fixture(scope="module")
def firms(world: Path) -> pl.DataFrame:
    return read(world / "registries" / "legal_entities.db", "legal_entity")


def records(
    world: Path, truth: pl.DataFrame, db: str, table: str, key: str, column: str
) -> pl.DataFrame:
    """Subject records of one table with their truth, the identifier as `value`, originals
    only (a duplicate repeats its original's draws)."""
    rows = read(world / "agencies" / f"{db}.db", table).with_columns(pl.col(key).cast(pl.String))
    sub = truth.filter(pl.col("source_table") == table, pl.col("role") == "subject")
    joined = rows.join(sub, left_on=key, right_on="source_record_id", validate="1:1")
    return joined.with_columns(pl.col(column).alias("value")).filter(~has("duplicate"))


def person_records(world: Path, truth: pl.DataFrame) -> pl.DataFrame:
    """Records of persons carrying a full citizen ID or passport: court cases and bans."""
    frames = [
        records(world, truth, "courts", "ZXAJ", "AJBS", "BZXRZJHM"),
        records(world, truth, "transport", "FlightBan", "Id", "IdNumber"),
        records(world, truth, "transport", "RailBan", "Id", "IdNumber"),
    ]
    cols = ["source_table", "value", "true_credit_code", "noise", "subject_type"]
    return pl.concat([f.select(cols) for f in frames]).filter(pl.col("subject_type") == "person")


def intact_persons(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.filter(pl.col("true_credit_code").is_not_null(), ~has_any(TYPED_PERSON))


def masked_listing(world: Path, truth: pl.DataFrame) -> pl.DataFrame:
    return records(world, truth, "courts", "SXBZXR", "SXID", "ZJHM").filter(
        pl.col("subject_type") == "person", pl.col("true_credit_code").is_not_null()
    )


# ---------------------------------------------------------------------------------------------
# records naming the wrong subject


def test_other_person_id(world: Path, truth: pl.DataFrame, people: pl.DataFrame) -> None:
    rows = intact_persons(person_records(world, truth))
    marked = rows.filter(has("other_person_id"))
    assert_rate(marked.height, rows.height, RAISED.other_person_id)
    # Another registry person's valid ID, of an adult; the truth stays the subject's.
    births = people["birth_date"].str.to_date()
    adults = set(people.filter(births <= births.max() - pl.duration(days=18 * 365))["citizen_id"])
    assert all(is_valid_ric(v) for v in marked["value"])
    assert set(marked["value"]) <= adults
    assert (marked["value"] != marked["true_credit_code"]).all()
    # The court list: the other person's masked ID, as often among the listed persons.
    listed = masked_listing(world, truth)
    marked = listed.filter(has("other_person_id"))
    assert_rate(marked.height, listed.height, RAISED.other_person_id)
    masks = set(codes.mask_citizen_ids(np.array(sorted(adults))).tolist())
    assert set(marked["value"]) <= masks
    own = codes.mask_citizen_ids(marked["true_credit_code"].to_numpy().astype(str))
    assert (marked["value"].to_numpy() != own).all()
    unmarked = listed.filter(~has("other_person_id") & ~has("relative_id"))
    own = codes.mask_citizen_ids(unmarked["true_credit_code"].to_numpy().astype(str))
    assert (unmarked["value"].to_numpy() == own).all()


def _counties(people: pl.DataFrame) -> pl.DataFrame:
    """(citizen_id, surname, county) for both the household and the ID county."""
    return pl.concat(
        [
            people.select("citizen_id", "surname", pl.col(c).alias("county"))
            for c in ("household_region", "id_region")
        ]
    ).unique()


def test_relative_id(world: Path, truth: pl.DataFrame, people: pl.DataFrame) -> None:
    counties = _counties(people)
    kin = counties.join(counties, on=["surname", "county"], suffix="_kin").filter(
        pl.col("citizen_id") != pl.col("citizen_id_kin")
    )
    with_kin = kin["citizen_id"].unique().implode()
    rows = intact_persons(person_records(world, truth)).filter(~has("other_person_id"))
    listed = masked_listing(world, truth).filter(~has("other_person_id"))
    # A record whose subject has no relative in the registry is never marked.
    for frame in (rows, listed):
        alone = frame.filter(~pl.col("true_credit_code").is_in(with_kin))
        assert not alone.select(has("relative_id")).to_series().any()
    eligible = rows.filter(pl.col("true_credit_code").is_in(with_kin))
    marked = eligible.filter(has("relative_id"))
    assert_rate(marked.height, eligible.height, RAISED.relative_id)
    # The relative: a valid ID of another registry person, same surname, a county in common.
    assert all(is_valid_ric(v) for v in marked["value"])
    pairs = set(kin.select("citizen_id", "citizen_id_kin").iter_rows())
    assert all(pair in pairs for pair in marked.select("true_credit_code", "value").iter_rows())
    # On the court list, the relative's masked ID.
    marked = listed.filter(has("relative_id"))
    assert marked.height > 0
    masked_kin = kin.with_columns(
        pl.Series("masked", codes.mask_citizen_ids(kin["citizen_id_kin"].to_numpy().astype(str)))
    )
    pairs = set(masked_kin.select("citizen_id", "masked").iter_rows())
    assert all(pair in pairs for pair in marked.select("true_credit_code", "value").iter_rows())


ORG_TABLES = (
    ("courts", "ZXAJ", "AJBS", "BZXRZJHM"),
    ("courts", "SXBZXR", "SXID", "ZJHM"),
    ("tax", "nsrxx", "nsrid", "nsrsbh"),
    ("tax", "zdsswfaj", "ajid", "nsrsbh"),
    ("food", "licences", "licence_no", "credit_code"),
)


def test_other_firm_uscc(world: Path, truth: pl.DataFrame, firms: pl.DataFrame) -> None:
    frames = [
        records(world, truth, *spec).select("source_table", "value", "true_credit_code", "noise")
        for spec in ORG_TABLES
    ]
    rows = (
        pl.concat(frames)
        .filter(pl.col("true_credit_code").is_not_null(), ~has_any(TYPED_ORG))
        .filter(pl.col("true_credit_code").is_in(firms["uscc"].implode()))
    )
    marked = rows.filter(has("other_firm_uscc"))
    assert_rate(marked.height, rows.height, RAISED.other_firm_uscc)
    # Another registry firm's valid code, in the form the record uses; the truth is the subject.
    forms = ("uscc", "organisation_code", "legacy_tax_no", "legacy_registration_no")
    owner = {col: dict(zip(firms[col], firms["uscc"], strict=True)) for col in forms}
    for value, true_code, legacy in marked.select(
        "value", "true_credit_code", has("legacy_org_code").alias("legacy")
    ).iter_rows():
        form = "uscc" if not legacy else next(f for f in forms[1:] if value in owner[f])
        assert value in owner[form], value
        assert owner[form][value] != true_code
        if form == "uscc":
            assert is_valid_uscc(value)
    assert {"ZXAJ", "SXBZXR", "nsrxx", "licences"} <= set(marked["source_table"])
    assert marked.filter(has("legacy_org_code")).height > 0, "legacy codes are substituted too"


def test_copied_identifiers_carry_the_error_and_its_mark(world: Path, truth: pl.DataFrame) -> None:
    """Grades copy the tax register's number and violations their licence's code: the wrong
    firm's code travels with its mark."""
    register = records(world, truth, "tax", "nsrxx", "nsrid", "nsrsbh")
    grades = records(world, truth, "tax", "nsxypj", "pjid", "nsrsbh").join(
        register.select(pl.col("nsrid").cast(pl.Int64), has("other_firm_uscc").alias("wrong")),
        on="nsrid",
    )
    assert grades.filter("wrong").height > 0
    assert (grades.select(has("other_firm_uscc")).to_series() == grades["wrong"]).all()
    licences = records(world, truth, "food", "licences", "licence_no", "credit_code")
    violations = records(world, truth, "food", "serious_violations", "case_id", "credit_code").join(
        licences.select(
            pl.col("licence_no").alias("licence_no"),
            pl.col("value").alias("licence_code"),
            has("other_firm_uscc").alias("wrong"),
        ),
        on="licence_no",
    )
    assert (violations["value"] == violations["licence_code"]).all()
    assert (violations.select(has("other_firm_uscc")).to_series() == violations["wrong"]).all()


def test_passport_no_number(world: Path, truth: pl.DataFrame) -> None:
    frames = [
        records(world, truth, "transport", table, "Id", "IdNumber")
        for table in ("FlightBan", "RailBan")
    ]
    foreign = pl.concat([f.select("IdType", "value", "true_credit_code", "noise") for f in frames])
    passengers = foreign.filter(pl.col("IdType") == "PP")
    assert passengers["true_credit_code"].is_null().all()
    marked = passengers.filter(has("passport_no_number"))
    assert_rate(marked.height, passengers.height, RAISED.passport_no_number, minimum=150)
    assert marked["value"].is_null().all()
    assert passengers.filter(~has("passport_no_number"))["value"].is_not_null().all()
    assert (
        not foreign.filter(pl.col("IdType") == "NI")
        .select(has("passport_no_number"))
        .to_series()
        .any()
    )


# ---------------------------------------------------------------------------------------------
# subjects that look like someone else


def test_foreign_namesakes_in_the_registry(reg: Registries) -> None:
    fr = reg.foreigners.filter(pl.col("_namesake_of").is_not_null())
    assert fr.height > 0 and fr["is_chinese_name"].all()
    citizens = fr.join(
        reg.persons, left_on="_namesake_of", right_on="citizen_id", suffix="_citizen"
    )
    assert citizens.height == fr.height
    assert (citizens["name"] == citizens["name_citizen"]).all()
    assert (citizens["sex"] == citizens["sex_citizen"]).all()
    assert (citizens["birth_date"].dt.year() == citizens["birth_date_citizen"].dt.year()).all()
    # The rate, among the foreigners with a Chinese name, on a larger pool.
    rng = np.random.default_rng(3)
    pool = registries.build_foreigners(rng, 4000)
    out = registries.add_foreign_namesakes(rng, pool, reg.persons, 0.2)
    eligible = out.filter("is_chinese_name")
    assert out.filter(~pl.col("is_chinese_name"))["_namesake_of"].is_null().all()
    assert_rate(eligible["_namesake_of"].count(), eligible.height, 0.2)


def test_foreign_namesake_records(
    world: Path, truth: pl.DataFrame, reg: Registries, people: pl.DataFrame
) -> None:
    namesakes = reg.foreigners.filter(pl.col("_namesake_of").is_not_null())
    passports = namesakes["passport_no"].implode()
    rows = person_records(world, truth).filter(pl.col("true_credit_code").is_null())
    of_namesakes = pl.col("value").is_in(passports)
    # Every record of a namesake is marked, and only those (the passport identifies them).
    known = rows.filter(pl.col("value").is_not_null())
    assert known.filter(of_namesakes).height > 0
    assert (
        known.select(has("foreign_namesake")).to_series() == known.select(of_namesakes).to_series()
    ).all()
    # Their names, where no name noise applies, are a registry citizen's; no true code.
    marked = truth.filter(has("foreign_namesake"))
    assert marked["true_credit_code"].is_null().all()
    cases = records(world, truth, "courts", "ZXAJ", "AJBS", "BZXR").filter(has("foreign_namesake"))
    plain = cases.filter(~has_any(("name_typo", "traditional_name")))
    assert plain.height > 0
    assert plain["value"].is_in(people["name"].implode()).all()


def test_unregistered_lookalikes_in_the_registry(reg: Registries) -> None:
    looks = reg.unregistered.filter(pl.col("_lookalike_of").is_not_null())
    assert looks.height > 0
    firms = looks.join(reg.organisations, left_on="_lookalike_of", right_on="uscc", suffix="_firm")
    taken = set(reg.organisations["name"])
    prefectures = set(prefecture_shorts())
    for name, firm, rep, rep_firm in firms.select(
        "name", "name_firm", "_lookalike_rep", "legal_rep_name"
    ).iter_rows():
        assert name != firm and name not in taken
        assert rep == rep_firm
        one_char = (
            len(name) == len(firm) and sum(a != b for a, b in zip(name, firm, strict=True)) == 1
        )
        # Or another region prefix: a prefecture's short name, then the firm's name once its
        # leading division names are dropped.
        swapped = any(
            name[:k] in prefectures and firm.endswith(name[k:]) and len(firm) > len(name) - k
            for k in (2, 3, 4)
        )
        assert one_char or swapped, (name, firm)
    # The rate, on a larger pool.
    rng = np.random.default_rng(5)
    pool = registries.build_unregistered(rng, 2000)
    out = registries.add_lookalikes(rng, pool, reg.organisations, 0.2)
    assert_rate(out["_lookalike_of"].count(), out.height, 0.2)


def test_unregistered_lookalike_records(world: Path, truth: pl.DataFrame, reg: Registries) -> None:
    looks = reg.unregistered.filter(pl.col("_lookalike_of").is_not_null())
    firm_rep = dict(zip(looks["name"], looks["_lookalike_rep"], strict=True))
    frames = [
        records(world, truth, "courts", "ZXAJ", "AJBS", "BZXRZJHM").select(
            pl.col("BZXR").alias("name"),
            "value",
            pl.lit(None, pl.String).alias("rep"),
            "true_credit_code",
            "noise",
            "subject_type",
        ),
        records(world, truth, "courts", "SXBZXR", "SXID", "ZJHM").select(
            pl.col("BZXRMC").alias("name"),
            "value",
            pl.col("FDDBR").alias("rep"),
            "true_credit_code",
            "noise",
            "subject_type",
        ),
        records(world, truth, "food", "serious_violations", "case_id", "credit_code").select(
            pl.col("operator_name").alias("name"),
            "value",
            pl.col("legal_representative").alias("rep"),
            "true_credit_code",
            "noise",
            "subject_type",
        ),
    ]
    rows = pl.concat(frames).filter(pl.col("subject_type") == "organisation")
    marked = rows.filter(has("unregistered_lookalike"))
    assert marked.height > 0
    assert marked["true_credit_code"].is_null().all()
    assert marked["value"].is_null().all(), "no identifier of the registered firm"
    # Each record of a look-alike (by its name, where no name noise applies) is marked.
    plain = rows.filter(
        ~has_any(("name_typo", "org_name_variant")), pl.col("true_credit_code").is_null()
    )
    is_look = plain["name"].is_in(looks["name"].implode())
    assert (plain.select(has("unregistered_lookalike")).to_series() == is_look).all()
    # Their legal representative is not the firm's.
    with_rep = marked.filter(
        pl.col("rep").is_not_null(), pl.col("name").is_in(looks["name"].implode())
    )
    assert with_rep.height > 0
    assert all(rep != firm_rep[name] for name, rep in with_rep.select("name", "rep").iter_rows())


def test_same_name_birthday(world: Path, truth: pl.DataFrame, people: pl.DataFrame) -> None:
    groups = people.group_by("name", "birth_date", "id_region").agg(pl.col("citizen_id"))
    twins = groups.filter(pl.col("citizen_id").list.len() > 1)
    # Twins: different valid IDs, the same address code and birth date, other sequence digits.
    for ids in twins["citizen_id"]:
        assert len(set(ids)) == len(ids) and all(is_valid_ric(x) for x in ids)
        assert len({x[:14] for x in ids}) == 1
    # The rate: one twin made per pair among the persons born before 1990 in a county with
    # another such person.
    old = people.filter(pl.col("birth_date") < registries.TWINS_BORN_BEFORE.isoformat())
    eligible = old.filter(pl.len().over("id_region") >= 2).height
    made = int((twins["citizen_id"].list.len() - 1).sum())
    assert_rate(made, eligible, RAISED.same_name_birthday)
    # Records whose subject has a twin are marked, and only those.
    with_twin = twins["citizen_id"].explode().implode()
    persons = truth.filter(
        pl.col("subject_type") == "person", pl.col("true_credit_code").is_not_null()
    )
    is_twin = persons["true_credit_code"].is_in(with_twin)
    assert is_twin.sum() > 20
    assert (persons.select(has("same_name_birthday")).to_series() == is_twin).all()


# ---------------------------------------------------------------------------------------------
# configuration and independence


def test_with_identity_errors_scales_only_those_rates() -> None:
    base = NoiseConfig()
    raised = NoiseConfig.with_identity_errors(20, name_typo=0.1)
    for field, value in asdict(raised).items():
        if field in IDENTITY_ERRORS:
            assert value == pytest.approx(min(1.0, getattr(base, field) * 20))
        elif field == "name_typo":
            assert value == 0.1
        else:
            assert value == getattr(base, field)
    assert raised.foreign_namesake == 1.0, "capped at 1"
    off = NoiseConfig.with_identity_errors(0)
    assert all(getattr(off, k) == 0 for k in IDENTITY_ERRORS)
    assert NoiseConfig.with_identity_errors(1) == base
    with pytest.raises(WorldConfigError, match="at least 0"):
        NoiseConfig.with_identity_errors(-1)


def test_cli_identity_errors_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["world", "--persons", "1000", "--start", "2024-01-01", "--end", "2024-03-31",
         "--identity-errors", "4", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    noise = json.loads((tmp_path / "world.json").read_text())["noise"]
    assert noise == asdict(NoiseConfig.with_identity_errors(4))
    result = CliRunner().invoke(app, ["world", "--identity-errors", "-1", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "at least 0" in result.output


def test_identity_errors_leave_the_other_noise_alone(tmp_path: Path) -> None:
    """Drawn from streams of their own: raising them changes no count and no other noise."""

    def build(folder: str, scale: float) -> Path:
        cfg = WorldConfig(
            persons=2000, seed=3, start=date(2024, 1, 1), end=date(2024, 12, 31),
            out=tmp_path / folder, noise=NoiseConfig.with_identity_errors(scale), rates=BUSY,
        )  # fmt: skip
        return generate_world(cfg).out

    clean, raised = build("clean", 0), build("raised", 30)
    key = ["source", "source_table", "source_record_id", "role"]
    a = pl.read_parquet(clean / "truth" / "records.parquet")
    b = pl.read_parquet(raised / "truth" / "records.parquet")
    assert a.select(key, "subject_type").equals(b.select(key, "subject_type"))
    identity = pl.lit(list(IDENTITY_ERRORS))

    def other(frame: pl.DataFrame) -> pl.Series:
        return frame.select(
            pl.col("noise")
            .str.split(",")
            .list.set_difference(identity)
            .list.eval(pl.element().filter(pl.element() != ""))
            .list.sort()
        ).to_series()

    assert other(a).to_list() == other(b).to_list()
    assert not set(IDENTITY_ERRORS) & set(a["noise"].str.split(",").explode())
    assert set(b["noise"].str.split(",").explode()) >= {
        "other_person_id", "other_firm_uscc", "same_name_birthday"
    }  # fmt: skip
    # True codes differ only for the twins made (their citizen IDs are new).
    changed = a["true_credit_code"].ne_missing(b["true_credit_code"])
    assert b.filter(changed).select(has("same_name_birthday")).to_series().all()
    # Same tables, same heights.
    for db in sorted(clean.glob("*/*.db")):
        with sqlite3.connect(db) as con:
            tables = [
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
        for t in tables:
            assert read(db, t).height == read(raised / db.relative_to(clean), t).height, (db, t)


def test_identity_errors_off_make_no_lookalikes(tmp_path: Path) -> None:
    """At scale 0 the registries' look-alike draws touch nobody."""
    cfg = WorldConfig(
        persons=1000, seed=2, start=date(2024, 1, 1), end=date(2024, 6, 30), out=tmp_path,
        noise=NoiseConfig.with_identity_errors(0),
    )  # fmt: skip
    reg = world_registries(cfg)
    assert not reg.persons["_twin"].any()
    assert reg.foreigners["_namesake_of"].is_null().all()
    assert reg.unregistered["_lookalike_of"].is_null().all()
    restored = replace(cfg.noise, **{k: getattr(NoiseConfig(), k) for k in IDENTITY_ERRORS})
    assert restored == NoiseConfig()


def test_truth_codes_may_start_with_a_subject_in_no_registry() -> None:
    """A table whose first record is a foreigner's (true code None) gets its truth (numpy object
    arrays starting with None are not read as text by polars)."""
    from credlink.world.agencies.common import AgencyTables
    from credlink.world.noise import NoiseLog

    out = AgencyTables(name="transport", ddl="")
    codes_ = np.array([None] * 3 + ["110105194912310029"], dtype=object)
    out.add("FlightBan", pl.DataFrame({"Id": [1, 2, 3, 4]}), "Id", "person", codes_, NoiseLog(4))
    assert out.truth_frame()["true_credit_code"].to_list() == [None] * 3 + ["110105194912310029"]
