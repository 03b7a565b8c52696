"""Culture and tourism: the records of tourists' seriously uncivilised behaviour.

文化和旅游部 (before 2018 the national tourism administration) and the provincial culture and
tourism departments keep the 游客不文明行为记录: a tourist whose behaviour on a trip was punished
by an administrative penalty or a court, or caused serious public harm, is recorded for a number
of years, and may not join outbound tours meanwhile (the seed's "misbehaving tourists can not go
on holiday abroad for a number of years").

Habits of this agency: upper-case English column names with underscores (`TOURIST_NAME`, an
Oracle habit); dates dotted `2024.03.05` (a few typed `2024-03-05` by hand); timestamps as
14-digit local times `20240305140700`; a tourist is identified by a certificate type code
(`CERT_TYPE` `111` resident identity card, `414` ordinary passport, as in the public-security
certificate codes) and `CERT_NO`, as typed by the provincial office from the penalty decision or
the tour group's list (mistypes happen); sex 男 / 女; the act as a code `TB01`..`TB07` of the
recording rules, with a line of narrative and the place.

The rules, as modelled here (DOMAIN.md "Rules since 2020": [unconfirmed] details; the 2015 text
as reported by secondary sources): the 2015 interim measures on records of tourists'
uncivilised behaviour (游客不文明行为记录管理暂行办法, revised May 2015 and again in 2016) name six
kinds of act (disrupting public transport, damaging public sanitation or facilities, violating
local customs, damaging relics, gambling / pornography / drugs or dangerous activities, seriously
disrupting tourism order) and, since the revision, "other acts the tourism authority finds of
serious social harm"; the record is kept for a term by the gravity of the act, counted from the
day the information is confirmed (核实) — 1 to 5 years here [unconfirmed: the first text said
1 to 2 years; one early record was reported kept 10 years]. A recorded tourist may object; an
objection upheld withdraws the record (撤销). A tourist who repairs the harm (public-interest
work, an apology, compensation) may have the term shortened: the record is corrected in place
(`RECORD_YEARS`, `EXPIRY_DATE`, a note of the change). The system marks a record 期满 when its
term ends. Rates: :class:`world.config.EventRates` (`uncivilised_tourists`,
`tourism_foreigners`, `tourism_withdrawn`, `tourism_shortened`).

Most tourists are citizens of the population registry (adults); a few are foreigners with a
passport (in no registry: true code null). Identity errors (see :mod:`world.agencies.common`):
a record may carry another person's or a relative's valid citizen ID; foreign namesakes and
namesake twins are marked.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from credlink.world import noise
from credlink.world.agencies.common import (
    PERSON,
    AgencyTables,
    mark_subjects,
    person_id_errors,
    sample_persons,
)
from credlink.world.config import WorldConfig
from credlink.world.noise import NoiseLog
from credlink.world.registries import Registries
from credlink.world.timeline import day, entry_stamps, office_stamps, random_days

TABLE = "UNCIVIL_RECORD"

DDL = """
CREATE TABLE UNCIVIL_RECORD (           -- 游客不文明行为记录
    RECORD_ID        INTEGER PRIMARY KEY,
    RECORD_NO        TEXT NOT NULL,     -- 记录编号 川文旅记〔2024〕15号
    TOURIST_NAME     TEXT NOT NULL,
    GENDER           TEXT,              -- 男 / 女
    CERT_TYPE        TEXT NOT NULL,     -- 111 resident identity card / 414 ordinary passport
    CERT_NO          TEXT,
    NATIONALITY      TEXT,              -- ISO 3166 alpha-3
    BEHAVIOUR_CODE   TEXT NOT NULL,     -- TB01..TB07
    BEHAVIOUR_DETAIL TEXT,
    PLACE            TEXT NOT NULL,
    ABROAD           TEXT NOT NULL,     -- Y / N
    ACT_DATE         TEXT NOT NULL,     -- 2024.03.05
    CONFIRM_DATE     TEXT NOT NULL,     -- 信息核实: the term counts from this day
    GRAVITY          TEXT NOT NULL,     -- 一般 / 较重 / 严重
    RECORD_YEARS     INTEGER NOT NULL,  -- 1..5
    EXPIRY_DATE      TEXT NOT NULL,
    STATUS           TEXT NOT NULL,     -- 有效 / 期满 / 已撤销
    CHANGE_DATE      TEXT,              -- withdrawal or correction
    CHANGE_NOTE      TEXT,
    AUTHORITY        TEXT NOT NULL,     -- the recording culture and tourism authority
    CREATE_TIME      TEXT NOT NULL,     -- 20240305140700 (local time)
    UPDATE_TIME      TEXT NOT NULL
);
CREATE INDEX UNCIVIL_RECORD_UPDATE_TIME ON UNCIVIL_RECORD (UPDATE_TIME);
"""

#: The acts of the recording rules (code, text, share, narrative template with the place).
BEHAVIOURS: tuple[tuple[str, str, float, str], ...] = (
    ("TB01", "扰乱公共汽车、电车、火车、船舶、航空器或者其他公共交通工具秩序", 0.25,
     "在{}上与工作人员发生冲突，扰乱公共交通工具秩序"),
    ("TB02", "破坏公共环境卫生、公共设施", 0.20, "在{}损坏公共设施"),
    ("TB03", "违反旅游目的地社会风俗、民族生活习惯", 0.10, "在{}不尊重当地风俗习惯，造成恶劣影响"),
    ("TB04", "损毁、破坏旅游目的地文物古迹", 0.20, "在{}文物上刻画、攀爬"),
    ("TB05", "参与赌博、色情、毒品内容的活动或者危险性活动", 0.08, "在{}参与违法活动"),
    ("TB06", "严重扰乱旅游秩序的活动", 0.12, "在{}强行闯入管控区域，严重扰乱旅游秩序"),
    ("TB07", "国务院旅游主管部门认定的造成严重社会不良影响的其他行为", 0.05,
     "在{}的行为造成严重社会不良影响"),
)  # fmt: skip
#: Domestic places: (place, the recording provincial authority, its abbreviation).
DOMESTIC: tuple[tuple[str, str, str], ...] = (
    ("故宫博物院", "北京市文化和旅游局", "京"),
    ("八达岭长城", "北京市文化和旅游局", "京"),
    ("外滩", "上海市文化和旅游局", "沪"),
    ("西湖风景名胜区", "浙江省文化和旅游厅", "浙"),
    ("黄山风景区", "安徽省文化和旅游厅", "皖"),
    ("张家界国家森林公园", "湖南省文化和旅游厅", "湘"),
    ("九寨沟风景名胜区", "四川省文化和旅游厅", "川"),
    ("峨眉山风景区", "四川省文化和旅游厅", "川"),
    ("秦始皇帝陵博物院", "陕西省文化和旅游厅", "陕"),
    ("布达拉宫", "西藏自治区文化和旅游厅", "藏"),
    ("桂林漓江风景区", "广西壮族自治区文化和旅游厅", "桂"),
    ("丽江古城", "云南省文化和旅游厅", "云"),
    ("鼓浪屿", "福建省文化和旅游厅", "闽"),
    ("泰山风景名胜区", "山东省文化和旅游厅", "鲁"),
    ("三亚亚龙湾", "海南省旅游和文化广电体育厅", "琼"),
)
#: Places abroad: the national record (文化和旅游部) keeps outbound tourists' acts.
ABROAD: tuple[str, ...] = (
    "泰国曼谷大皇宫", "日本京都清水寺", "法国巴黎卢浮宫", "意大利罗马斗兽场", "埃及卢克索神庙",
    "柬埔寨吴哥窟", "新加坡圣淘沙", "印度尼西亚巴厘岛", "越南下龙湾", "韩国济州岛",
)  # fmt: skip
NATIONAL_AUTHORITY = "文化和旅游部"
#: Shares of the record terms 1..5 years (by the act's gravity).
YEAR_SHARES = (0.35, 0.25, 0.20, 0.12, 0.08)
#: The gravity a term reflects: 1 year 一般, 2-3 较重, 4-5 严重.
GRAVITY = {1: "一般", 2: "较重", 3: "较重", 4: "严重", 5: "严重"}
#: Certificate type codes (public-security 证件类型代码).
CERT_CITIZEN, CERT_PASSPORT = "111", "414"
DOTTED = "%Y.%m.%d"
STAMP = "%Y%m%d%H%M%S"
WITHDRAWN_NOTE = "当事人异议成立，撤销记录"


def _dotted(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype("datetime64[D]")).dt.strftime(DOTTED)


def _stamp(stamps: np.ndarray) -> pl.Series:
    return pl.Series(stamps.astype("datetime64[ms]")).dt.strftime(STAMP)


def _plus_years(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The same day `years` later (29 February: 1 March)."""
    frame = pl.DataFrame({"d": days.astype("datetime64[D]"), "y": years.astype(np.int64)})
    shifted = frame.select(
        pl.date(pl.col("d").dt.year() + pl.col("y"), pl.col("d").dt.month(), 1)
        + pl.duration(days=pl.col("d").dt.day() - 1)
    ).to_series()
    return shifted.to_numpy().astype("datetime64[D]")


def _act_dates(rng: np.random.Generator, days: np.ndarray, log: NoiseLog, rate: float) -> pl.Series:
    """Dotted dates; a `rate` share typed ISO-style by hand (marked 'date_format')."""
    other = noise.draw(rng, len(days), rate)
    log.mark("date_format", other)
    iso = pl.Series(days.astype("datetime64[D]")).dt.strftime("%Y-%m-%d")
    return pl.select(pl.when(pl.Series(other)).then(iso).otherwise(_dotted(days))).to_series()


def _tourists(
    rng: np.random.Generator, cfg: WorldConfig, reg: Registries, n: int
) -> tuple[pl.DataFrame, NoiseLog, np.ndarray]:
    """The recorded tourists with their (noisy) names and certificates; their true codes."""
    nz = cfg.noise
    who = sample_persons(rng, reg, n, cfg.rates.tourism_foreigners)
    log = NoiseLog(n)
    registered = who["registered"].to_numpy()
    raw = who["name"].to_numpy().astype(str)
    chinese_name = registered | np.array([not s.isascii() for s in raw], dtype=bool)
    shown = raw.astype(object)
    cn = np.flatnonzero(chinese_name)
    sub = NoiseLog(len(cn))
    shown[cn] = noise.person_names(rng, raw[cn], sub, nz.name_typo, nz.traditional_name)
    log.update_at(cn, sub)
    ids = noise.citizen_ids(
        rng,
        who["id_number"].to_numpy().astype("<U18"),
        log,
        eligible=registered,
        mistype_rate=nz.id_mistype,
        missing_rate=nz.id_missing,
        legacy_rate=nz.legacy_id,
        born_before_2000=registered & (who["birth_date"].dt.year().to_numpy() < 2000),
    )
    typed = ("legacy_id", "id_mistype", "id_missing")
    intact = registered & ~np.any(
        [log.kinds.get(k, np.zeros(n, dtype=bool)) for k in typed], axis=0
    )
    truth = who["credit_code"].fill_null("").to_numpy().astype(str)
    ids = person_id_errors(cfg, reg, f"tourism.{TABLE}.person", ids, truth, log, intact)
    mark_subjects(who, log)
    frame = pl.DataFrame(
        {
            "TOURIST_NAME": shown,
            "GENDER": np.where(who["sex"].to_numpy() == "M", "男", "女"),
            "CERT_TYPE": np.where(registered, CERT_CITIZEN, CERT_PASSPORT),
            "CERT_NO": pl.Series(ids.astype(str)).replace("", None),
            "NATIONALITY": who["nationality"],
        }
    )
    return frame, log, who["credit_code"].to_numpy()


def generate(rng: np.random.Generator, cfg: WorldConfig, reg: Registries) -> AgencyTables:
    """The culture and tourism database."""
    out = AgencyTables(name="tourism", ddl=DDL)
    rates, nz = cfg.rates, cfg.noise
    end = day(cfg.end)
    n = int(rng.poisson(cfg.persons * rates.uncivilised_tourists * cfg.years))
    people, log, truth = _tourists(rng, cfg, reg, n)

    acted = random_days(rng, n, cfg.start, cfg.end)
    # Reported, checked and notified to the tourist before the record is made.
    confirmed = acted + rng.integers(10, 61, n).astype("timedelta64[D]")
    code = _pick(rng, n)
    abroad = rng.random(n) < 0.3
    spot = rng.integers(0, len(DOMESTIC), n)
    foreign_spot = rng.integers(0, len(ABROAD), n)
    place = np.where(
        abroad, np.array(ABROAD)[foreign_spot], np.array([d[0] for d in DOMESTIC])[spot]
    )
    # Disorder on transport happens on a flight or a train (of the trip).
    vehicle = np.where(
        rng.random(n) < 0.6,
        np.char.add(np.char.add("MU", rng.integers(1000, 9999, n).astype(str)), "航班"),
        np.char.add(np.char.add("G", rng.integers(1, 9999, n).astype(str)), "次列车"),
    )
    place = np.where(code == "TB01", vehicle, place)
    authority = np.where(abroad, NATIONAL_AUTHORITY, np.array([d[1] for d in DOMESTIC])[spot])
    abbr = np.where(abroad, "", np.array([d[2] for d in DOMESTIC])[spot])
    template = {b[0]: b[3] for b in BEHAVIOURS}
    detail = pl.Series(
        [template[c].format(p) for c, p in zip(code, place, strict=True)], dtype=pl.String
    )

    years = rng.choice(len(YEAR_SHARES), n, p=YEAR_SHARES) + 1
    # Damaging relics and disrupting flights weigh more.
    graver = np.isin(code, ["TB01", "TB04"]) & (rng.random(n) < 0.3)
    years = np.minimum(years + graver, 5)
    # Later history: an objection upheld withdraws the record; repair shortens its term.
    withdrawn = rng.random(n) < rates.tourism_withdrawn
    withdrawn_on = confirmed + rng.integers(15, 121, n).astype("timedelta64[D]")
    withdrawn &= withdrawn_on <= end
    shortened = (rng.random(n) < rates.tourism_shortened) & (years >= 2) & ~withdrawn
    new_years = np.maximum(1, years - rng.integers(1, 3, n))
    shortened_on = confirmed + rng.integers(90, 336, n).astype("timedelta64[D]")
    shortened &= shortened_on <= end
    final_years = np.where(shortened, new_years, years)
    expiry = _plus_years(confirmed, final_years)
    expired = ~withdrawn & (expiry <= end)
    status = np.where(withdrawn, "已撤销", np.where(expired, "期满", "有效"))
    change_on = np.where(
        withdrawn, withdrawn_on, np.where(shortened, shortened_on, np.datetime64("NaT"))
    )
    note = np.where(
        withdrawn,
        WITHDRAWN_NOTE,
        np.where(
            shortened,
            np.char.add(
                np.char.add(
                    np.char.add("当事人积极消除不良影响，记录期限由", years.astype(str)), "年调整为"
                ),
                np.char.add(new_years.astype(str), "年"),
            ),
            "",
        ),
    )

    keep = confirmed <= end
    created = entry_stamps(rng, confirmed, 2, cfg.end)
    last_change = np.where(expired, expiry, change_on)
    changed = ~np.isnat(last_change)
    updated = np.where(changed, office_stamps(rng, np.where(changed, last_change, end)), created)
    updated = np.maximum(updated, created)
    year = pl.Series(confirmed.astype("datetime64[D]")).dt.year().cast(pl.String)
    record_no = pl.select(
        pl.format("{}文旅记〔{}〕{}号", pl.Series(abbr), year, pl.Series(rng.integers(1, 500, n)))
    ).to_series()
    rows = pl.DataFrame(
        {
            "RECORD_ID": np.arange(1, n + 1, dtype=np.int64),
            "RECORD_NO": record_no,
            **people.to_dict(),
            "BEHAVIOUR_CODE": noise.garble(
                rng, pl.Series("BEHAVIOUR_CODE", code), nz.garbled_value, log, "code"
            ),
            "BEHAVIOUR_DETAIL": detail,
            "PLACE": place,
            "ABROAD": np.where(abroad, "Y", "N"),
            "ACT_DATE": _act_dates(rng, acted, log, nz.date_format),
            "CONFIRM_DATE": _dotted(confirmed),
            "GRAVITY": pl.Series([GRAVITY[int(y)] for y in final_years], dtype=pl.String),
            "RECORD_YEARS": final_years.astype(np.int64),
            "EXPIRY_DATE": _dotted(expiry),
            "STATUS": status,
            "CHANGE_DATE": _dotted(change_on),
            "CHANGE_NOTE": pl.Series(note.astype(str), dtype=pl.String).replace("", None),
            "AUTHORITY": authority,
            "CREATE_TIME": _stamp(created),
            "UPDATE_TIME": _stamp(updated),
        }
    )
    # Records are numbered as they are made, in the order of confirmation.
    order = np.flatnonzero(keep)[np.argsort(confirmed[keep], kind="stable")]
    rows = rows[order].with_columns(
        pl.Series("RECORD_ID", np.arange(1, len(order) + 1, dtype=np.int64))
    )
    out.add_with_duplicates(
        rng, TABLE, rows, "RECORD_ID", nz.duplicate, log.take(order), PERSON, truth[order]
    )
    return out


def _pick(rng: np.random.Generator, n: int) -> np.ndarray:
    p = np.array([b[2] for b in BEHAVIOURS])
    return np.array([b[0] for b in BEHAVIOURS])[rng.choice(len(BEHAVIOURS), n, p=p / p.sum())]
