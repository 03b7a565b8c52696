"""Dirt applied to agency records, and the log of which record received which kind.

Each function draws, for every record, whether it receives one kind of noise (at the rate set in
`NoiseConfig`, among the records eligible for it), applies it, and marks it in a `NoiseLog`. The
log becomes the `noise` column of the world's truth table, so that tests and evaluation can see
exactly what was done to each record.

Example:
    >>> log = NoiseLog(3)
    >>> log.mark("name_typo", np.array([True, False, True]))
    >>> log.to_list()
    ['name_typo', '', 'name_typo']
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from credlink.world import codes, names
from credlink.world.config import NoiseConfig

BoolArray = npt.NDArray[np.bool_]
#: String arrays are kept as object arrays here: a fixed-width numpy string array would
#: silently truncate a value that noise makes longer (a branch suffix, a pinyin spelling).
StrArray = npt.NDArray[Any]


class NoiseLog:
    """Which noise kinds each of `n` records received."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.kinds: dict[str, BoolArray] = {}

    def mark(self, kind: str, mask: BoolArray) -> None:
        """Record that the records where `mask` is true received `kind`."""
        if mask.shape != (self.n,):
            raise ValueError(f"noise mask for {kind} has shape {mask.shape}, expected ({self.n},)")
        prev = self.kinds.get(kind)
        self.kinds[kind] = mask.copy() if prev is None else (prev | mask)

    def update(self, other: NoiseLog) -> None:
        """Add every mark of `other` (a log of the same records)."""
        for kind, mask in other.kinds.items():
            self.mark(kind, mask)

    def update_at(self, rows: npt.NDArray[np.int64] | BoolArray, other: NoiseLog) -> None:
        """Add the marks of `other`, a log of the records at `rows` (indices or a mask)."""
        for kind, mask in other.kinds.items():
            full = np.zeros(self.n, dtype=bool)
            full[rows] = mask
            self.mark(kind, full)

    def take(self, index: npt.NDArray[np.int64]) -> NoiseLog:
        """The log of the records at `index` (for duplicated rows)."""
        out = NoiseLog(len(index))
        out.kinds = {k: v[index] for k, v in self.kinds.items()}
        return out

    def to_series(self, name: str = "noise") -> pl.Series:
        """Comma-separated kinds per record ('' for a clean record)."""
        if not self.kinds:
            return pl.Series(name, [""] * self.n, dtype=pl.String)
        frame = pl.DataFrame({k: v for k, v in sorted(self.kinds.items())})
        parts = [pl.when(pl.col(k)).then(pl.lit(k)).otherwise(None) for k in frame.columns]
        return frame.select(pl.concat_str(parts, separator=",", ignore_nulls=True).alias(name))[
            name
        ]

    def to_list(self) -> list[str]:
        """The log as a list of strings (for small inputs and doctests)."""
        return self.to_series().to_list()


def draw(
    rng: np.random.Generator, n: int, rate: float, eligible: BoolArray | None = None
) -> BoolArray:
    """Which of `n` records receive a noise of `rate` (only among `eligible` ones)."""
    mask = rng.random(n) < rate
    return mask if eligible is None else (mask & eligible)


#: Entropy word of the identity-error streams (issue 11), apart from the world's spawned streams.
IDENTITY_STREAM = 11


def stream(seed: int, name: str) -> np.random.Generator:
    """A random stream of its own for the identity errors of one part of the world (`name`, e.g.
    'courts.ZXAJ'): the same seed and name give the same stream, and drawing from it leaves the
    world's other streams, hence every other noise and count, unchanged.

    >>> bool(stream(7, "courts.ZXAJ").random() == stream(7, "courts.ZXAJ").random())
    True
    """
    return np.random.default_rng([seed, IDENTITY_STREAM, zlib.crc32(name.encode())])


def other_values(rng: np.random.Generator, pool: StrArray, own: StrArray) -> StrArray:
    """For each of `own`, a random value of `pool` (distinct values) other than it.

    A draw that hits the record's own value takes the next value of the pool instead, so that
    nothing is drawn again. `pool` must hold at least two values.

    >>> other_values(np.random.default_rng(0), np.array(["a", "b"]), np.array(["a", "b"])).tolist()
    ['b', 'a']
    """
    if len(pool) < 2:
        raise ValueError("a pool of other values needs at least two values")
    at = rng.integers(0, len(pool), len(own))
    same = pool[at] == own
    at[same] = (at[same] + 1) % len(pool)
    return pool[at]


def person_names(
    rng: np.random.Generator,
    values: StrArray,
    log: NoiseLog,
    typo_rate: float,
    traditional_rate: float,
) -> StrArray:
    """Homophone / look-alike typos and traditional characters in Chinese person names."""
    out = values.astype(object)
    typo = draw(rng, len(out), typo_rate)
    if typo.any():
        out[typo] = names.name_typos(rng, out[typo])[0]
        log.mark("name_typo", typo)
    trad = draw(rng, len(out), traditional_rate)
    if trad.any():
        converted = names.to_traditional(out[trad])
        changed = np.zeros(len(out), dtype=bool)
        changed[np.flatnonzero(trad)] = converted != out[trad]
        out[trad] = converted
        # Names whose characters are the same in both scripts (e.g. 王伟) did not change.
        log.mark("traditional_name", changed)
    return out


@dataclass
class Noisy:
    """Values after noise, with the log of what was done."""

    values: StrArray
    log: NoiseLog


def subject_names(
    rng: np.random.Generator, raw: StrArray, is_person: BoolArray, nz: NoiseConfig
) -> Noisy:
    """Names of mixed person / organisation subjects with the noise each kind gets."""
    log = NoiseLog(len(raw))
    out = raw.astype(object)
    if is_person.any():
        plog = NoiseLog(int(is_person.sum()))
        out[is_person] = person_names(rng, raw[is_person], plog, nz.name_typo, nz.traditional_name)
        log.update_at(is_person, plog)
    if (~is_person).any():
        olog = NoiseLog(int((~is_person).sum()))
        out[~is_person] = org_names(rng, raw[~is_person], olog, nz.org_name_variant, nz.name_typo)
        log.update_at(~is_person, olog)
    return Noisy(out, log)


def org_names(
    rng: np.random.Generator, values: StrArray, log: NoiseLog, variant_rate: float, typo_rate: float
) -> StrArray:
    """Name variants (有限公司/有限责任公司, brackets, prefixes, branches) and typos."""
    out = values.astype(object)
    variant = draw(rng, len(out), variant_rate)
    if variant.any():
        out[variant] = names.org_name_variants(rng, out[variant])[0]
        log.mark("org_name_variant", variant)
    typo = draw(rng, len(out), typo_rate)
    if typo.any():
        out[typo] = names.name_typos(rng, out[typo])[0]
        log.mark("name_typo", typo)
    return out


def citizen_ids(
    rng: np.random.Generator,
    values: StrArray,
    log: NoiseLog,
    *,
    eligible: BoolArray,
    mistype_rate: float,
    missing_rate: float,
    legacy_rate: float,
    born_before_2000: BoolArray,
) -> StrArray:
    """Mistyped, legacy 15-digit or missing citizen identity numbers ('' when missing)."""
    out = values.astype("<U18")  # identifiers never grow: 18 characters at most
    n = len(out)
    legacy = draw(rng, n, legacy_rate, eligible & born_before_2000)
    if legacy.any():
        out[legacy] = codes.legacy_citizen_ids(out[legacy])
        log.mark("legacy_id", legacy)
    mistype = draw(rng, n, mistype_rate, eligible & ~legacy)
    if mistype.any():
        out[mistype] = codes.mistype_ids(rng, out[mistype])[0]
        log.mark("id_mistype", mistype)
    missing = draw(rng, n, missing_rate, eligible & ~legacy & ~mistype)
    if missing.any():
        out[missing] = ""
        log.mark("id_missing", missing)
    return out


#: How a garbled value looks, by the value's form: (pattern, replacement).
GARBLES: dict[str, tuple[str, str]] = {
    "cn_date": (r"^(\d{4})年\d{2}月", "${1}年13月"),
    "slash_date": (r"^(\d{4})/\d{2}/", "${1}/13/"),
    "code": (r"\d+$", "00"),
}


def garble(
    rng: np.random.Generator, values: pl.Series, rate: float, log: NoiseLog, form: str
) -> pl.Series:
    """Garble a `rate` share of `values` (marked 'garbled_value') so that no parser reads them."""
    hit = draw(rng, len(values), rate) & values.is_not_null().to_numpy()
    pattern, replacement = GARBLES[form]
    log.mark("garbled_value", hit)
    return (
        pl.select(
            pl.when(pl.Series(hit)).then(values.str.replace(pattern, replacement)).otherwise(values)
        )
        .to_series()
        .alias(values.name)
    )


def duplicate_rows(rng: np.random.Generator, n: int, rate: float) -> npt.NDArray[np.int64]:
    """Indices of the records entered a second time (sorted)."""
    return np.flatnonzero(rng.random(n) < rate).astype(np.int64)
