"""The tax bureau: taxpayer register, yearly tax-credit grades, major violation cases.

Habits of this agency: lower-case pinyin-abbreviation column names (`nsrsbh` 纳税人识别号);
dates as integers `20230305`; record timestamps as Unix epoch seconds (UTC); taxpayers
identified by the taxpayer identification number, which is the USCC since the 2015 reform but
still the old 15-character tax registration number (region code + organisation code) for some
firms registered before it.

Grades follow the tax-credit rules: A (>= 90 points), B (70-89), M (new firms), C (40-69),
D (< 40, or assigned directly to a major violator, for 2 years). Major violation cases are
published for 3 years, earlier removal once tax, late fees and fines are paid (the day paid in
`jqrq`). A share `cfg.rates.tax_repair` of the cases that are paid obtain credit repair
(信用修复) from the tax bureau instead ("whoever lists, repairs"): they stay published after
paying until the repair is decided, on a day at or after the minimum publication period of a
serious listing (1 year from publication [unconfirmed], the NDRC repair rules of 2026), and
are withdrawn with reason 信用修复 and the repair decision's number in `xyxfwh`. Repairs are
drawn from a random stream of their own (:func:`world.noise.stream`), so every other row and
column of the tax tables stays as it would be without them.

Identity errors: the register and the violation cases may carry another firm's USCC or legacy
tax number (`other_firm_uscc`); the grades copy the register's taxpayer number, and with it
that error and its mark (the register's typing noise is not counted again on them). The legal
representatives' and finance officers' IDs carry typing noise only; a finance officer (truth
role `responsible_person`) with a namesake twin is marked `same_name_birthday`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from credlink.world import noise, places
from credlink.world.agencies.common import (
    ORGANISATION,
    PERSON,
    AgencyTables,
    as_subjects,
    province_abbr,
)
from credlink.world.agencies.courts import _org_identifiers
from credlink.world.config import WorldConfig
from credlink.world.noise import NoiseLog
from credlink.world.registries import Registries
from credlink.world.timeline import day, entry_stamps, office_stamps, random_days

DDL = """
CREATE TABLE nsrxx (              -- 纳税人信息 taxpayer register
    nsrid       INTEGER PRIMARY KEY,
    nsrsbh      TEXT,             -- 纳税人识别号: USCC or legacy 15-char tax number
    nsrmc       TEXT NOT NULL,    -- 纳税人名称
    nsrlx       TEXT NOT NULL,    -- 纳税人类型
    fddbrxm     TEXT,             -- 法定代表人姓名
    fddbrsfzh   TEXT,             -- 法定代表人身份证号
    djrq        INTEGER,          -- 登记日期 yyyymmdd
    nsrzt       TEXT NOT NULL,    -- 纳税人状态: 正常 / 注销 / 非正常户
    zgswjg      TEXT NOT NULL,    -- 主管税务机关
    created_ts  INTEGER NOT NULL, -- epoch seconds (UTC)
    modified_ts INTEGER NOT NULL
);
CREATE INDEX nsrxx_modified ON nsrxx (modified_ts);
CREATE TABLE nsxypj (             -- 纳税信用评价 yearly tax-credit evaluation
    pjid        INTEGER PRIMARY KEY,
    nsrid       INTEGER NOT NULL,
    nsrsbh      TEXT,
    pjnd        INTEGER NOT NULL, -- 评价年度
    xydj        TEXT NOT NULL,    -- 信用等级 A/B/M/C/D
    pjdf        REAL,             -- 评价得分
    pjrq        INTEGER NOT NULL, -- 评价日期 yyyymmdd
    created_ts  INTEGER NOT NULL,
    modified_ts INTEGER NOT NULL
);
CREATE INDEX nsxypj_modified ON nsxypj (modified_ts);
CREATE TABLE zdsswfaj (           -- 重大税收违法失信案件 major tax-violation cases
    ajid        INTEGER PRIMARY KEY,
    ajbh        TEXT NOT NULL,    -- 案件编号 / 处罚决定书文号
    nsrsbh      TEXT,
    nsrmc       TEXT NOT NULL,
    fddbrxm     TEXT,
    fddbrsfzh   TEXT,
    cwfzrxm     TEXT,             -- 财务负责人姓名
    cwfzrsfzh   TEXT,             -- 财务负责人身份证号
    wfxz        TEXT NOT NULL,    -- 违法性质 (violation type code)
    sjse        REAL,             -- 涉及税额 (yuan)
    sjbl        REAL,             -- 占应纳税额比例
    fpfs        INTEGER,          -- 发票份数
    jcjg        TEXT NOT NULL,    -- 检查机关
    gbrq        INTEGER NOT NULL, -- 公布日期
    ycrq        INTEGER,          -- 撤出日期
    ycyy        TEXT,             -- 撤出原因
    jqrq        INTEGER,          -- 缴清日期 tax, late fees and fines paid in full
    xyxfwh      TEXT,             -- 信用修复决定书文号 credit-repair decision number
    created_ts  INTEGER NOT NULL,
    modified_ts INTEGER NOT NULL
);
CREATE INDEX zdsswfaj_modified ON zdsswfaj (modified_ts);
"""

#: Violation types (code, text, share) per the 2022 rules on major tax-violation subjects.
VIOLATIONS: tuple[tuple[str, str, float], ...] = (
    ("TS", "偷税", 0.40),
    ("TBZJ", "逃避追缴欠税", 0.10),
    ("PQTS", "骗取出口退税", 0.08),
    ("XKZP", "虚开增值税专用发票", 0.30),
    ("XKPP", "虚开普通发票", 0.10),
    ("KS", "以暴力、威胁方法拒不缴纳税款", 0.02),
)
GRADES = ("A", "B", "M", "C", "D")
GRADE_SHARES = (0.05, 0.65, 0.10, 0.13, 0.07)
GRADE_SCORES = {"A": (90, 100), "B": (70, 90), "M": (70, 90), "C": (40, 70), "D": (0, 40)}


def _yyyymmdd(days: np.ndarray) -> pl.Series:
    s = pl.Series(days.astype("datetime64[D]"))
    return s.dt.strftime("%Y%m%d").cast(pl.Int64)


def _epoch(stamps: np.ndarray) -> np.ndarray:
    """Local (UTC+8) timestamps as Unix epoch seconds."""
    return stamps.astype("datetime64[s]").astype(np.int64) - 8 * 3600


def generate(rng: np.random.Generator, cfg: WorldConfig, reg: Registries) -> AgencyTables:
    """The tax database."""
    out = AgencyTables(name="tax", ddl=DDL)
    nz = cfg.noise
    orgs = reg.organisations
    taxed = (
        orgs.filter(pl.col("entity_type") != "53")
        .sample(fraction=cfg.rates.tax_registered, seed=int(rng.integers(2**31)))
        .sort("_oid")
    )
    n = taxed.height
    subjects = as_subjects(taxed)
    log = NoiseLog(n)
    ids, id_log = _org_identifiers(
        rng, cfg, subjects, legacy_form="legacy_tax_no", reg=reg, table="tax.nsrxx"
    )
    log.update(id_log)
    names = noise.org_names(
        rng, taxed["name"].to_numpy().astype(str), log, nz.org_name_variant, nz.name_typo
    )
    rep_ids = _person_ids(rng, cfg, taxed["legal_rep_id"].to_numpy().astype(str), NoiseLog(n))
    _, _, county = places.region_names(taxed["registration_region"].to_numpy().astype(str))
    reg_days = taxed["registration_date"].to_numpy()
    created_day = np.maximum(
        reg_days, day(date(2016, 1, 1)) - rng.integers(0, 300, n).astype("timedelta64[D]")
    )
    created_day = np.where(
        reg_days >= day(cfg.start),
        reg_days + rng.integers(0, 20, n).astype("timedelta64[D]"),
        created_day,
    )
    created = office_stamps(rng, np.minimum(created_day, day(cfg.end)))
    dereg = taxed["deregistration_date"].to_numpy()
    dereg_seen = ~np.isnat(dereg) & (dereg <= day(cfg.end))
    modified = np.where(
        dereg_seen & (dereg >= day(cfg.start)),
        office_stamps(rng, np.where(dereg_seen, dereg, day(cfg.end))),
        created,
    )
    modified = np.maximum(modified, created)
    et = taxed["entity_type"].to_numpy()
    kind = np.where(
        et == "92", "个体工商户", np.where(rng.random(n) < 0.3, "一般纳税人", "小规模纳税人")
    )
    nsrxx = pl.DataFrame(
        {
            "nsrid": np.arange(1, n + 1, dtype=np.int64),
            "nsrsbh": pl.Series(ids, dtype=pl.String).replace("", None),
            "nsrmc": names,
            "nsrlx": kind,
            "fddbrxm": taxed["legal_rep_name"],
            "fddbrsfzh": pl.Series(rep_ids, dtype=pl.String).replace("", None),
            "djrq": _yyyymmdd(reg_days),
            "nsrzt": np.where(
                dereg_seen, "注销", np.where(rng.random(n) < 0.02, "非正常户", "正常")
            ),
            "zgswjg": np.char.add(np.char.add("国家税务总局", county.astype(str)), "税务局"),
            "created_ts": _epoch(created),
            "modified_ts": _epoch(modified),
        }
    )
    codes_true = taxed["uscc"].to_numpy().astype(str)
    out.add_with_duplicates(
        rng, "nsrxx", nsrxx, "nsrid", nz.duplicate, log, ORGANISATION, codes_true
    )

    violations = _violations(rng, cfg, reg, taxed, out)
    wrong_firm = log.kinds.get("other_firm_uscc", np.zeros(n, dtype=bool))
    _grades(rng, cfg, nsrxx, reg_days, violations, codes_true, wrong_firm, out)
    return out


def _person_ids(
    rng: np.random.Generator, cfg: WorldConfig, ids: np.ndarray, log: NoiseLog
) -> np.ndarray:
    nz = cfg.noise
    born_before_2000 = np.array([s[6:8] == "19" for s in ids], dtype=bool)
    return noise.citizen_ids(
        rng,
        ids.astype("<U18"),
        log,
        eligible=np.ones(len(ids), bool),
        mistype_rate=nz.id_mistype,
        missing_rate=nz.id_missing,
        legacy_rate=0.0,
        born_before_2000=born_before_2000,
    ).astype(str)


def _violations(
    rng: np.random.Generator,
    cfg: WorldConfig,
    reg: Registries,
    taxed: pl.DataFrame,
    out: AgencyTables,
) -> pl.DataFrame:
    """Major violation cases; returns (nsrid index, publish day) of each for grade D."""
    nz = cfg.noise
    m = int(rng.poisson(taxed.height * cfg.rates.tax_violations * cfg.years))
    pick = rng.integers(0, taxed.height, m)
    t = taxed[pick]
    published = random_days(rng, m, cfg.start, cfg.end)
    vp = np.array([v[2] for v in VIOLATIONS])
    v = rng.choice(len(VIOLATIONS), m, p=vp / vp.sum())
    code = np.array([x[0] for x in VIOLATIONS])[v]
    # Amounts above the thresholds of the rules (evasion >= 1,000,000 yuan and >= 10% of tax due,
    # false ordinary invoices >= 100 invoices or >= 4,000,000 yuan).
    amount = np.round(1_000_000 * np.exp(rng.exponential(0.9, m)), 2)
    share = np.where(np.isin(code, ["TS"]), np.round(rng.uniform(0.10, 0.85, m), 4), np.nan)
    invoices = np.where(np.isin(code, ["XKZP", "XKPP"]), rng.integers(100, 3000, m), -1)
    log = NoiseLog(m)
    subjects = as_subjects(t)
    ids, id_log = _org_identifiers(
        rng, cfg, subjects, legacy_form="legacy_tax_no", reg=reg, table="tax.zdsswfaj"
    )
    log.update(id_log)
    names = noise.org_names(
        rng, t["name"].to_numpy().astype(str), log, nz.org_name_variant, nz.name_typo
    )
    # The finance officer: a person of the registry (the truth keeps who it was).
    people = reg.persons.filter(
        pl.col("birth_date") <= pl.col("birth_date").max() - pl.duration(days=25 * 365)
    )
    officer = people[rng.integers(0, people.height, m)]
    region = t["registration_region"].to_numpy().astype(str)
    _, prefecture, _ = places.region_names(region)
    removal = np.full(m, np.datetime64("NaT"), dtype="datetime64[D]")
    reason = np.full(m, "", dtype=object)
    paid = rng.random(m) < 0.3
    removal[paid] = published[paid] + rng.integers(60, 900, int(paid.sum())).astype(
        "timedelta64[D]"
    )
    reason[paid] = "已缴清税款、滞纳金和罚款"
    expire = ~paid
    removal[expire] = published[expire] + np.timedelta64(1096, "D")
    reason[expire] = "公布期满"
    paid_on = np.where(paid, removal, np.datetime64("NaT"))
    repaired, removal, reason, decision = _repairs(cfg, region, published, paid_on, removal, reason)
    seen = removal <= day(cfg.end)
    # paid, but the repair is not decided yet: the case is updated when the payment is entered
    paid_seen = ~seen & (paid_on <= day(cfg.end))
    touched = np.where(seen, removal, np.where(paid_seen, paid_on, day(cfg.end)))
    created = entry_stamps(rng, published, 0, cfg.end)
    modified = np.where(seen | paid_seen, office_stamps(rng, touched), created)
    modified = np.maximum(modified, created)
    year = pl.Series(published.astype("datetime64[D]")).dt.year().cast(pl.String)
    seq = rng.integers(1, 400, m)
    ajbh = pl.select(
        pl.format(
            "{}税稽罚〔{}〕{}号",
            province_abbr(pl.Series(region)),
            year,
            pl.Series(seq),
        )
    ).to_series()
    rows = pl.DataFrame(
        {
            "ajid": np.arange(1, m + 1, dtype=np.int64),
            "ajbh": ajbh,
            "nsrsbh": pl.Series(ids, dtype=pl.String).replace("", None),
            "nsrmc": names,
            "fddbrxm": t["legal_rep_name"],
            "fddbrsfzh": pl.Series(
                _person_ids(rng, cfg, t["legal_rep_id"].to_numpy().astype(str), NoiseLog(m)),
                dtype=pl.String,
            ).replace("", None),
            "cwfzrxm": officer["name"],
            "cwfzrsfzh": pl.Series(
                _person_ids(rng, cfg, officer["citizen_id"].to_numpy().astype(str), NoiseLog(m)),
                dtype=pl.String,
            ).replace("", None),
            "wfxz": code,
            "sjse": amount,
            "sjbl": pl.Series(share).fill_nan(None),
            "fpfs": pl.Series(invoices).replace(-1, None),
            "jcjg": np.char.add(
                np.char.add("国家税务总局", prefecture.astype(str)), "税务局稽查局"
            ),
            "gbrq": _yyyymmdd(published),
            "ycrq": _yyyymmdd(np.where(seen, removal, np.datetime64("NaT"))),
            "ycyy": pl.Series(np.where(seen, reason.astype(str), ""), dtype=pl.String).replace(
                "", None
            ),
            "jqrq": _yyyymmdd(np.where(paid_on <= day(cfg.end), paid_on, np.datetime64("NaT"))),
            "xyxfwh": pl.Series(np.where(seen & repaired, decision, ""), dtype=pl.String).replace(
                "", None
            ),
            "created_ts": _epoch(created),
            "modified_ts": _epoch(modified),
        }
    )
    true_codes = t["uscc"].to_numpy().astype(str)
    out.add_with_duplicates(
        rng, "zdsswfaj", rows, "ajid", nz.duplicate, log, ORGANISATION, true_codes
    )
    # Responsible persons named in the case: truth rows with their own role.
    out.truth.append(
        pl.DataFrame(
            {
                "source": "tax",
                "source_table": "zdsswfaj",
                "source_record_id": rows["ajid"].cast(pl.String),
                "subject_type": PERSON,
                "true_credit_code": officer["citizen_id"],
                "noise": pl.Series(np.where(officer["_twin"].to_numpy(), "same_name_birthday", "")),
                "role": "responsible_person",
            }
        )
    )
    return pl.DataFrame({"row": pick, "published": published})


#: The minimum publication period of a serious listing, from which the subject may apply for
#: credit repair (国办发〔2025〕22号 / NDRC Order No. 36: serious 1 to 3 years) [unconfirmed for
#: this list: the tax rules publish major violators for 3 years].
REPAIR_FROM = "1y"
#: Days from the later of payment and the minimum period to the repair decision (application
#: and processing; the processing deadlines in working days are [unconfirmed]).
REPAIR_DAYS = (1, 60)
REPAIR_REASON = "信用修复"


def _repairs(
    cfg: WorldConfig,
    region: np.ndarray,
    published: np.ndarray,
    paid_on: np.ndarray,
    removal: np.ndarray,
    reason: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Credit repairs: a share `cfg.rates.tax_repair` of the paid cases, decided by the tax bureau
    that listed them on a day at or after both the payment and one year of publication
    (:data:`REPAIR_FROM`), withdrawn from publication then (reason 信用修复) with a decision
    number of the province (as the penalty's). From a random stream of its own: every other draw
    of the tax bureau stays as it was.

    Returns (repaired, removal days, reasons, decision numbers), the last three for every case.
    """
    m = len(published)
    rs = noise.stream(cfg.seed, "tax.zdsswfaj.repairs")
    repaired = ~np.isnat(paid_on) & (rs.random(m) < cfg.rates.tax_repair)
    lag = rs.integers(REPAIR_DAYS[0], REPAIR_DAYS[1] + 1, m).astype("timedelta64[D]")
    seq = rs.integers(1, 300, m)
    year_on = (
        pl.Series(published.astype("datetime64[D]")).dt.offset_by(REPAIR_FROM).to_numpy()
    ).astype("datetime64[D]")
    due = np.where(paid_on > year_on, paid_on, year_on) + lag
    removal = np.where(repaired, due, removal)
    reason = np.where(repaired, REPAIR_REASON, reason)
    decision = pl.select(
        pl.format(
            "{}税信修〔{}〕{}号",
            province_abbr(pl.Series(region)),
            pl.Series(due.astype("datetime64[D]")).dt.year().cast(pl.String),
            pl.Series(seq),
        )
    ).to_series()
    return repaired, removal, reason, decision.to_numpy().astype(str)


def _grades(
    rng: np.random.Generator,
    cfg: WorldConfig,
    nsrxx: pl.DataFrame,
    reg_days: np.ndarray,
    violations: pl.DataFrame,
    true_codes: np.ndarray,
    wrong_firm: np.ndarray,
    out: AgencyTables,
) -> None:
    """One evaluation per taxpayer per tax year, published in April of the next year; a grade
    whose register row carries another firm's code is marked `other_firm_uscc` too."""
    frames = []
    for year in range(cfg.start.year - 1, cfg.end.year):
        eval_day = day(date(year + 1, 4, 1))
        if not (day(cfg.start) <= eval_day <= day(cfg.end)):
            continue
        exists = reg_days < day(date(year + 1, 1, 1))
        rows = np.flatnonzero(exists)
        k = len(rows)
        g = rng.choice(len(GRADES), k, p=GRADE_SHARES)
        grade = np.array(GRADES)[g]
        new = reg_days[rows] >= day(date(year, 1, 1))
        grade = np.where(new & (grade != "D"), "M", grade)
        # Major violators published in the year are rated D directly, for two years.
        pub = violations["published"].to_numpy()
        hit = violations["row"].to_numpy()[
            (pub >= day(date(year - 1, 1, 1))) & (pub < day(date(year + 1, 1, 1)))
        ]
        grade[np.isin(rows, hit)] = "D"
        lo = np.array([GRADE_SCORES[x][0] for x in grade])
        hi = np.array([GRADE_SCORES[x][1] for x in grade])
        score = np.where(grade == "M", np.nan, np.round(rng.uniform(lo, hi), 1))
        stamp = office_stamps(
            rng, np.full(k, eval_day) + rng.integers(0, 20, k).astype("timedelta64[D]")
        )
        frames.append(
            pl.DataFrame(
                {
                    "nsrid": nsrxx["nsrid"].to_numpy()[rows],
                    "nsrsbh": nsrxx["nsrsbh"].gather(rows),
                    "pjnd": np.full(k, year),
                    "xydj": grade,
                    "pjdf": pl.Series(score).fill_nan(None),
                    "pjrq": _yyyymmdd(np.full(k, eval_day)),
                    "created_ts": _epoch(stamp),
                    "modified_ts": _epoch(stamp),
                    "_code": true_codes[rows],
                    "_wrong_firm": wrong_firm[rows],
                }
            )
        )
    if not frames:
        return
    allg = pl.concat(frames)
    allg = allg.with_columns(pl.Series("pjid", np.arange(1, allg.height + 1, dtype=np.int64)))
    table = allg.select(
        "pjid", "nsrid", "nsrsbh", "pjnd", "xydj", "pjdf", "pjrq", "created_ts", "modified_ts"
    )
    log = NoiseLog(allg.height)
    # Grades carry the register's taxpayer number: its noise is the register's, not counted again;
    # only an identity error is marked on them too (a grade then speaks of another firm).
    if allg["_wrong_firm"].any():
        log.mark("other_firm_uscc", allg["_wrong_firm"].to_numpy())
    out.add("nsxypj", table, "pjid", ORGANISATION, allg["_code"].to_numpy(), log)
