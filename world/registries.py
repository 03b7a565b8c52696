"""The two reference registries, the code holders of the world.

* population registry: one row per citizen, keyed by the GB 11643 citizen identity number;
* legal-entity registry: one row per organisation, keyed by its GB 32100 USCC, with its legal
  representative (a person of the population registry) and, for organisations registered before
  the 2015 reform, the legacy registration number, organisation code and tax registration number.

Also built here, apart from the registries: the subjects that exist in no registry (foreign
passport holders and unregistered businesses), who appear in agency records and must stay
unlinked.

The in-memory frames carry a few helper columns (prefixed `_`) that are not written to the
registry files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from world import codes, names, places
from world.config import WorldConfig
from world.timeline import ONE_DAY, day, office_stamps

#: Birth cohorts (first year, last year, share) roughly following China's 2020 census pyramid.
BIRTH_COHORTS: tuple[tuple[int, int, float], ...] = (
    (1935, 1949, 0.05),
    (1950, 1959, 0.10),
    (1960, 1969, 0.17),
    (1970, 1979, 0.15),
    (1980, 1989, 0.17),
    (1990, 1999, 0.15),
    (2000, 2009, 0.12),
    (2010, 2019, 0.09),
)
MALE_SHARE = 0.512
#: Share of people whose household registration moved away from the region in their ID number.
MOVED_SHARE = 0.15

#: Entity types: USCC positions 1-2 and their share of the legal-entity registry.
ENTITY_TYPES: tuple[tuple[str, str, float], ...] = (
    ("91", "企业", 0.50),
    ("92", "个体工商户", 0.38),
    ("93", "农民专业合作社", 0.04),
    ("51", "社会团体", 0.03),
    ("52", "民办非企业单位", 0.02),
    ("53", "基金会", 0.003),
    ("12", "事业单位", 0.027),
)
#: The USCC reform: organisations registered before this date also had legacy codes.
USCC_REFORM = date(2015, 10, 1)
DEREGISTERED_SHARE = 0.08


@dataclass
class Registries:
    """Everyone in the world, registered or not."""

    persons: pl.DataFrame
    organisations: pl.DataFrame
    foreigners: pl.DataFrame
    unregistered: pl.DataFrame


def _birth_days(rng: np.random.Generator, n: int) -> np.ndarray:
    shares = np.array([c[2] for c in BIRTH_COHORTS])
    cohort = rng.choice(len(BIRTH_COHORTS), n, p=shares / shares.sum())
    first = np.array([day(date(c[0], 1, 1)) for c in BIRTH_COHORTS])
    last = np.array([day(date(c[1], 12, 31)) for c in BIRTH_COHORTS])
    span = (last - first).astype(np.int64) + 1
    return first[cohort] + (rng.random(n) * span[cohort]).astype("timedelta64[D]")


def _unique_citizen_ids(
    rng: np.random.Generator, regions: np.ndarray, births: np.ndarray, is_male: np.ndarray
) -> np.ndarray:
    """Draw sequence numbers (odd for men) until every identity number is unique."""
    n = len(regions)
    seq = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    ids = np.empty(n, dtype="<U18")
    while len(todo):
        s = rng.integers(0, 500, len(todo)) * 2 + is_male[todo].astype(np.int64)
        seq[todo] = s
        ids[todo] = codes.citizen_ids(regions[todo], births[todo], seq[todo])
        _, first = np.unique(ids, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        todo = np.flatnonzero(dup)
    return ids


def build_persons(rng: np.random.Generator, cfg: WorldConfig) -> pl.DataFrame:
    """The population registry as a frame (with helper columns `_pid`, `_is_male`)."""
    n = cfg.persons
    is_male = rng.random(n) < MALE_SHARE
    births = _birth_days(rng, n)
    # Newborns of the period are registered in the period; the rest exist before it.
    births = np.minimum(births, day(cfg.end))
    id_region = places.sample_regions(rng, n)
    moved = rng.random(n) < MOVED_SHARE
    household = id_region.copy()
    household[moved] = places.sample_regions(rng, int(moved.sum()))
    ids = _unique_citizen_ids(rng, id_region, births, is_male)

    # Registry entry: the 1999 computerisation, or birth if later, plus a few days.
    entry_day = np.maximum(births, day(date(1999, 10, 1))) + rng.integers(0, 60, n).astype(
        "timedelta64[D]"
    )
    entry_day = np.minimum(entry_day, day(cfg.end))
    created = office_stamps(rng, entry_day)
    # Some records are updated during the period (a move, a new phone).
    updated_in_period = rng.random(n) < 0.04
    span = (cfg.end - cfg.start).days + 1
    upd_day = day(cfg.start) + rng.integers(0, span, n).astype("timedelta64[D]")
    upd_day = np.maximum(upd_day, entry_day)
    updated = np.where(updated_in_period, office_stamps(rng, upd_day), created)

    phones = places.sample_mobile_phones(rng, n)
    too_young = births > day(cfg.start) - np.timedelta64(16 * 365, "D")
    phones[too_young | (rng.random(n) < 0.05)] = ""
    return pl.DataFrame(
        {
            "_pid": np.arange(n, dtype=np.int64),
            "citizen_id": ids,
            "name": names.sample_person_names(rng, is_male),
            "sex": np.where(is_male, "M", "F"),
            "birth_date": births,
            "household_region": household,
            "address": places.sample_addresses(rng, household),
            "phone": phones,
            "created_at": created,
            "updated_at": updated,
            "_is_male": is_male,
        }
    ).with_columns(pl.col("phone").replace("", None))


def build_organisations(
    rng: np.random.Generator, cfg: WorldConfig, persons: pl.DataFrame
) -> pl.DataFrame:
    """The legal-entity registry as a frame (with helper columns `_oid`, `_pre_reform`)."""
    n = cfg.organisations
    shares = np.array([t[2] for t in ENTITY_TYPES])
    kind = rng.choice(len(ENTITY_TYPES), n, p=shares / shares.sum())
    prefixes = np.array([t[0] for t in ENTITY_TYPES])[kind]
    regions = places.sample_regions(rng, n)

    # Registration dates: 1993..end, most firms older than the period, many before the reform.
    first, last = day(date(1993, 1, 1)), day(cfg.end)
    span = int((last - first).astype(np.int64)) + 1
    reg_days = first + (span * rng.beta(2.2, 1.3, n)).astype("timedelta64[D]")
    pre_reform = reg_days < day(USCC_REFORM)

    org_codes = codes.org_codes(rng, n)
    usccs = codes.usccs(prefixes, regions, org_codes)
    market = np.isin(prefixes, ["91", "92", "93"])
    legacy_reg = np.where(pre_reform & market, codes.legacy_registration_numbers(rng, regions), "")
    legacy_org = np.where(pre_reform, codes.format_org_codes(org_codes), "")
    legacy_tax = np.where(pre_reform, codes.legacy_tax_numbers(regions, org_codes), "")

    # Legal representatives: adults at registration, drawn from the population registry.
    births = persons["birth_date"].to_numpy()
    adult = np.flatnonzero(births < day(cfg.start) - np.timedelta64(25 * 365, "D"))
    reps = rng.choice(adult, n)
    rep_ids = persons["citizen_id"].to_numpy()[reps]
    rep_names = persons["name"].to_numpy()[reps]

    dereg = rng.random(n) < DEREGISTERED_SHARE
    life = (last - reg_days).astype(np.int64)
    dereg_days = reg_days + (rng.random(n) * life).astype("timedelta64[D]")
    created_day = np.where(
        reg_days < day(cfg.start),
        np.maximum(
            reg_days, day(date(2016, 1, 1)) - rng.integers(0, 365, n).astype("timedelta64[D]")
        ),
        reg_days,
    )
    created = office_stamps(rng, created_day)
    updated = np.where(
        dereg & (dereg_days >= day(cfg.start)), office_stamps(rng, dereg_days), created
    )
    updated = np.maximum(updated, created)
    return pl.DataFrame(
        {
            "_oid": np.arange(n, dtype=np.int64),
            "uscc": usccs,
            "name": names.sample_org_names(rng, prefixes, regions),
            "entity_type": prefixes,
            "registration_region": regions,
            "registration_date": reg_days,
            "legal_rep_id": rep_ids,
            "legal_rep_name": rep_names,
            "legacy_registration_no": legacy_reg,
            "organisation_code": legacy_org,
            "legacy_tax_no": legacy_tax,
            "status": np.where(dereg, "注销", "存续"),
            "deregistration_date": np.where(dereg, dereg_days, np.datetime64("NaT")),
            "address": places.sample_addresses(rng, regions),
            "created_at": created,
            "updated_at": updated,
            "_pre_reform": pre_reform,
            "_rep_pid": reps.astype(np.int64),
        }
    ).with_columns(
        [
            pl.col(c).replace("", None)
            for c in ("legacy_registration_no", "organisation_code", "legacy_tax_no")
        ]
    )


def _latin_names(rng: np.random.Generator, is_male: np.ndarray) -> np.ndarray:
    """'Given FAMILY' names from Faker's en_US tables (as written on a foreign passport)."""
    from faker.providers.person.en_US import Provider as En

    male, female = np.array(sorted(En.first_names_male)), np.array(sorted(En.first_names_female))
    family = np.char.upper(np.array(sorted(En.last_names)))
    given = np.where(
        is_male,
        male[rng.integers(0, len(male), len(is_male))],
        female[rng.integers(0, len(female), len(is_male))],
    )
    return np.char.add(np.char.add(given, " "), family[rng.integers(0, len(family), len(is_male))])


def build_foreigners(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """Foreign passport holders: in no registry. Half carry Chinese names (overseas Chinese),
    which makes them look-alikes that a careless linker would force onto a citizen."""
    numbers, nationality = codes.passport_numbers(rng, n)
    is_male = rng.random(n) < 0.6
    chinese = rng.random(n) < 0.5
    zh = names.sample_person_names(rng, is_male)
    latin = _latin_names(rng, is_male)
    return pl.DataFrame(
        {
            "passport_no": numbers,
            "nationality": nationality,
            "name": np.where(chinese, zh, latin),
            "is_chinese_name": chinese,
            "sex": np.where(is_male, "M", "F"),
            "birth_date": _birth_days(rng, n),
        }
    )


def build_unregistered(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """Businesses trading without registration (no USCC, in no registry)."""
    regions = places.sample_regions(rng, n)
    return pl.DataFrame(
        {
            "name": names.sample_org_names(rng, np.full(n, "92"), regions),
            "region": regions,
            "address": places.sample_addresses(rng, regions),
        }
    )


def build_registries(rng: np.random.Generator, cfg: WorldConfig) -> Registries:
    """Everyone in the world."""
    persons = build_persons(rng, cfg)
    organisations = build_organisations(rng, cfg, persons)
    n_foreign = max(20, cfg.persons // 200)
    n_unreg = max(20, cfg.organisations // 20)
    return Registries(
        persons=persons,
        organisations=organisations,
        foreigners=build_foreigners(rng, n_foreign),
        unregistered=build_unregistered(rng, n_unreg),
    )


def persons_table(reg: Registries) -> pl.DataFrame:
    """The population registry as written to `population.db` (table `person`)."""
    return reg.persons.select(pl.exclude("^_.*$"))


def organisations_table(reg: Registries) -> pl.DataFrame:
    """The legal-entity registry as written to `legal_entities.db` (table `legal_entity`)."""
    return reg.organisations.select(pl.exclude("^_.*$"))


__all__ = ["ONE_DAY", "Registries", "build_registries"]
