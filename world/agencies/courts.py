"""The courts: enforcement cases and the public list of dishonest judgment defaulters.

Habits of this agency (see DOMAIN.md): upper-case pinyin-abbreviation column names; dates as
Chinese strings `2023年03月05日`; the internal case table carries full identity numbers (typed by
clerks), the public defaulter list masks the birth month and day of persons
(`3423011964****3224`) and names organisations by USCC or, for old firms, by organisation code
`XXXXXXXX-X`. Case numbers look like `(2023)皖1122执1194号`: filing year, province abbreviation
plus the last four digits of the court's county code, 执 for enforcement, a sequence.

Identity errors (see :mod:`world.agencies.common`) are drawn per table: a case or a listing may
carry another person's or a relative's valid ID (the list then shows that person's masked ID),
or another firm's USCC or organisation code.

A listing lasts 2 years (extendable by 1-3 years) except for "able but refuses", which has no
fixed term; it is removed once the obligation is performed, on the creditor's request, or when
its term expires. Removals and extensions update the row (`XGSJ`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from credlink.etl.identifiers import USCC_CHARSET, uscc_check_chars
from credlink.world import codes, noise, places
from credlink.world.agencies.common import (
    ORGANISATION,
    PERSON,
    AgencyTables,
    firm_id_errors,
    mark_subjects,
    person_id_errors,
    province_abbr,
    sample_organisations,
    sample_persons,
)
from credlink.world.config import WorldConfig
from credlink.world.noise import NoiseLog
from credlink.world.registries import Registries
from credlink.world.timeline import day, entry_stamps, office_stamps, random_days

DDL = """
CREATE TABLE ZXAJ (            -- 执行案件 enforcement cases
    AJBS      INTEGER PRIMARY KEY,   -- 案件标识
    AH        TEXT NOT NULL,         -- 案号
    ZXFY      TEXT NOT NULL,         -- 执行法院
    SQZXR     TEXT,                  -- 申请执行人 (creditor)
    BZXR      TEXT NOT NULL,         -- 被执行人 name
    BZXRLX    TEXT NOT NULL,         -- 被执行人类型: 自然人 / 法人或其他组织
    BZXRZJHM  TEXT,                  -- 证件号码 (full ID, USCC, org code or passport)
    ZXBD      TEXT,                  -- 执行标的 (yuan, '1,234,567.00')
    LARQ      TEXT NOT NULL,         -- 立案日期 '2023年03月05日'
    AJZT      TEXT NOT NULL,         -- 案件状态: 执行中 / 执行完毕 / 终结本次执行
    JARQ      TEXT,                  -- 结案日期
    CJSJ      TEXT NOT NULL,         -- 创建时间 'YYYY-MM-DD HH:MM:SS'
    XGSJ      TEXT NOT NULL          -- 修改时间
);
CREATE INDEX ZXAJ_XGSJ ON ZXAJ (XGSJ);
CREATE TABLE SXBZXR (          -- 失信被执行人名单 the public defaulter list
    SXID      INTEGER PRIMARY KEY,
    AH        TEXT NOT NULL,         -- 案号 of the enforcement case
    BZXRMC    TEXT NOT NULL,         -- 被执行人姓名/名称
    ZJHM      TEXT,                  -- 身份证号码 (masked) / 组织机构代码 / 统一社会信用代码
    BZXRLX    TEXT NOT NULL,
    XB        TEXT,                  -- 性别 男/女 (persons)
    NL        INTEGER,               -- 年龄 at publication (persons)
    FDDBR     TEXT,                  -- 法定代表人 (organisations)
    ZXFY      TEXT NOT NULL,
    SF        TEXT NOT NULL,         -- 省份
    ZXYJWH    TEXT,                  -- 执行依据文号
    LXQK      TEXT NOT NULL,         -- 履行情况: 全部未履行 / 部分未履行
    SXQX      TEXT NOT NULL,         -- 失信情形
    FBRQ      TEXT NOT NULL,         -- 发布日期
    YXQZ      TEXT,                  -- 有效期至 (NULL: no fixed term)
    SFYC      TEXT NOT NULL,         -- 是否移除 是/否
    YCRQ      TEXT,                  -- 移除日期
    YCYY      TEXT,                  -- 移除原因
    CJSJ      TEXT NOT NULL,
    XGSJ      TEXT NOT NULL
);
CREATE INDEX SXBZXR_XGSJ ON SXBZXR (XGSJ);
"""

#: Circumstances of listing (SPC 2017 rules, art. 1) and whether the term is fixed (2 years).
CIRCUMSTANCES: tuple[tuple[str, float, bool], ...] = (
    ("有履行能力而拒不履行生效法律文书确定义务", 0.55, False),
    ("以伪造证据、暴力、威胁等方法妨碍、抗拒执行", 0.04, True),
    ("以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行", 0.12, True),
    ("违反财产报告制度", 0.20, True),
    ("违反限制消费令", 0.05, True),
    ("无正当理由拒不履行执行和解协议", 0.04, True),
)
CN_DATE = "%Y年%m月%d日"
STAMP = "%Y-%m-%d %H:%M:%S"


def _fmt(days: np.ndarray, fmt: str) -> pl.Series:
    return pl.Series(days.astype("datetime64[D]")).dt.strftime(fmt)


def _cn_dates(rng: np.random.Generator, days: np.ndarray, log: NoiseLog, rate: float) -> pl.Series:
    """Chinese-format dates; a `rate` share typed ISO-style instead (marked 'date_format')."""
    other = noise.draw(rng, len(days), rate) & ~np.isnat(days)
    log.mark("date_format", other)
    cn, iso = _fmt(days, CN_DATE), _fmt(days, "%Y-%m-%d")
    return pl.select(pl.when(pl.Series(other)).then(iso).otherwise(cn)).to_series()


def generate(rng: np.random.Generator, cfg: WorldConfig, reg: Registries) -> AgencyTables:
    """The courts database."""
    nz, rates = cfg.noise, cfg.rates
    n_p = int(rng.poisson(cfg.persons * rates.court_cases_person * cfg.years))
    n_o = int(rng.poisson(cfg.organisations * rates.court_cases_org * cfg.years))
    persons = sample_persons(rng, reg, n_p, nz.unregistered_subject)
    orgs = sample_organisations(rng, reg, n_o, nz.unregistered_subject)
    n = n_p + n_o
    is_person = np.concatenate([np.ones(n_p, bool), np.zeros(n_o, bool)])
    subject_type = np.where(is_person, PERSON, ORGANISATION)
    true_code = pl.concat([persons["credit_code"], orgs["credit_code"]]).to_numpy()
    raw_names = pl.concat([persons["name"], orgs["name"]]).to_numpy().astype(str)
    court_region = np.concatenate(
        [
            persons["household_region"]
            .fill_null(pl.Series(places.sample_regions(rng, n_p)))
            .to_numpy(),
            orgs["region"].to_numpy(),
        ]
    ).astype(str)
    province, _, county = places.region_names(court_region)
    court = np.char.add(county.astype(str), "人民法院")

    filed = random_days(rng, n, cfg.start, cfg.end)
    amount = np.where(is_person, rng.lognormal(10.8, 1.2, n), rng.lognormal(13.0, 1.5, n))
    # The list copies the case's name, so name noise is shared by a case and its listing.
    name_log = noise.subject_names(rng, raw_names, is_person, nz)
    case_names = name_log.values
    case_log = NoiseLog(n)
    case_log.update(name_log.log)
    # Subjects that look like someone else: their case and its listing are marked.
    subject_log = NoiseLog(n)
    p_marks, o_marks = NoiseLog(n_p), NoiseLog(n_o)
    mark_subjects(persons, p_marks)
    mark_subjects(orgs, o_marks)
    subject_log.update_at(np.arange(n_p), p_marks)
    subject_log.update_at(np.arange(n_p, n), o_marks)
    case_log.update(subject_log)
    # Clerks type the respondent's full identifier; organisations before 2015 by org code.
    ids = _case_identifiers(rng, cfg, reg, persons, orgs, case_log)

    cases = pl.DataFrame(
        {
            "court_region": court_region,
            "ZXFY": court,
            "filed": filed,
            "BZXR": case_names,
            "BZXRLX": np.where(is_person, "自然人", "法人或其他组织"),
            "BZXRZJHM": ids,
        }
    ).with_columns(
        pl.col("filed").dt.year().cast(pl.String).alias("year"),
    )
    seq = cases.with_row_index("i").with_columns(
        pl.col("i").rank("ordinal").over("court_region", "year").alias("k")
    )["k"].to_numpy() + rng.integers(0, 50, n)
    ah = cases.select(
        pl.format(
            "({}){}{}执{}号",
            pl.col("year"),
            province_abbr(pl.col("court_region")),
            pl.col("court_region").str.slice(2, 4),
            pl.Series(seq),
        )
    ).to_series()

    # Case history: performed (closed 执行完毕), terminated without assets, or still open.
    performed_after = rng.exponential(240, n).astype("timedelta64[D]")
    performed = filed + performed_after
    will_perform = rng.random(n) < 0.45
    closed_day = np.where(
        will_perform, performed, filed + rng.integers(90, 400, n).astype("timedelta64[D]")
    )
    closed = closed_day <= day(cfg.end)
    status = np.where(~closed, "执行中", np.where(will_perform, "执行完毕", "终结本次执行"))
    created = entry_stamps(rng, filed, 3, cfg.end)
    updated = np.where(closed, office_stamps(rng, closed_day), created)
    updated = np.maximum(updated, created)

    zxaj = pl.DataFrame(
        {
            "AJBS": np.arange(1, n + 1, dtype=np.int64),
            "AH": ah,
            "ZXFY": court,
            "SQZXR": _creditors(rng, reg, n),
            "BZXR": case_names,
            "BZXRLX": cases["BZXRLX"],
            "BZXRZJHM": pl.Series(ids, dtype=pl.String).replace("", None),
            "ZXBD": pl.Series(np.round(amount, 2)).map_elements(
                lambda v: f"{v:,.2f}", return_dtype=pl.String
            ),
            "LARQ": _cn_dates(rng, filed, case_log, nz.date_format),
            "AJZT": status,
            "JARQ": _fmt(np.where(closed, closed_day, np.datetime64("NaT")), CN_DATE),
            "CJSJ": pl.Series(created).dt.strftime(STAMP),
            "XGSJ": pl.Series(updated).dt.strftime(STAMP),
        }
    )
    out = AgencyTables(name="courts", ddl=DDL)
    out.add_with_duplicates(
        rng, "ZXAJ", zxaj, "AJBS", nz.duplicate, case_log, subject_type, true_code
    )

    # The public list: a share of cases, listed 30-180 days after filing.
    listed = (rng.random(n) < rates.defaulter_listing) & ~(
        will_perform & (performed_after < np.timedelta64(45, "D"))
    )
    listed_day = filed + rng.integers(30, 181, n).astype("timedelta64[D]")
    listed &= listed_day <= day(cfg.end)
    idx = np.flatnonzero(listed)
    listing_log = name_log.log.take(idx)
    listing_log.update(subject_log.take(idx))
    listing, listing_log = _defaulter_list(
        rng,
        cfg,
        reg,
        idx,
        is_person,
        persons,
        orgs,
        case_names,
        ah,
        court,
        province,
        listed_day,
        performed,
        will_perform,
        subject_type,
        true_code,
        listing_log,
    )
    out.add_with_duplicates(
        rng, "SXBZXR", listing, "SXID", nz.duplicate, listing_log, subject_type[idx], true_code[idx]
    )
    return out


def _case_identifiers(
    rng: np.random.Generator,
    cfg: WorldConfig,
    reg: Registries,
    persons: pl.DataFrame,
    orgs: pl.DataFrame,
    log: NoiseLog,
) -> np.ndarray:
    """The respondent identifiers clerks typed into the case table (identity errors among the
    persons' IDs left intact by the typing noise)."""
    nz = cfg.noise
    n_p, n_o = persons.height, orgs.height
    p_ids = persons["id_number"].to_numpy().astype("<U18")
    p_log = NoiseLog(n_p)
    born = persons["birth_date"].to_numpy()
    p_ids = noise.citizen_ids(
        rng,
        p_ids,
        p_log,
        eligible=persons["registered"].to_numpy(),
        mistype_rate=nz.id_mistype,
        missing_rate=nz.id_missing,
        legacy_rate=nz.legacy_id,
        born_before_2000=born < np.datetime64("2000-01-01"),
    )
    typed = ("legacy_id", "id_mistype", "id_missing")
    intact = persons["registered"].to_numpy() & ~np.any(
        [p_log.kinds.get(k, np.zeros(n_p, dtype=bool)) for k in typed], axis=0
    )
    p_ids = person_id_errors(
        cfg,
        reg,
        "courts.ZXAJ.person",
        p_ids,
        persons["credit_code"].fill_null("").to_numpy().astype(str),
        p_log,
        intact,
    )
    o_ids, o_log = _org_identifiers(
        rng, cfg, orgs, legacy_form="organisation_code", reg=reg, table="courts.ZXAJ"
    )
    log.update_at(np.arange(n_p), p_log)
    log.update_at(np.arange(n_p, n_p + n_o), o_log)
    return np.concatenate([p_ids, o_ids]).astype(str)


def _org_identifiers(
    rng: np.random.Generator,
    cfg: WorldConfig,
    orgs: pl.DataFrame,
    legacy_form: str,
    *,
    reg: Registries,
    table: str,
) -> tuple[np.ndarray, NoiseLog]:
    """USCCs, or for pre-2015 organisations the legacy code in `legacy_form`; mistyped or
    missing at the configured rates; empty for unregistered businesses. Then, among the intact
    ones, another firm's code of the same form (`other_firm_uscc`, the stream of `table`)."""
    nz = cfg.noise
    n = orgs.height
    log = NoiseLog(n)
    registered = orgs["registered"].to_numpy()
    ids = orgs["credit_code"].fill_null("").to_numpy().astype("<U18")
    legacy = noise.draw(rng, n, nz.legacy_org_code, orgs["pre_reform"].to_numpy() & registered)
    legacy_values = orgs[legacy_form].fill_null("").to_numpy().astype("<U18")
    ids[legacy] = legacy_values[legacy]
    log.mark("legacy_org_code", legacy)
    mistype = noise.draw(rng, n, nz.id_mistype, registered & ~legacy)
    if mistype.any():
        ids[mistype] = codes.mistype_ids(
            rng, ids[mistype], charset=USCC_CHARSET, check=uscc_check_chars
        )[0]
        log.mark("id_mistype", mistype)
    missing = noise.draw(rng, n, nz.id_missing, registered & ~legacy & ~mistype)
    ids[missing] = ""
    log.mark("id_missing", missing)
    ids = firm_id_errors(
        cfg,
        reg,
        table,
        ids,
        log,
        eligible=registered & ~mistype & ~missing,
        legacy=legacy,
        legacy_form=legacy_form,
    )
    return ids.astype(str), log


def _creditors(rng: np.random.Generator, reg: Registries, n: int) -> np.ndarray:
    """Applicants for enforcement: banks and firms mostly, some individuals (not linked)."""
    orgs = reg.organisations["name"].to_numpy()
    people = reg.persons["name"].to_numpy()
    banks = np.array(
        ["中国工商银行股份有限公司", "中国农业银行股份有限公司", "中国建设银行股份有限公司",
         "中国银行股份有限公司", "交通银行股份有限公司", "中国邮政储蓄银行股份有限公司"]
    )  # fmt: skip
    pick = rng.random(n)
    return np.where(
        pick < 0.3,
        banks[rng.integers(0, len(banks), n)],
        np.where(
            pick < 0.7, orgs[rng.integers(0, len(orgs), n)], people[rng.integers(0, len(people), n)]
        ),
    ).astype(str)


def _defaulter_list(
    rng: np.random.Generator,
    cfg: WorldConfig,
    reg: Registries,
    idx: np.ndarray,
    is_person: np.ndarray,
    persons: pl.DataFrame,
    orgs: pl.DataFrame,
    case_names: np.ndarray,
    ah: pl.Series,
    court: np.ndarray,
    province: np.ndarray,
    listed_day: np.ndarray,
    performed: np.ndarray,
    will_perform: np.ndarray,
    subject_type: np.ndarray,
    true_code: np.ndarray,
    log: NoiseLog,
) -> tuple[pl.DataFrame, NoiseLog]:
    nz = cfg.noise
    m = len(idx)
    n_p = persons.height
    person = is_person[idx]
    # Persons: masked identity number (another person's or a relative's at the identity-error
    # rates); foreigners: passport as is.
    p_rows = np.clip(idx, 0, max(n_p - 1, 0))
    p_id = persons["id_number"].to_numpy().astype(str)[p_rows] if n_p else np.full(m, "")
    p_reg = persons["registered"].to_numpy()[p_rows] if n_p else np.zeros(m, bool)
    p_id = person_id_errors(
        cfg, reg, "courts.SXBZXR.person", p_id, p_id, log, person & p_reg
    ).astype(str)
    masked = np.where(
        p_reg, codes.mask_citizen_ids(np.where(p_reg, p_id, "000000000000000000")), p_id
    )
    o_rows = np.clip(idx - n_p, 0, max(orgs.height - 1, 0))
    o_ids, o_log = _org_identifiers(
        rng, cfg, orgs[o_rows], legacy_form="organisation_code", reg=reg, table="courts.SXBZXR"
    )
    for kind, mask in o_log.kinds.items():
        log.mark(kind, mask & ~person)
    zjhm = np.where(person, masked, o_ids)

    circ_p = np.array([c[1] for c in CIRCUMSTANCES])
    circ = rng.choice(len(CIRCUMSTANCES), m, p=circ_p / circ_p.sum())
    fixed = np.array([c[2] for c in CIRCUMSTANCES])[circ]
    start = listed_day[idx]
    term_end = start + np.timedelta64(730, "D")
    extended = fixed & (rng.random(m) < 0.10)
    extension = rng.integers(1, 4, m) * np.timedelta64(365, "D")
    valid_until = np.where(
        fixed, np.where(extended, term_end + extension, term_end), np.datetime64("NaT")
    )
    # Removal: performance (within 3 working days, ~5 calendar days), creditor's request, expiry.
    perf = performed[idx]
    removal = np.full(m, np.datetime64("NaT"), dtype="datetime64[D]")
    reason = np.full(m, "", dtype=object)
    by_perf = will_perform[idx] & (perf > start)
    removal[by_perf] = perf[by_perf] + rng.integers(1, 6, int(by_perf.sum())).astype(
        "timedelta64[D]"
    )
    reason[by_perf] = np.where(
        rng.random(int(by_perf.sum())) < 0.8, "全部履行", "达成执行和解协议并履行完毕"
    )
    by_request = ~by_perf & (rng.random(m) < 0.06)
    removal[by_request] = start[by_request] + rng.integers(30, 500, int(by_request.sum())).astype(
        "timedelta64[D]"
    )
    reason[by_request] = "申请执行人申请屏蔽失信信息"
    expire = ~by_perf & ~by_request & fixed
    removal[expire] = valid_until[expire]
    reason[expire] = "失信期限届满"
    end = day(cfg.end)
    removed = ~np.isnat(removal) & (removal <= end)
    created = entry_stamps(rng, start, 1, cfg.end)
    ext_day = term_end - rng.integers(5, 60, m).astype("timedelta64[D]")
    updated = np.where(
        extended & (ext_day <= end), office_stamps(rng, np.minimum(ext_day, end)), created
    )
    updated = np.where(removed, office_stamps(rng, np.where(removed, removal, end)), updated)
    updated = np.maximum(updated, created)
    # An extension is only known once it was decided; before that the list shows the 2-year term.
    shown_until = np.where(extended & (ext_day > end), term_end, valid_until)

    born = persons["birth_date"].to_numpy()[p_rows] if n_p else np.full(m, np.datetime64("NaT"))
    age = (start - born).astype("timedelta64[D]").astype(np.int64) // 365
    rows = pl.DataFrame(
        {
            "SXID": np.arange(1, m + 1, dtype=np.int64),
            "AH": ah.gather(idx),
            "BZXRMC": case_names[idx],
            "ZJHM": pl.Series(zjhm.astype(str), dtype=pl.String).replace("", None),
            "BZXRLX": np.where(person, "自然人", "法人或其他组织"),
            "XB": pl.Series(
                np.where(
                    person,
                    np.where(persons["sex"].to_numpy()[p_rows] == "M", "男", "女") if n_p else "",
                    "",
                ),
                dtype=pl.String,
            ).replace("", None),
            "NL": pl.Series(np.where(person, age, -1)).replace(-1, None),
            "FDDBR": pl.Series(
                np.where(
                    person, "", orgs["legal_rep_name"].to_numpy()[o_rows] if orgs.height else ""
                ),
                dtype=pl.String,
            ).replace("", None),
            "ZXFY": court[idx],
            "SF": province[idx],
            "ZXYJWH": ah.gather(idx).str.replace("执", "民初"),
            "LXQK": np.where(rng.random(m) < 0.8, "全部未履行", "部分未履行"),
            "SXQX": np.array([c[0] for c in CIRCUMSTANCES])[circ],
            "FBRQ": noise.garble(
                rng, _cn_dates(rng, start, log, nz.date_format), nz.garbled_value, log, "cn_date"
            ),
            "YXQZ": _fmt(shown_until, CN_DATE),
            "SFYC": np.where(removed, "是", "否"),
            "YCRQ": _fmt(np.where(removed, removal, np.datetime64("NaT")), CN_DATE),
            "YCYY": pl.Series(np.where(removed, reason.astype(str), ""), dtype=pl.String).replace(
                "", None
            ),
            "CJSJ": pl.Series(created).dt.strftime(STAMP),
            "XGSJ": pl.Series(updated).dt.strftime(STAMP),
        }
    )
    return rows, log
