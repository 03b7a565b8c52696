"""Transport: the lists of seriously dishonest passengers (flights and rail, 2018 notices).

Habits of this agency: CamelCase English column names; ISO 8601 timestamps with the `+08:00`
offset; a person is identified by an `IdType` (`NI` national identity card, `PP` passport) and
`IdNumber` typed at the police station (mistypes happen); flight records often carry the
passenger name as printed on the boarding pass, in airline pinyin (`ZHANG/WEI`).

Flights: one of 9 acts punished by the police -> 1-year ban. Rail: disrupting order, smoking on
EMU trains, scalping or forged tickets -> 180-day ban; riding without a ticket and refusing to
pay -> banned until the fare is paid. Lists are published monthly and take effect after a
7-working-day objection window (modelled as 9 calendar days).

Identity errors (see :mod:`world.agencies.common`): a ban may carry another person's or a
relative's valid ID; a foreign passenger's passport number may be missing (`IdType` PP with an
empty `IdNumber`, `passport_no_number`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from credlink.world import names, noise
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
from credlink.world.timeline import day, office_stamps, random_days

DDL = """
CREATE TABLE FlightBan (
    Id              INTEGER PRIMARY KEY,
    PassengerName   TEXT NOT NULL,
    IdType          TEXT NOT NULL,      -- NI (national ID) / PP (passport)
    IdNumber        TEXT,
    Nationality     TEXT,               -- ISO 3166 alpha-3
    FlightNumber    TEXT,
    DepartureAirport TEXT,              -- IATA code
    BehaviourCode   TEXT NOT NULL,      -- CA01..CA09
    PoliceAuthority TEXT NOT NULL,
    PenaltyDate     TEXT NOT NULL,      -- YYYY-MM-DD
    PublishedOn     TEXT NOT NULL,      -- list publication (monthly)
    EffectiveFrom   TEXT NOT NULL,      -- after the objection window
    ExpiresOn       TEXT NOT NULL,
    Status          TEXT NOT NULL,      -- Pending / Active / Expired / Withdrawn
    CreatedAt       TEXT NOT NULL,      -- ISO 8601 with +08:00
    UpdatedAt       TEXT NOT NULL
);
CREATE INDEX FlightBan_UpdatedAt ON FlightBan (UpdatedAt);
CREATE TABLE RailBan (
    Id              INTEGER PRIMARY KEY,
    PassengerName   TEXT NOT NULL,
    IdType          TEXT NOT NULL,
    IdNumber        TEXT,
    Nationality     TEXT,
    TrainNumber     TEXT,
    Station         TEXT,
    BehaviourCode   TEXT NOT NULL,      -- RL01..RL05
    FareOwedYuan    REAL,               -- fare dodging only
    FarePaidOn      TEXT,
    PublishedOn     TEXT NOT NULL,
    EffectiveFrom   TEXT NOT NULL,
    ExpiresOn       TEXT,               -- NULL: until the fare is paid
    Status          TEXT NOT NULL,
    CreatedAt       TEXT NOT NULL,
    UpdatedAt       TEXT NOT NULL
);
CREATE INDEX RailBan_UpdatedAt ON RailBan (UpdatedAt);
"""

#: The nine acts of the 2018 civil aviation notice.
FLIGHT_BEHAVIOURS: tuple[tuple[str, str, float], ...] = (
    ("CA01", "编造、故意传播涉及民航空防安全虚假恐怖信息", 0.03),
    ("CA02", "使用伪造、变造或冒用他人乘机身份证件、乘机凭证", 0.10),
    ("CA03", "堵塞、强占、冲击值机柜台、安检通道、登机口（通道）", 0.12),
    ("CA04", "随身携带或托运国家法律、法规规定的危险品、违禁品和管制物品", 0.20),
    ("CA05", "强行登占、拦截航空器，强行闯入或冲击航空器驾驶舱、跑道和机坪", 0.04),
    ("CA06", "妨碍或煽动他人妨碍机组、安检、值机等民航工作人员履行职责", 0.15),
    (
        "CA07",
        "在航空器内强占座位、行李架，打架斗殴、寻衅滋事，故意损坏、盗窃、擅自开启航空器或航空设施设备",
        0.16,
    ),
    ("CA08", "在航空器内使用明火、吸烟、违规使用电子设备，不听劝阻", 0.15),
    ("CA09", "在航空器内盗窃他人物品", 0.05),
)
RAIL_BEHAVIOURS: tuple[tuple[str, str, float], ...] = (
    ("RL01", "扰乱铁路站车运输秩序且危及铁路安全、造成严重社会不良影响", 0.15),
    ("RL02", "在动车组列车上吸烟或者在其他列车的禁烟区域吸烟", 0.35),
    ("RL03", "倒卖、变造、伪造车票", 0.10),
    ("RL04", "冒用优惠（待）身份证件、使用伪造或无效优惠（待）身份证件购票乘车", 0.10),
    ("RL05", "无票乘车、越站（席）乘车且拒不补票", 0.30),
)
AIRPORTS = ("PEK", "PVG", "CAN", "SZX", "CTU", "KMG", "XIY", "CKG", "HGH", "SHA", "NKG", "WUH")
AIRLINES = ("CA", "MU", "CZ", "HU", "3U", "ZH", "MF", "SC")
STATIONS = (
    "北京南",
    "上海虹桥",
    "广州南",
    "深圳北",
    "武汉",
    "郑州东",
    "杭州东",
    "南京南",
    "成都东",
    "西安北",
)
ISO_STAMP = "%Y-%m-%dT%H:%M:%S+08:00"
OBJECTION_DAYS = np.timedelta64(9, "D")


def _iso_day(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype("datetime64[D]")).dt.strftime("%Y-%m-%d")


def _month_publication(days: np.ndarray) -> np.ndarray:
    """Lists are published on the 5th of the month after the penalty."""
    months = days.astype("datetime64[M]") + np.timedelta64(1, "M")
    return months.astype("datetime64[D]") + np.timedelta64(4, "D")


def _people(
    rng: np.random.Generator,
    cfg: WorldConfig,
    reg: Registries,
    n: int,
    pinyin_rate: float,
    table: str,
) -> tuple[pl.DataFrame, NoiseLog, np.ndarray]:
    """Passengers with their (noisy) names and identifiers; the identity errors of `table`."""
    nz = cfg.noise
    who = sample_persons(rng, reg, n, nz.unregistered_subject)
    log = NoiseLog(n)
    registered = who["registered"].to_numpy()
    raw = who["name"].to_numpy().astype(str)
    chinese_name = registered | np.array([not s.isascii() for s in raw], dtype=bool)
    shown = raw.astype(object)  # pinyin spellings are longer than the names
    cn = np.flatnonzero(chinese_name)
    sub = NoiseLog(len(cn))
    shown[cn] = noise.person_names(rng, raw[cn], sub, nz.name_typo, nz.traditional_name)
    log.update_at(cn, sub)
    pinyin = noise.draw(rng, n, pinyin_rate, chinese_name)
    if pinyin.any():
        shown[pinyin] = names.to_pinyin(shown[pinyin], "airline")
        log.mark("pinyin_name", pinyin)
    ids = who["id_number"].to_numpy().astype("<U18")
    ids = noise.citizen_ids(
        rng,
        ids,
        log,
        eligible=registered,
        mistype_rate=nz.id_mistype,
        missing_rate=nz.id_missing,
        legacy_rate=0.0,
        born_before_2000=np.zeros(n, bool),
    )
    typed = ("id_mistype", "id_missing")
    intact = registered & ~np.any(
        [log.kinds.get(k, np.zeros(n, dtype=bool)) for k in typed], axis=0
    )
    stream = f"transport.{table}"
    truth = who["credit_code"].fill_null("").to_numpy().astype(str)
    ids = person_id_errors(cfg, reg, f"{stream}.person", ids, truth, log, intact)
    no_number = noise.draw(
        noise.stream(cfg.seed, f"{stream}.passport"), n, cfg.noise.passport_no_number, ~registered
    )
    if no_number.any():
        ids[no_number] = ""
        log.mark("passport_no_number", no_number)
    mark_subjects(who, log)
    frame = pl.DataFrame(
        {
            "PassengerName": shown,
            "IdType": np.where(registered, "NI", "PP"),
            "IdNumber": pl.Series(ids.astype(str)).replace("", None),
            "Nationality": who["nationality"],
        }
    )
    return frame, log, who["credit_code"].to_numpy()


def _pick(
    rng: np.random.Generator, table: tuple[tuple[str, str, float], ...], n: int
) -> np.ndarray:
    p = np.array([t[2] for t in table])
    return np.array([t[0] for t in table])[rng.choice(len(table), n, p=p / p.sum())]


def generate(rng: np.random.Generator, cfg: WorldConfig, reg: Registries) -> AgencyTables:
    """The transport database."""
    out = AgencyTables(name="transport", ddl=DDL)
    end = day(cfg.end)

    # Flights: 1-year ban from the end of the objection window.
    n = int(rng.poisson(cfg.persons * cfg.rates.flight_bans * cfg.years))
    people, log, truth = _people(rng, cfg, reg, n, cfg.noise.pinyin_name, "FlightBan")
    penalty = random_days(rng, n, cfg.start, cfg.end)
    published = _month_publication(penalty)
    keep = published <= end
    effective = published + OBJECTION_DAYS
    expires = effective + np.timedelta64(365, "D")
    created = office_stamps(rng, published)
    status, updated = _status(rng, effective, expires, created, end)
    flights = pl.DataFrame(
        {
            "Id": np.arange(1, n + 1, dtype=np.int64),
            **people.to_dict(),
            "FlightNumber": pl.Series(
                np.char.add(
                    np.array(AIRLINES)[rng.integers(0, len(AIRLINES), n)],
                    rng.integers(1000, 9999, n).astype(str),
                )
            ),
            "DepartureAirport": np.array(AIRPORTS)[rng.integers(0, len(AIRPORTS), n)],
            "BehaviourCode": _pick(rng, FLIGHT_BEHAVIOURS, n),
            "PoliceAuthority": np.where(rng.random(n) < 0.5, "民航公安机关", "机场公安局"),
            "PenaltyDate": _iso_day(penalty),
            "PublishedOn": _iso_day(published),
            "EffectiveFrom": _iso_day(effective),
            "ExpiresOn": _iso_day(expires),
            "Status": status,
            "CreatedAt": pl.Series(created).dt.strftime(ISO_STAMP),
            "UpdatedAt": pl.Series(updated).dt.strftime(ISO_STAMP),
        }
    )
    _publish(out, "FlightBan", flights, keep, log, truth, rng, cfg)

    # Rail: 180 days, or until the fare is paid for fare dodging.
    n = int(rng.poisson(cfg.persons * cfg.rates.rail_bans * cfg.years))
    people, log, truth = _people(rng, cfg, reg, n, 0.0, "RailBan")
    penalty = random_days(rng, n, cfg.start, cfg.end)
    published = _month_publication(penalty)
    keep = published <= end
    effective = published + OBJECTION_DAYS
    code = _pick(rng, RAIL_BEHAVIOURS, n)
    dodging = code == "RL05"
    paid = dodging & (rng.random(n) < 0.6)
    paid_on = effective + rng.integers(1, 400, n).astype("timedelta64[D]")
    paid_seen = paid & (paid_on <= end)
    expires = np.where(
        dodging,
        np.where(paid_seen, paid_on, np.datetime64("NaT")),
        effective + np.timedelta64(180, "D"),
    )
    created = office_stamps(rng, published)
    status, updated = _status(rng, effective, expires, created, end)
    rail = pl.DataFrame(
        {
            "Id": np.arange(1, n + 1, dtype=np.int64),
            **people.to_dict(),
            "TrainNumber": pl.Series(
                np.char.add(
                    np.array(["G", "D", "K", "T", "Z"])[rng.integers(0, 5, n)],
                    rng.integers(1, 9999, n).astype(str),
                )
            ),
            "Station": np.array(STATIONS)[rng.integers(0, len(STATIONS), n)],
            "BehaviourCode": noise.garble(
                rng, pl.Series("BehaviourCode", code), cfg.noise.garbled_value, log, "code"
            ),
            "FareOwedYuan": pl.Series(
                np.where(dodging, np.round(rng.uniform(20, 900, n), 1), np.nan)
            ).fill_nan(None),
            "FarePaidOn": _iso_day(np.where(paid_seen, paid_on, np.datetime64("NaT"))),
            "PublishedOn": _iso_day(published),
            "EffectiveFrom": _iso_day(effective),
            "ExpiresOn": _iso_day(expires),
            "Status": status,
            "CreatedAt": pl.Series(created).dt.strftime(ISO_STAMP),
            "UpdatedAt": pl.Series(updated).dt.strftime(ISO_STAMP),
        }
    )
    _publish(out, "RailBan", rail, keep, log, truth, rng, cfg)
    return out


def _publish(
    out: AgencyTables,
    table: str,
    rows: pl.DataFrame,
    keep: np.ndarray,
    log: NoiseLog,
    truth: np.ndarray,
    rng: np.random.Generator,
    cfg: WorldConfig,
) -> None:
    """Record the bans published by the world's end, a few entered twice."""
    rows = rows.filter(pl.Series(keep))
    out.add_with_duplicates(
        rng,
        table,
        rows,
        "Id",
        cfg.noise.duplicate,
        log.take(np.flatnonzero(keep)),
        PERSON,
        truth[keep],
    )


def _status(
    rng: np.random.Generator,
    effective: np.ndarray,
    expires: np.ndarray,
    created: np.ndarray,
    end: np.datetime64,
) -> tuple[np.ndarray, np.ndarray]:
    """Status as of the world's end, and when the row was last updated by it."""
    n = len(effective)
    # An objection upheld within the window withdraws the listing before it takes effect.
    withdrawn = (rng.random(n) < 0.01) & (effective - np.timedelta64(2, "D") <= end)
    expired = ~np.isnat(expires) & (expires <= end)
    active = effective <= end
    status = np.where(
        withdrawn, "Withdrawn", np.where(expired, "Expired", np.where(active, "Active", "Pending"))
    )
    changed = np.where(
        withdrawn,
        effective - np.timedelta64(2, "D"),
        np.where(expired, expires, np.where(active, effective, np.datetime64("NaT"))),
    )
    stamps = np.where(
        np.isnat(changed), created, office_stamps(rng, np.where(np.isnat(changed), end, changed))
    )
    return status, np.maximum(stamps, created)
