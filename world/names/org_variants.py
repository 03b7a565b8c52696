"""How organisation names vary: the same firm's name as other registries write it, and other
businesses whose names look like a firm's.

:func:`org_name_variants` gives one variant of each name as seen between registries (有限公司 vs
有限责任公司, full- vs half-width brackets, the leading region dropped or added, a branch
suffix), the kind weighted by :data:`ORG_VARIANT_WEIGHTS`. :func:`org_name_lookalikes` gives the
name of *another* business that looks like a firm's (:data:`LOOKALIKE_KINDS`: another region
prefix, or one character of the trade name changed). Both find the leading region of a name as
the longest division name it starts with.

Example:
    >>> firms = np.array(["合肥恒信达机械制造有限公司", "恒信（合肥）电子科技股份有限公司"])
    >>> v, k = org_name_variants(np.random.default_rng(1), firms)
    >>> v.tolist()
    ['合肥恒信达机械制造有限责任公司', '合肥恒信电子科技股份有限公司']
    >>> k.tolist()
    ['company_form', 'region_added']
    >>> v, k = org_name_lookalikes(np.random.default_rng(0), np.array(["灵璧县张记面馆",
    ...                            "北京华兴科技有限公司"]), np.array(["341323", "310101"]))
    >>> v.tolist(), k.tolist()
    (['灵璧县盛记面馆', '上海华兴科技有限公司'], ['trade_char', 'region_swapped'])
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

from credlink.etl.reference.divisions import _code_table
from credlink.world import places
from credlink.world.names import pools
from credlink.world.names.organisations import Regions, prefecture_shorts
from credlink.world.places import StrArray, to_str_array

__all__ = [
    "LOOKALIKE_KINDS",
    "ORG_VARIANT_WEIGHTS",
    "org_name_lookalikes",
    "org_name_variants",
]

#: Variation kinds of :func:`org_name_variants` and their relative weights when applicable.
ORG_VARIANT_WEIGHTS: dict[str, float] = {
    "company_form": 3.0,
    "bracket_width": 3.0,
    "region_dropped": 2.0,
    "region_added": 2.0,
    "branch": 1.0,
}


@cache
def _region_prefixes() -> dict[int, list[str]]:
    """Full and short division names by length (for prefix matching)."""
    _, full = _code_table()
    names: set[str] = set()
    for col in full.columns:
        if col in ("province", "prefecture", "county") or col.endswith("_short"):
            names.update(x for x in full[col].to_list() if x and len(x) >= 2)
    out: dict[int, list[str]] = {}
    for x in names:
        out.setdefault(len(x), []).append(x)
    return out


def _region_prefix_len(s: pl.Series) -> npt.NDArray[np.int64]:
    """Length of the longest division name that starts each value (0 if none)."""
    found = np.zeros(len(s), dtype=np.int64)
    for length in sorted(_region_prefixes(), reverse=True):
        hit = s.str.slice(0, length).is_in(_region_prefixes()[length]).to_numpy()
        found = np.where((found == 0) & hit, length, found)
    return found


def _branch_suffix() -> pl.Expr:
    """Expression: a branch suffix fitting the end of column ``s``."""
    s, coin = pl.col("s"), pl.col("coin")
    company = (
        pl.when(coin)
        .then(pl.concat_str([pl.lit("第"), pl.col("ordinal"), pl.lit("分公司")]))
        .otherwise(pl.concat_str([pl.col("city2"), pl.lit("分公司")]))
    )
    shop = (
        pl.when(coin)
        .then(pl.concat_str([pl.col("ordinal"), pl.lit("分店")]))
        .otherwise(pl.lit("分店"))
    )
    return (
        pl.when(s.str.contains("公司$"))
        .then(company)
        .when(s.str.contains("(?:店|馆|超市|部|行|铺|楼|室|乐)$"))
        .then(shop)
        .when(s.str.contains("(?:学校|幼儿园)$"))
        .then(pl.lit("分校"))
        .when(s.str.contains("会$"))
        .then(pl.concat_str([pl.col("city2"), pl.lit("分会")]))
        .when(s.str.contains("(?:医院|卫生院)$"))
        .then(pl.lit("分院"))
        .when(s.str.contains("合作社$"))
        .then(pl.lit("分社"))
        .otherwise(pl.lit("分部"))
    )


def org_name_variants(rng: np.random.Generator, names: npt.ArrayLike) -> tuple[StrArray, StrArray]:
    """One realistic variation of each organisation name: (variants, kind).

    Kinds (chosen among those that apply, weights :data:`ORG_VARIANT_WEIGHTS`):
    'company_form' 有限公司 <-> 有限责任公司 (股份有限公司 -> 有限公司); 'bracket_width' full-width
    <-> half-width brackets ('恒信（合肥）…' vs '恒信(合肥)…'); 'region_dropped' the leading
    division name removed ('合肥恒信…' -> '恒信…'); 'region_added' a bracketed region moved to the
    front, or a prefecture name prefixed; 'branch' a branch suffix ('…第一分公司', '…二分店',
    '…宿州分公司', '…长沙分会'). Every variant differs from its input.

    >>> v, k = org_name_variants(np.random.default_rng(0), np.array(["恒信（合肥）机械有限公司"]))
    >>> k[0] in ORG_VARIANT_WEIGHTS and v[0] != "恒信（合肥）机械有限公司"
    True
    """
    s = pl.Series("s", np.asarray(names, dtype=str).reshape(-1))
    n = len(s)
    if n == 0:
        return np.array([], dtype=str), np.array([], dtype=str)
    cities = prefecture_shorts()
    df = pl.DataFrame(
        {
            "s": s,
            "plen": _region_prefix_len(s),
            "city": cities.gather(rng.integers(0, len(cities), n)),
            "city2": cities.gather(rng.integers(0, len(cities), n)),
            "ordinal": places.chinese_numbers(rng.integers(1, 6, n)),
            "coin": rng.random(n) < 0.5,
        }
    )
    col, plen = pl.col("s"), pl.col("plen")
    inner = col.str.extract(r"[（(]([^）)]+)[）)]", 1)
    m = df.select(
        form=col.str.ends_with("有限公司") | col.str.ends_with("有限责任公司"),
        bracket=col.str.contains("[（）()]"),
        dropped=(plen > 0)
        & (col.str.len_chars() - plen >= 2)
        & ~col.str.slice(plen, 1).is_in(["（", "("]),
        added=(plen == 0) & (col.str.len_chars() > 0),
    )
    kinds = list(ORG_VARIANT_WEIGHTS)
    ok = np.column_stack([m[c].to_numpy() for c in m.columns] + [np.ones(n, dtype=bool)])
    w = ok * np.array([ORG_VARIANT_WEIGHTS[k] for k in kinds])
    cum = np.cumsum(w, axis=1)
    choice = (cum <= (rng.random(n) * cum[:, -1])[:, None]).sum(axis=1)

    form_v = (
        pl.when(col.str.ends_with("有限责任公司"))
        .then(col.str.replace(r"有限责任公司$", "有限公司"))
        .when(col.str.ends_with("股份有限公司"))
        .then(col.str.replace(r"股份有限公司$", "有限公司"))
        .otherwise(col.str.replace(r"有限公司$", "有限责任公司"))
    )
    bracket_v = (
        pl.when(col.str.contains("[（）]"))
        .then(col.str.replace_all("（", "(", literal=True).str.replace_all("）", ")", literal=True))
        .otherwise(
            col.str.replace_all("(", "（", literal=True).str.replace_all(")", "）", literal=True)
        )
    )
    added_v = (
        pl.when(inner.is_not_null())
        .then(pl.concat_str([inner, col.str.replace(r"[（(][^）)]+[）)]", "")]))
        .otherwise(pl.concat_str([pl.col("city"), col]))
    )
    variant_exprs = [
        form_v,
        bracket_v,
        col.str.slice(plen),
        added_v,
        pl.concat_str([col, _branch_suffix()]),
    ]
    expr: pl.Expr = col
    for i in range(len(variant_exprs) - 1, -1, -1):
        expr = pl.when(pl.col("choice") == i).then(variant_exprs[i]).otherwise(expr)
    out = df.with_columns(choice=choice).select(expr)[:, 0]
    return to_str_array(out), np.array(kinds, dtype=str)[choice]


# --- look-alikes of organisations ---------------------------------------------------------------

#: Kinds of :func:`org_name_lookalikes`.
LOOKALIKE_KINDS = ("region_swapped", "trade_char")
_BRACKETS = ("（", "(", "）", ")")


def _slice(s: pl.Series, offset: npt.NDArray[np.int64], length: int | None = None) -> pl.Series:
    """Each value of `s` from its own `offset` (on for `length` characters)."""
    frame = pl.DataFrame({"s": s, "o": offset})
    return frame.select(pl.col("s").str.slice(pl.col("o"), length))[:, 0]


def org_name_lookalikes(
    rng: np.random.Generator, names: npt.ArrayLike, region_codes: npt.ArrayLike
) -> tuple[StrArray, StrArray]:
    """Names of other businesses that look like `names`: (look-alikes, kind).

    'region_swapped': the leading division name replaced by the short name of the prefecture
    of `region_codes` (the look-alike's own region:
    '北京华兴科技有限公司' -> '上海华兴科技有限公司'), for half of the names that have a leading
    division name of another prefecture; 'trade_char' otherwise: one of the first two
    characters of the trade name (字号, right after any leading division names, e.g.
    '唐山市开平区') replaced by another character of the trade-name pool
    ('灵璧县张记面馆' -> '灵璧县恒记面馆'). Every look-alike differs from its input.

    >>> v, k = org_name_lookalikes(np.random.default_rng(0), np.array(["灵璧县张记面馆"]),
    ...                            np.array(["341323"]))
    >>> v[0] != "灵璧县张记面馆" and k[0] in LOOKALIKE_KINDS
    True
    """
    s = pl.Series("s", np.asarray(names, dtype=str).reshape(-1))
    n = len(s)
    if n == 0:
        return np.array([], dtype=str), np.array([], dtype=str)
    codes = np.asarray(region_codes, dtype=str).reshape(-1)
    pool = pools.distinct(pools.TRADE_CHARS)
    # The leading division names: a prefecture and its district ('唐山市开平区') count as one; a
    # "division name" right before a bracket is the trade name ('嘉兴（遵义）…').
    first = _region_prefix_len(s)
    second = _region_prefix_len(_slice(s, first))
    prefix = first + second
    rest_len = s.str.len_chars().to_numpy() - prefix
    prefix = np.where(rest_len >= 2, prefix, first)
    prefix = np.where(_slice(s, prefix, 1).is_in(_BRACKETS).to_numpy(), 0, prefix)
    df = pl.DataFrame(
        {
            "s": s,
            "plen": prefix,
            "own": Regions(codes).pref_s,
            "coin": rng.random(n) < 0.5,
            "step": rng.integers(0, 2, n),
            "pick": rng.integers(0, len(pool) - 1, n),
        }
    )
    col, plen = pl.col("s"), pl.col("plen")
    rest = col.str.slice(plen)
    df = df.with_columns(
        swap=pl.col("coin")
        & (plen > 0)
        & (pl.col("own").str.len_chars() > 0)
        & (col.str.slice(0, plen) != pl.col("own"))
        & (rest.str.len_chars() >= 2)
        & ~rest.str.slice(0, 1).is_in(_BRACKETS),
        # The trade-name character: the first or second after the prefix, never a bracket.
        pos=pl.when(
            (plen + pl.col("step") < col.str.len_chars())
            & ~col.str.slice(plen + pl.col("step"), 1).is_in(_BRACKETS)
        )
        .then(plen + pl.col("step"))
        .otherwise(plen),
    )
    current = df.select(col.str.slice(pl.col("pos"), 1))[:, 0].to_numpy().astype(str)
    lookup = {c: i for i, c in enumerate(pool)}
    cur = np.array([lookup.get(c, -1) for c in current], dtype=np.int64)
    pick = df["pick"].to_numpy()
    # Another character of the pool than the current one (skip over it).
    new = np.array(pool)[pick + ((cur >= 0) & (pick >= cur))]
    out = df.with_columns(new=pl.Series(new)).select(
        pl.when(pl.col("swap"))
        .then(pl.concat_str([pl.col("own"), rest]))
        .otherwise(
            pl.concat_str(
                [col.str.slice(0, pl.col("pos")), pl.col("new"), col.str.slice(pl.col("pos") + 1)]
            )
        )
    )[:, 0]
    kind = np.where(df["swap"].to_numpy(), LOOKALIKE_KINDS[0], LOOKALIKE_KINDS[1])
    return to_str_array(out), kind
