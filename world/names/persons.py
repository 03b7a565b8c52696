"""Person names: Chinese full names drawn by sex, and split into surname and given name.

Surnames follow the real frequencies in faker's ``zh_CN`` table (399 surnames, percent of the
population), plus a few compound surnames (:data:`.pools.COMPOUND_SURNAMES`; faker has only 欧阳,
the others get small *unconfirmed* shares of the order of their real bearers). Given names are a
mixture, per sex, of (a) one-character names, (b) classic two-character names (建华, 秀英, 子涵 …)
and (c) free combinations of a first and a second character, each drawn with Zipf-like weights
from the pools of :mod:`.pools`, which start with faker's ``first_names_male/female``. The mixture
(:data:`GIVEN_NAME_MIX`) is calibrated so that a 1,000,000-person world has its most common full
names (王芳, 李伟, 张伟, 王伟, 李娜 …) about 200-250 times each, as in life (张伟 has about 290,000
bearers among 1.4 billion, i.e. ~200 per million), while two thirds of the distinct full names
occur only once.

Example:
    >>> rng = np.random.default_rng(0)
    >>> full = sample_person_names(rng, np.array([True, False]))
    >>> [len(x) >= 2 for x in full]
    [True, True]
    >>> surname, given = split_names(np.array(["张伟", "欧阳娜娜"]))
    >>> surname.tolist(), given.tolist()
    (['张', '欧阳'], ['伟', '娜娜'])
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

from credlink.world.names import pools
from credlink.world.places import StrArray, _concat, to_str_array

__all__ = [
    "GIVEN_NAME_MIX",
    "sample_person_names",
    "sample_surnames",
    "split_names",
    "split_series",
]

#: Given-name model per sex: (share of one-character names, Zipf exponent over the one-character
#: pool), (share of classic two-character names, exponent), (share of free combinations,
#: exponent of the first and of the second character pool).
GIVEN_NAME_MIX: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "male": ((0.15, 0.4), (0.03, 0.6), (0.82, 0.45)),
    "female": ((0.14, 0.35), (0.04, 0.6), (0.82, 0.45)),
}


@cache
def _surname_table() -> tuple[pl.Series, npt.NDArray[np.float64]]:
    """Surnames (faker's, then the compound ones) and their probabilities."""
    weights = pools.FAKER_SURNAMES | pools.COMPOUND_SURNAMES
    p = np.array(list(weights.values()))
    return pl.Series(list(weights)), p / p.sum()


@cache
def _given_table(male: bool) -> tuple[pl.Series, npt.NDArray[np.float64]]:
    """Distinct given names of one sex and their probabilities (the mixture, aggregated)."""
    faker_pool = list(pools.FAKER_MALE_NAMES if male else pools.FAKER_FEMALE_NAMES)
    first = pools.distinct(pools.MALE_FIRST if male else pools.FEMALE_FIRST)
    second = pools.distinct(
        [n for n in faker_pool if len(n) == 1]
        + list(pools.MALE_SECOND if male else pools.FEMALE_SECOND)
    )
    classic = pools.distinct(
        [n for n in faker_pool if len(n) == 2]
        + (pools.MALE_CLASSIC if male else pools.FEMALE_CLASSIC)
    )
    (s1, a1), (s2, a2), (s3, a3) = GIVEN_NAME_MIX["male" if male else "female"]
    combo = [f + s for f in first for s in second]
    combo_p = np.outer(pools.zipf(len(first), a3), pools.zipf(len(second), a3)).reshape(-1)
    frame = (
        pl.DataFrame(
            {
                "name": second + classic + combo,
                "p": np.concatenate(
                    [
                        s1 * pools.zipf(len(second), a1),
                        s2 * pools.zipf(len(classic), a2),
                        s3 * combo_p,
                    ]
                ),
            }
        )
        .group_by("name", maintain_order=True)
        .agg(pl.col("p").sum())
    )
    p = frame["p"].to_numpy()
    return frame["name"], p / p.sum()


def _draw(
    rng: np.random.Generator, pool: pl.Series, p: npt.NDArray[np.float64], n: int
) -> pl.Series:
    return pool.gather(rng.choice(len(pool), size=n, p=p))


def sample_surnames(rng: np.random.Generator, n: int) -> pl.Series:
    """`n` surnames by their shares of the population (also the 张 of '张记面馆')."""
    pool, p = _surname_table()
    return _draw(rng, pool, p, n)


def sample_person_names(rng: np.random.Generator, is_male: npt.ArrayLike) -> StrArray:
    """Chinese full names (surname + given name) for people of the given sex.

    >>> sample_person_names(np.random.default_rng(5), np.ones(3, dtype=bool)).shape
    (3,)
    """
    male = np.asarray(is_male, dtype=bool).reshape(-1)
    n = len(male)
    surname = sample_surnames(rng, n)
    given = pl.Series("given", [""] * n, dtype=pl.String)
    for sex in (True, False):
        idx = np.flatnonzero(male == sex)
        if len(idx):
            pool, p = _given_table(sex)
            given = given.scatter(idx, _draw(rng, pool, p, len(idx)))
    return to_str_array(_concat(surname, given))


def split_series(names: pl.Series) -> tuple[pl.Series, pl.Series]:
    """:func:`split_names` on a polars Series: (surnames, given names)."""
    two = names.str.slice(0, 2)
    compound = two.is_in(list(pools.COMPOUND_SURNAMES))
    surname = pl.select(
        pl.when(pl.lit(compound)).then(pl.lit(two)).otherwise(pl.lit(names.str.slice(0, 1)))
    ).to_series()
    given = pl.select(
        pl.when(pl.lit(compound))
        .then(pl.lit(names.str.slice(2)))
        .otherwise(pl.lit(names.str.slice(1)))
    ).to_series()
    return surname, given


def split_names(names: npt.ArrayLike) -> tuple[StrArray, StrArray]:
    """(surname, given name) of Chinese full names; a compound surname wins (欧阳娜娜 -> 欧阳).

    >>> s, g = split_names(np.array(["张伟", "欧阳娜娜"]))
    >>> s.tolist(), g.tolist()
    (['张', '欧阳'], ['伟', '娜娜'])
    """
    surname, given = split_series(pl.Series(np.asarray(names, dtype=str).reshape(-1)))
    return to_str_array(surname), to_str_array(given)
