"""The two reference registries, the code holders of the world.

* population registry: one row per citizen, keyed by the GB 11643 citizen identity number;
* legal-entity registry: one row per organisation, keyed by its GB 32100 USCC, with its legal
  representative (a person of the population registry) and, for organisations registered before
  the 2015 reform, the legacy registration number, organisation code and tax registration number;
  and the representatives' terms of office (:func:`build_representatives`): one row per
  (organisation, representative term), most organisations one term since registration, a share
  :data:`REP_CHANGED_SHARE` a change of representative once or twice during the world's period.

Also built here, apart from the registries: the subjects that exist in no registry (foreign
passport holders and unregistered businesses), who appear in agency records and must stay
unlinked.

Identity look-alikes (:data:`world.config.IDENTITY_ERRORS`), each drawn from a random stream of
its own (:func:`world.noise.stream`), so that every other draw of the world stays as it was:

* namesake twins (:func:`add_namesake_twins`, rate `same_name_birthday`): persons of one county
  with the same name, sex and birth date, their citizen IDs differing in the sequence digits;
* foreign namesakes (:func:`add_foreign_namesakes`, rate `foreign_namesake`): foreigners who bear
  a citizen's exact Chinese name, birth year and sex;
* unregistered look-alikes (:func:`add_lookalikes`, rate `unregistered_lookalike`): unregistered
  businesses named like a registered firm but for the region prefix or one trade-name character.

The registries themselves stay clean: they are the reference that agency records are linked to.

The in-memory frames carry a few helper columns (prefixed `_`) that are not written to the
registry files: persons `_pid`, `_is_male`, `_surname`, `_twin` (has a namesake twin);
organisations `_oid`, `_pre_reform`, `_rep_pid`; representative terms `_oid`, `_term` (0 for the
first), `_rep_pid`; foreigners `_namesake_of` (the citizen ID whose
bearer's name they bear); unregistered businesses `_lookalike_of` (the USCC of the firm they are
named like) and `_lookalike_rep` (its legal representative's name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from credlink.world import codes, names, noise, places
from credlink.world.config import WorldConfig
from credlink.world.timeline import ONE_DAY, day, office_stamps

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
#: Namesake twins are persons born before this day: adults at the start of any world (which
#: starts in 2016 or later), so that no age-based choice of the generator (legal
#: representatives, adult subjects, legacy IDs, registry entry) sees a twin differently.
TWINS_BORN_BEFORE = date(1990, 1, 1)
#: Entity types whose names unregistered look-alikes copy (enterprises, individual businesses).
LOOKALIKE_TYPES = ("91", "92")
#: Tries at a look-alike name that no business bears yet.
LOOKALIKE_ROUNDS = 10
#: Share of organisations whose legal representative changed during the world's period
#: (变更法定代表人), among those that existed long enough in it (see
#: :func:`build_representatives`); an assumption of the simulation [unconfirmed: no published
#: rate of changes of representative is used here].
REP_CHANGED_SHARE = 0.15
#: Of those, the share that changed twice.
REP_CHANGED_TWICE_SHARE = 0.2
#: A representative serves at least this many days (from registration, or between changes).
MIN_TERM_DAYS = 30
#: A representative is at least this old (years) when taking office.
REP_MIN_AGE = 18


@dataclass
class Registries:
    """Everyone in the world, registered or not."""

    persons: pl.DataFrame
    organisations: pl.DataFrame
    foreigners: pl.DataFrame
    unregistered: pl.DataFrame
    #: the legal-entity registry's representatives with their terms (:func:`build_representatives`)
    representatives: pl.DataFrame


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
    """The population registry as a frame (with helper columns `_pid`, `_is_male`; see
    :func:`with_person_helpers` for the others)."""
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


def _former_reps(
    rng: np.random.Generator,
    persons: pl.DataFrame,
    pool: np.ndarray,
    took_office: np.ndarray,
    successor: np.ndarray,
) -> np.ndarray:
    """For each term starting on `took_office`, a representative (person row) drawn from `pool`
    among those at least :data:`REP_MIN_AGE` years old that day (the whole pool if nobody is),
    never the `successor` who took over from them."""
    births = persons["birth_date"].to_numpy()[pool]
    order = np.argsort(births, kind="stable")
    pool, births = pool[order], births[order]
    oldest_enough = took_office - np.timedelta64(REP_MIN_AGE * 365, "D")
    k = np.searchsorted(births, oldest_enough, side="right")
    k = np.where(k == 0, len(pool), k)
    idx = np.minimum((rng.random(len(took_office)) * k).astype(np.int64), k - 1)
    same = (pool[idx] == successor) & (k > 1)
    idx[same] = (idx[same] + 1) % k[same]
    return pool[idx]


def build_representatives(
    rng: np.random.Generator, cfg: WorldConfig, organisations: pl.DataFrame, persons: pl.DataFrame
) -> pl.DataFrame:
    """The legal representatives' terms of office: one row per (organisation, term), with
    `term_from` (the day the representative took office: the registration, or the change) and
    `term_to` (exclusive: the day the next one took office; null while in office).

    The current representative is the organisation's (`legal_rep_id` of its registry row, drawn
    as before, so nothing else of the world changes). A share :data:`REP_CHANGED_SHARE` of the
    organisations that existed at least :data:`MIN_TERM_DAYS` days in the period (registered
    that long before its end, not deregistered meanwhile) changed representative during it, a
    share :data:`REP_CHANGED_TWICE_SHARE` of those twice (at least :data:`MIN_TERM_DAYS` days
    apart); the former representatives are adults of the population registry who were at least
    :data:`REP_MIN_AGE` on taking office, each another person than their successor. An
    organisation whose current representative was not yet :data:`REP_MIN_AGE` at its
    registration (and that did not change in the period) changed once before the period.

    Stamps: a first term was created with its organisation's row; a change is one stamp, the
    update of the term that ends (`term_to` set) and the creation of the next. The
    organisation's row itself is left as it was (its `updated_at` does not move at a change).
    Columns: `_oid`, `_term`, `uscc`, `legal_rep_id`, `legal_rep_name`, `term_from`, `term_to`,
    `created_at`, `updated_at`, `_rep_pid`; sorted by organisation and term.
    """
    n = organisations.height
    registered = organisations["registration_date"].to_numpy()
    dereg = organisations["deregistration_date"].to_numpy()
    min_term = np.timedelta64(MIN_TERM_DAYS, "D")
    # the days a change can fall on: in the period, a term after registration, before deregistering
    # (a change before the period too, below)
    lo = np.maximum(day(cfg.start), registered + min_term)
    hi = np.where(np.isnat(dereg), day(cfg.end), np.minimum(day(cfg.end), dereg - ONE_DAY))
    span = (hi - lo).astype(np.int64) + 1
    u = rng.random(n)
    changes = ((u < REP_CHANGED_SHARE) & (span >= 1)).astype(np.int64)
    changes += (u < REP_CHANGED_SHARE * REP_CHANGED_TWICE_SHARE) & (span > MIN_TERM_DAYS)
    r1, r2, r3 = rng.random(n), rng.random(n), rng.random(n)
    first_span = np.where(changes == 2, span - MIN_TERM_DAYS, span)
    c1 = lo + (r1 * np.maximum(first_span, 1)).astype("timedelta64[D]")
    rest = np.maximum((hi - c1 - min_term).astype(np.int64) + 1, 1)
    c2 = c1 + min_term + (r2 * rest).astype("timedelta64[D]")

    births = persons["birth_date"].to_numpy()
    pool = np.flatnonzero(births < day(cfg.start) - np.timedelta64(25 * 365, "D"))
    current = organisations["_rep_pid"].to_numpy()
    # A current representative too young to have taken office at registration (drawn among
    # the adults of the period) took over from a founding one before the period: after
    # coming of age, at least a term after registration, before deregistering.
    of_age = births[current] + np.timedelta64(REP_MIN_AGE * 365, "D")
    pre_lo = np.maximum(registered + min_term, of_age)
    pre_hi = np.where(np.isnat(dereg), day(cfg.start), np.minimum(day(cfg.start), dereg))
    pre_span = (pre_hi - pre_lo).astype(np.int64)
    earlier = (changes == 0) & (of_age > registered) & (pre_span >= 1)
    c1 = np.where(earlier, pre_lo + (r3 * np.maximum(pre_span, 1)).astype("timedelta64[D]"), c1)
    changes[earlier] = 1
    created_at = organisations["created_at"].to_numpy()
    # a change before the organisation's row was made was entered with it
    s1 = office_stamps(rng, c1)
    s1 = np.where(earlier, np.maximum(s1, created_at), s1)
    s2 = office_stamps(rng, c2)
    # the one before the current representative, then (two changes) the first one
    before = _former_reps(rng, persons, pool, np.where(changes == 2, c1, registered), current)
    first = _former_reps(rng, persons, pool, registered, before)

    # one row per term: organisation o has changes[o] + 1 terms, j = 0 .. changes[o]
    oid = np.repeat(np.arange(n), changes + 1)
    j = np.arange(len(oid)) - np.repeat(np.cumsum(changes + 1) - (changes + 1), changes + 1)
    k = changes[oid]
    starts = np.stack([registered, c1, c2])[np.minimum(j, 2), oid]
    ends = np.stack([c1, c2, c2])[np.minimum(j, 2), oid]
    ends = np.where(j < k, ends, np.datetime64("NaT", "D"))
    stamps = np.stack([created_at, s1, s2])
    created = stamps[np.minimum(j, 2), oid]
    updated = np.where(j < k, stamps[np.minimum(j + 1, 2), oid], created)
    who = np.where(
        j == k, current[oid], np.where((k == 2) & (j == 0), first[oid], before[oid])
    ).astype(np.int64)
    return pl.DataFrame(
        {
            "_oid": oid.astype(np.int64),
            "_term": j.astype(np.int64),
            "uscc": organisations["uscc"].to_numpy()[oid],
            "legal_rep_id": persons["citizen_id"].to_numpy()[who],
            "legal_rep_name": persons["name"].to_numpy()[who],
            "term_from": starts,
            "term_to": ends,
            "created_at": created,
            "updated_at": updated,
            "_rep_pid": who,
        }
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


def _draw_ids(
    rng: np.random.Generator,
    regions: np.ndarray,
    births: np.ndarray,
    is_male: np.ndarray,
    taken: pl.Series,
) -> np.ndarray:
    """New citizen IDs (sequence digits drawn, odd for men) unique among themselves and `taken`."""
    k = len(regions)
    ids = np.empty(k, dtype="<U18")
    todo = np.arange(k)
    while len(todo):
        seq = rng.integers(0, 500, len(todo)) * 2 + is_male[todo].astype(np.int64)
        ids[todo] = codes.citizen_ids(regions[todo], births[todo], seq)
        clash = pl.Series(ids).is_in(taken.implode()).to_numpy()
        clash |= ~pl.Series(ids).is_first_distinct().to_numpy()
        todo = np.flatnonzero(clash)
    return ids


def add_namesake_twins(
    rng: np.random.Generator, persons: pl.DataFrame, rate: float
) -> pl.DataFrame:
    """Make a `rate` share of the eligible persons a namesake twin of another person of their ID
    county: the twin takes that person's name, sex and birth date, and a new citizen ID (same
    address code and birth date, other sequence digits). Eligible: persons born before
    :data:`TWINS_BORN_BEFORE` with another such person in their ID county; the person copied is
    drawn among those not made twins themselves. Address, household and phone stay the twin's."""
    n = persons.height
    births = persons["birth_date"].to_numpy()
    county = persons["citizen_id"].str.slice(0, 6).to_numpy().astype(str)
    old = births < day(TWINS_BORN_BEFORE)
    old_county = pl.Series(np.where(old, county, ""))
    per_county = old_county.to_frame("c").select(pl.len().over("c"))[:, 0].to_numpy()
    twin = noise.draw(rng, n, rate, old & (per_county >= 2))
    # Whom each twin copies: a person of the same county, born before the cut, not a twin.
    cand = np.flatnonzero(old & ~twin)
    cand = cand[np.argsort(county[cand], kind="stable")]
    cand_county = county[cand]
    b = np.flatnonzero(twin)
    lo = np.searchsorted(cand_county, county[b], "left")
    hi = np.searchsorted(cand_county, county[b], "right")
    u = rng.random(len(b))
    ok = hi > lo
    b, lo, hi, u = b[ok], lo[ok], hi[ok], u[ok]
    if not len(b):
        return persons
    a = cand[lo + np.minimum((u * (hi - lo)).astype(np.int64), hi - lo - 1)]
    is_male = persons["_is_male"].to_numpy().copy()
    is_male[b] = is_male[a]
    new_births = births.copy()
    new_births[b] = births[a]
    ids = persons["citizen_id"].to_numpy().astype("<U18")
    keep = np.ones(n, dtype=bool)
    keep[b] = False
    ids[b] = _draw_ids(rng, county[b], births[a], is_male[b], pl.Series(ids[keep]))
    person_names = persons["name"].to_numpy().copy()
    person_names[b] = person_names[a]
    sex = persons["sex"].to_numpy().copy()
    sex[b] = sex[a]
    return persons.with_columns(
        pl.Series("citizen_id", ids),
        pl.Series("name", person_names),
        pl.Series("sex", sex),
        pl.Series("birth_date", new_births),
        pl.Series("_is_male", is_male),
    )


def with_person_helpers(persons: pl.DataFrame) -> pl.DataFrame:
    """Add `_surname` and `_twin` (another person has the same name, birth date and ID county)."""
    surname, _ = names.split_names(persons["name"].to_numpy())
    return persons.with_columns(
        pl.Series("_surname", surname),
        (pl.len().over("name", "birth_date", pl.col("citizen_id").str.slice(0, 6)) > 1).alias(
            "_twin"
        ),
    )


def adult_rows(persons: pl.DataFrame, min_age: int = 18) -> np.ndarray:
    """Rows of the persons at least `min_age` years older than the registry's youngest (the
    adults that agency records are about, as in :func:`world.agencies.common.sample_persons`)."""
    births = persons["birth_date"].to_numpy()
    return np.flatnonzero(births <= births.max() - np.timedelta64(min_age * 365, "D"))


def add_foreign_namesakes(
    rng: np.random.Generator, foreigners: pl.DataFrame, persons: pl.DataFrame, rate: float
) -> pl.DataFrame:
    """Make a `rate` share of the foreigners with a Chinese name namesakes of a random adult
    citizen: the citizen's name and sex, a birth date in the citizen's birth year. Adds
    `_namesake_of` (the citizen's ID, null for the others)."""
    n = foreigners.height
    hit = noise.draw(rng, n, rate, foreigners["is_chinese_name"].to_numpy())
    idx = np.flatnonzero(hit)
    of = np.full(n, None, dtype=object)
    if not len(idx):
        return foreigners.with_columns(pl.Series("_namesake_of", of.tolist(), dtype=pl.String))
    adults = adult_rows(persons)
    who = persons[adults[rng.integers(0, len(adults), len(idx))]]
    year = who["birth_date"].dt.year().to_numpy()
    jan1 = pl.Series([date(int(y), 1, 1) for y in year]).to_numpy()
    born = jan1 + rng.integers(0, 365, len(idx)).astype("timedelta64[D]")
    full_names = foreigners["name"].to_numpy().copy()
    full_names[idx] = who["name"].to_numpy()
    sex = foreigners["sex"].to_numpy().copy()
    sex[idx] = who["sex"].to_numpy()
    births = foreigners["birth_date"].to_numpy().copy()
    births[idx] = born
    of[idx] = who["citizen_id"].to_numpy()
    return foreigners.with_columns(
        pl.Series("name", full_names.tolist(), dtype=pl.String),
        pl.Series("sex", sex.tolist(), dtype=pl.String),
        pl.Series("birth_date", births),
        pl.Series("_namesake_of", of.tolist(), dtype=pl.String),
    )


def add_lookalikes(
    rng: np.random.Generator,
    unregistered: pl.DataFrame,
    organisations: pl.DataFrame,
    rate: float,
) -> pl.DataFrame:
    """Name a `rate` share of the unregistered businesses like a random registered enterprise or
    individual business (:func:`world.names.org_name_lookalikes`): another region prefix (the
    business's own prefecture) or one trade-name character changed (then the business trades
    in the firm's county). A look-alike name that is already some registered or unregistered
    business's name is drawn again, from another firm (after :data:`LOOKALIKE_ROUNDS` tries the
    business stays as it was). Adds `_lookalike_of` (the firm's USCC) and `_lookalike_rep` (the
    firm's legal representative's name), null for the others."""
    n = unregistered.height
    hit = noise.draw(rng, n, rate)
    templates = organisations.filter(pl.col("entity_type").is_in(LOOKALIKE_TYPES))
    idx = np.flatnonzero(hit)
    of = np.full(n, None, dtype=object)
    rep = np.full(n, None, dtype=object)
    regions = unregistered["region"].to_numpy().astype(str).copy()
    biz_names = unregistered["name"].to_numpy().astype(object).copy()
    addresses = unregistered["address"].to_numpy().astype(object).copy()
    taken = pl.concat([organisations["name"], unregistered["name"]])
    pending = idx if templates.height else idx[:0]
    for _ in range(LOOKALIKE_ROUNDS):
        if not len(pending):
            break
        firm = templates[rng.integers(0, templates.height, len(pending))]
        looks, kind = names.org_name_lookalikes(rng, firm["name"].to_numpy(), regions[pending])
        region = np.where(
            kind == "trade_char",
            firm["registration_region"].to_numpy().astype(str),
            regions[pending],
        )
        address = places.sample_addresses(rng, region)
        fresh = ~pl.Series(looks).is_in(taken.implode()).to_numpy()
        fresh &= pl.Series(looks).is_first_distinct().to_numpy()
        use = pending[fresh]
        biz_names[use] = looks[fresh]
        regions[use] = region[fresh]
        addresses[use] = address[fresh]
        of[use] = firm["uscc"].to_numpy()[fresh]
        rep[use] = firm["legal_rep_name"].to_numpy()[fresh]
        taken = pl.concat([taken, pl.Series(looks[fresh])])
        pending = pending[~fresh]
    return unregistered.with_columns(
        pl.Series("name", biz_names.tolist(), dtype=pl.String),
        pl.Series("region", regions),
        pl.Series("address", addresses.tolist(), dtype=pl.String),
        pl.Series("_lookalike_of", of.tolist(), dtype=pl.String),
        pl.Series("_lookalike_rep", rep.tolist(), dtype=pl.String),
    )


def relatives(
    rng: np.random.Generator, persons: pl.DataFrame, citizen_ids: np.ndarray
) -> np.ndarray:
    """For each of `citizen_ids`, the citizen ID of a random relative: another registry person
    with the same surname and the same household or ID county ('' when there is none)."""
    k = len(citizen_ids)
    out = np.full(k, "", dtype="<U18")
    if not k:
        return out
    people = persons.select(
        "citizen_id",
        "_surname",
        "household_region",
        pl.col("citizen_id").str.slice(0, 6).alias("id_region"),
    )
    subjects = pl.DataFrame({"_i": np.arange(k), "citizen_id": citizen_ids.astype(str)}).join(
        people, on="citizen_id", how="inner"
    )
    keys = pl.concat(
        [
            subjects.select("_i", "citizen_id", "_surname", pl.col(c).alias("_county"))
            for c in ("household_region", "id_region")
        ]
    )
    kin = pl.concat(
        [
            people.select(
                pl.col("citizen_id").alias("_kin"), "_surname", pl.col(c).alias("_county")
            )
            for c in ("household_region", "id_region")
        ]
    )
    pairs = (
        keys.join(kin, on=["_surname", "_county"])
        .filter(pl.col("_kin") != pl.col("citizen_id"))
        .select("_i", "_kin")
        .unique()
        .sort("_i", "_kin")
    )
    if pairs.is_empty():
        return out
    chosen = (
        pairs.with_columns(pl.Series("_u", rng.random(pairs.height)))
        .group_by("_i")
        .agg(pl.col("_kin").sort_by("_u").first())
    )
    out[chosen["_i"].to_numpy()] = chosen["_kin"].to_numpy().astype(str)
    return out


def build_registries(rng: np.random.Generator, cfg: WorldConfig) -> Registries:
    """Everyone in the world (identity look-alikes from streams of their own, see module doc)."""
    nz = cfg.noise
    persons = build_persons(rng, cfg)
    persons = add_namesake_twins(
        noise.stream(cfg.seed, "registries.twins"), persons, nz.same_name_birthday
    )
    persons = with_person_helpers(persons)
    organisations = build_organisations(rng, cfg, persons)
    representatives = build_representatives(
        noise.stream(cfg.seed, "registries.representatives"), cfg, organisations, persons
    )
    n_foreign = max(20, cfg.persons // 200)
    n_unreg = max(20, cfg.organisations // 20)
    foreigners = add_foreign_namesakes(
        noise.stream(cfg.seed, "registries.foreign_namesakes"),
        build_foreigners(rng, n_foreign),
        persons,
        nz.foreign_namesake,
    )
    unregistered = add_lookalikes(
        noise.stream(cfg.seed, "registries.lookalikes"),
        build_unregistered(rng, n_unreg),
        organisations,
        nz.unregistered_lookalike,
    )
    return Registries(
        persons=persons,
        organisations=organisations,
        foreigners=foreigners,
        unregistered=unregistered,
        representatives=representatives,
    )


def persons_table(reg: Registries) -> pl.DataFrame:
    """The population registry as written to `population.db` (table `person`)."""
    return reg.persons.select(pl.exclude("^_.*$"))


def organisations_table(reg: Registries) -> pl.DataFrame:
    """The legal-entity registry as written to `legal_entities.db` (table `legal_entity`)."""
    return reg.organisations.select(pl.exclude("^_.*$"))


def representatives_table(reg: Registries) -> pl.DataFrame:
    """The representatives' terms as written to `legal_entities.db` (table
    `legal_representative`)."""
    return reg.representatives.select(pl.exclude("^_.*$"))


__all__ = [
    "ONE_DAY",
    "Registries",
    "add_foreign_namesakes",
    "add_lookalikes",
    "add_namesake_twins",
    "build_registries",
    "build_representatives",
    "relatives",
]
