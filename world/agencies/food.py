"""Food hygiene: licences, inspections with quantified grades, serious violations.

Habits of this agency: snake_case English column names; dates as `2023/03/05` and timestamps as
`2023/03/05 14:07` (minutes only); operators identified by their food business licence number
(`JY` + 14 digits) and a credit code that is the USCC, the old 15-digit registration number for
some firms registered before 2015, or empty.

Each inspection gives a score and a dynamic grade 优秀 / 良好 / 一般 shown as big smile / smile /
flat face; below 60 points (or 2 or more key items failed) there is no grade and the operator
must rectify. Serious violations come with a penalty decision and sometimes licence revocation;
some are against businesses trading without registration (no credit code, in no registry).

Identity errors: a licence may carry another firm's USCC or registration number
(`other_firm_uscc`); a violation copies its licence's credit code, and with it that error and
its mark. Unregistered businesses named like a registered firm are marked
`unregistered_lookalike` on their violations.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from credlink.world import codes, noise
from credlink.world.agencies.common import (
    ORGANISATION,
    AgencyTables,
    as_subjects,
    mark_subjects,
    province_abbr,
    sample_organisations,
)
from credlink.world.agencies.courts import _org_identifiers
from credlink.world.config import WorldConfig
from credlink.world.noise import NoiseLog
from credlink.world.registries import Registries
from credlink.world.timeline import day, entry_stamps, random_days

DDL = """
CREATE TABLE licences (
    licence_no        TEXT PRIMARY KEY,   -- JY + 14 digits
    operator_name     TEXT NOT NULL,
    credit_code       TEXT,               -- USCC / old registration number / empty
    legal_representative TEXT,
    business_address  TEXT,
    business_category TEXT NOT NULL,      -- 餐饮服务 / 食品销售 / 单位食堂
    issue_date        TEXT NOT NULL,      -- 2023/03/05
    valid_until       TEXT NOT NULL,
    status            TEXT NOT NULL,      -- valid / revoked / expired
    created           TEXT NOT NULL,      -- 2023/03/05 14:07
    modified          TEXT NOT NULL
);
CREATE INDEX licences_modified ON licences (modified);
CREATE TABLE inspections (
    inspection_id     INTEGER PRIMARY KEY,
    licence_no        TEXT NOT NULL,
    inspection_date   TEXT NOT NULL,
    score             INTEGER NOT NULL,   -- 0..100
    key_items_failed  INTEGER NOT NULL,
    dynamic_grade     TEXT,               -- 优秀 / 良好 / 一般 / NULL (no grade: rectify)
    face              TEXT,               -- big_smile / smile / flat / NULL
    follow_up         TEXT,               -- rectify / NULL
    inspector         TEXT,
    created           TEXT NOT NULL,
    modified          TEXT NOT NULL
);
CREATE INDEX inspections_modified ON inspections (modified);
CREATE TABLE serious_violations (
    case_id           INTEGER PRIMARY KEY,
    decision_no       TEXT NOT NULL,      -- 皖市监罚〔2024〕12号
    licence_no        TEXT,
    operator_name     TEXT NOT NULL,
    credit_code       TEXT,
    legal_representative TEXT,
    violation_code    TEXT NOT NULL,
    violation         TEXT NOT NULL,
    fine_yuan         REAL,
    licence_revoked   TEXT NOT NULL,      -- Y / N
    decided_on        TEXT NOT NULL,
    created           TEXT NOT NULL,
    modified          TEXT NOT NULL
);
CREATE INDEX serious_violations_modified ON serious_violations (modified);
"""

VIOLATIONS: tuple[tuple[str, str, float], ...] = (
    ("FS01", "用非食品原料生产食品或者添加食品添加剂以外的化学物质", 0.15),
    ("FS02", "经营病死、毒死或者死因不明的禽畜肉类及其制品", 0.10),
    ("FS03", "经营超过保质期的食品", 0.25),
    ("FS04", "超范围、超限量使用食品添加剂", 0.20),
    ("FS05", "未取得许可从事食品生产经营", 0.15),
    ("FS06", "发生食品安全事故后隐匿、伪造、毁灭有关证据", 0.05),
    ("FS07", "经营被包装材料污染或者腐败变质的食品", 0.10),
)
SLASH_DAY = "%Y/%m/%d"
SLASH_STAMP = "%Y/%m/%d %H:%M"


def _slash(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype("datetime64[D]")).dt.strftime(SLASH_DAY)


def _stamp(stamps: np.ndarray) -> pl.Series:
    return pl.Series(stamps.astype("datetime64[ms]")).dt.strftime(SLASH_STAMP)


def _licence_numbers(
    rng: np.random.Generator, regions: np.ndarray, category: np.ndarray
) -> np.ndarray:
    btype = np.where(category == "食品销售", "1", np.where(category == "餐饮服务", "2", "3"))
    seq = rng.permutation(1_000_000)[: len(regions)]
    r = pl.Series(regions)
    province, city, county = (r.str.slice(i, 2).to_numpy().astype(str) for i in (0, 2, 4))
    return codes.food_licence_numbers(rng, btype, province, city, county, seq)


def generate(rng: np.random.Generator, cfg: WorldConfig, reg: Registries) -> AgencyTables:
    """The food database."""
    out = AgencyTables(name="food", ddl=DDL)
    nz = cfg.noise
    orgs = reg.organisations
    et = orgs["entity_type"].to_numpy()
    licensed = ((et == "92") & (rng.random(orgs.height) < cfg.rates.food_licensed_92)) | (
        (et == "91") & (rng.random(orgs.height) < cfg.rates.food_licensed_91)
    )
    lic_orgs = orgs.filter(pl.Series(licensed))
    n = lic_orgs.height
    subjects = as_subjects(lic_orgs)
    log = NoiseLog(n)
    ids, id_log = _org_identifiers(
        rng, cfg, subjects, legacy_form="legacy_registration_no", reg=reg, table="food.licences"
    )
    log.update(id_log)
    op_names = noise.org_names(
        rng, lic_orgs["name"].to_numpy().astype(str), log, nz.org_name_variant, nz.name_typo
    )
    regions = lic_orgs["registration_region"].to_numpy().astype(str)
    category = np.where(
        lic_orgs["entity_type"].to_numpy() == "92",
        np.where(rng.random(n) < 0.6, "餐饮服务", "食品销售"),
        np.where(
            rng.random(n) < 0.5, "食品销售", np.where(rng.random(n) < 0.7, "餐饮服务", "单位食堂")
        ),
    )
    numbers = _licence_numbers(rng, regions, category)
    # Licences run 5 years; most were issued before the period, some are renewed during it.
    issued = random_days(rng, n, cfg.start.replace(year=cfg.start.year - 5), cfg.end)
    valid_until = issued + np.timedelta64(5 * 365, "D")
    created = entry_stamps(rng, issued, 2, cfg.end)
    licences = pl.DataFrame(
        {
            "licence_no": numbers,
            "operator_name": op_names,
            "credit_code": pl.Series(ids, dtype=pl.String).replace("", None),
            "legal_representative": lic_orgs["legal_rep_name"],
            "business_address": lic_orgs["address"],
            "business_category": category,
            "issue_date": _slash(issued),
            "valid_until": _slash(valid_until),
            "status": np.where(valid_until < day(cfg.end), "expired", "valid"),
            "created": _stamp(created),
            "modified": _stamp(created),
        }
    )
    true_codes = lic_orgs["uscc"].to_numpy().astype(str)

    inspections = _inspections(rng, cfg, numbers, issued, true_codes, out)
    wrong_firm = log.kinds.get("other_firm_uscc", np.zeros(n, dtype=bool))
    revoked = _violations(
        rng, cfg, reg, lic_orgs, numbers, ids, wrong_firm, op_names, inspections, true_codes, out
    )
    licences = (
        licences.join(revoked, on="licence_no", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("_mod").is_not_null())
            .then(pl.lit("revoked"))
            .otherwise("status")
            .alias("status"),
            pl.coalesce("_mod", "modified").alias("modified"),
        )
        .drop("_mod")
    )
    # Licences come last: revocations by violations updated them.
    out.tables = {"licences": licences, **out.tables}
    out.truth.insert(0, _licence_truth(out, licences, true_codes, log))
    return out


def _licence_truth(
    out: AgencyTables, licences: pl.DataFrame, true_codes: np.ndarray, log: NoiseLog
) -> pl.DataFrame:
    tmp = AgencyTables(name=out.name, ddl="")
    tmp.add("licences", licences, "licence_no", ORGANISATION, true_codes, log)
    return tmp.truth[0]


def _inspections(
    rng: np.random.Generator,
    cfg: WorldConfig,
    numbers: np.ndarray,
    issued: np.ndarray,
    true_codes: np.ndarray,
    out: AgencyTables,
) -> pl.DataFrame:
    n = len(numbers)
    per = rng.poisson(cfg.rates.inspections * cfg.years, n)
    lic = np.repeat(np.arange(n), per)
    m = len(lic)
    when = random_days(rng, m, cfg.start, cfg.end)
    when = np.maximum(when, issued[lic])
    # Scores: most operators comply; a weak tail fails key items.
    quality = rng.beta(6, 1.6, n)
    score = np.clip(np.round(100 * (quality[lic] + rng.normal(0, 0.06, m))), 20, 100).astype(
        np.int64
    )
    key_failed = np.where(
        score < 60, rng.integers(1, 4, m), np.where(score < 75, rng.integers(0, 2, m), 0)
    )
    no_grade = (score < 60) | (key_failed >= 2)
    grade = np.where(
        no_grade, "", np.where(score >= 90, "优秀", np.where(score >= 75, "良好", "一般"))
    )
    face = np.where(
        no_grade, "", np.where(score >= 90, "big_smile", np.where(score >= 75, "smile", "flat"))
    )
    created = entry_stamps(rng, when, 1, cfg.end)
    rows = (
        pl.DataFrame(
            {
                "inspection_id": np.arange(1, m + 1, dtype=np.int64),
                "licence_no": numbers[lic],
                "inspection_date": _slash(when),
                "score": score,
                "key_items_failed": key_failed,
                "dynamic_grade": pl.Series(grade, dtype=pl.String).replace("", None),
                "face": pl.Series(face, dtype=pl.String).replace("", None),
                "follow_up": pl.Series(np.where(no_grade, "rectify", ""), dtype=pl.String).replace(
                    "", None
                ),
                "inspector": np.char.add("执法", rng.integers(1000, 9999, m).astype(str)),
                "created": _stamp(created),
                "modified": _stamp(created),
            }
        )
        .sort("inspection_date", "licence_no")
        .with_columns(pl.Series("inspection_id", np.arange(1, m + 1, dtype=np.int64)))
    )
    log = NoiseLog(m)
    rows = rows.with_columns(
        noise.garble(rng, rows["inspection_date"], cfg.noise.garbled_value, log, "slash_date")
    )
    codes_by_lic = pl.DataFrame({"licence_no": numbers, "_code": true_codes})
    joined = rows.join(codes_by_lic, on="licence_no", how="left", maintain_order="left")
    out.add("inspections", rows, "inspection_id", ORGANISATION, joined["_code"].to_numpy(), log)
    return rows


def _violations(
    rng: np.random.Generator,
    cfg: WorldConfig,
    reg: Registries,
    lic_orgs: pl.DataFrame,
    numbers: np.ndarray,
    ids: np.ndarray,
    wrong_firm: np.ndarray,
    op_names: np.ndarray,
    inspections: pl.DataFrame,
    true_codes: np.ndarray,
    out: AgencyTables,
) -> pl.DataFrame:
    """Serious violations; returns the licences they revoked (`licence_no`, `_mod` stamp). A
    violation copies its licence's credit code: a licence's `other_firm_uscc` is marked on it."""
    nz = cfg.noise
    n = len(numbers)
    m_lic = int(rng.poisson(n * cfg.rates.food_violations * cfg.years))
    # Operators with failing inspections are far more likely to commit serious violations.
    failing = inspections.filter(pl.col("follow_up") == "rectify")["licence_no"].unique().to_numpy()
    weight = np.where(np.isin(numbers, failing), 20.0, 1.0)
    pick = rng.choice(n, m_lic, p=weight / weight.sum())
    # Unregistered businesses trading without a licence (FS05), in no registry.
    m_un = max(1, round(m_lic * nz.unregistered_subject / max(1e-9, 1 - nz.unregistered_subject)))
    un = sample_organisations(rng, reg, m_un, 1.0)
    m = m_lic + m_un
    decided = random_days(rng, m, cfg.start, cfg.end)
    vp = np.array([v[2] for v in VIOLATIONS])
    vcode = np.array([v[0] for v in VIOLATIONS])[rng.choice(len(VIOLATIONS), m, p=vp / vp.sum())]
    vcode[m_lic:] = "FS05"
    vcode[:m_lic][vcode[:m_lic] == "FS05"] = "FS03"
    text = dict((v[0], v[1]) for v in VIOLATIONS)
    revoked = (rng.random(m) < 0.15) & (np.arange(m) < m_lic)
    region = np.concatenate(
        [lic_orgs["registration_region"].to_numpy()[pick], un["region"].to_numpy()]
    ).astype(str)
    log = NoiseLog(m)
    log.mark("other_firm_uscc", np.concatenate([wrong_firm[pick], np.zeros(m_un, dtype=bool)]))
    un_log = NoiseLog(m_un)
    mark_subjects(un, un_log)
    log.update_at(np.arange(m_lic, m), un_log)
    un_names = noise.org_names(
        rng, un["name"].to_numpy().astype(str), NoiseLog(m_un), 0.0, nz.name_typo
    )
    created = entry_stamps(rng, decided, 3, cfg.end)
    year = pl.Series(decided.astype("datetime64[D]")).dt.year().cast(pl.String)
    decision_no = pl.select(
        pl.format(
            "{}市监罚〔{}〕{}号",
            province_abbr(pl.Series(region)),
            year,
            pl.Series(rng.integers(1, 999, m)),
        )
    ).to_series()
    rows = pl.DataFrame(
        {
            "case_id": np.arange(1, m + 1, dtype=np.int64),
            "decision_no": decision_no,
            "licence_no": pl.Series(np.concatenate([numbers[pick], np.full(m_un, "")])).replace(
                "", None
            ),
            "operator_name": np.concatenate([op_names[pick], un_names]),
            "credit_code": pl.Series(np.concatenate([ids[pick], np.full(m_un, "")])).replace(
                "", None
            ),
            "legal_representative": np.concatenate(
                [lic_orgs["legal_rep_name"].to_numpy()[pick], un["legal_rep_name"].to_numpy()]
            ),
            "violation_code": vcode,
            "violation": np.array([text[c] for c in vcode]),
            "fine_yuan": np.round(rng.lognormal(10.5, 1.0, m), -2),
            "licence_revoked": np.where(revoked, "Y", "N"),
            "decided_on": _slash(decided),
            "created": _stamp(created),
            "modified": _stamp(created),
        }
    )
    truth_codes = np.concatenate([true_codes[pick], np.full(m_un, None)])
    out.add_with_duplicates(
        rng, "serious_violations", rows, "case_id", nz.duplicate, log, ORGANISATION, truth_codes
    )
    # A revocation updates the licence row.
    rev = pick[revoked[:m_lic]]
    rev_stamp = created[:m_lic][revoked[:m_lic]]
    return pl.DataFrame({"licence_no": numbers[rev], "_mod": _stamp(rev_stamp)}).unique(
        "licence_no", keep="last", maintain_order=True
    )
