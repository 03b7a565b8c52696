"""Organisation names by entity type and region, following the registration rules.

:func:`sample_org_names` names organisations by entity type (USCC positions 1-2,
:data:`ORG_ENTITY_TYPES`) and county: 行政区划 + 字号 + 行业 + 组织形式 for enterprises
('合肥恒信达机械制造有限公司', or with the region in brackets: '恒信（合肥）电子科技股份有限公司'),
county + trade name + kind of shop for individual businesses ('灵璧县张记面馆'), and so on for
co-ops, social groups, private non-enterprise units, foundations and public institutions. The
parts come from :mod:`.pools`. Trade names (字号) repeat across regions (a realistic source of
look-alikes) but every name of one call is unique. :class:`Regions` holds the region names of
the rows being named, as names write them; :mod:`.org_variants` uses it too.

Example:
    >>> names = sample_org_names(np.random.default_rng(0), np.array(["91", "92"]),
    ...                          np.array(["340104", "341323"]))
    >>> names[1].startswith("灵璧县")
    True
    >>> Regions(np.array(["340104"])).local.to_list()
    ['合肥市蜀山区']
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

from credlink.etl.reference.divisions import _code_table
from credlink.world import places
from credlink.world.names import pools
from credlink.world.names.persons import sample_surnames
from credlink.world.places import StrArray, _concat, _where, to_str_array

__all__ = ["ORG_ENTITY_TYPES", "Regions", "prefecture_shorts", "sample_org_names"]

#: Entity types (USCC positions 1-2) that :func:`sample_org_names` can name.
ORG_ENTITY_TYPES: dict[str, str] = {
    "91": "企业",
    "92": "个体工商户",
    "93": "农民专业合作社",
    "51": "社会团体",
    "52": "民办非企业单位",
    "53": "基金会",
    "12": "事业单位",
}


def _pool(values: list[str] | tuple[str, ...]) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String)


def _zipf_draw(
    rng: np.random.Generator, values: list[str] | tuple[str, ...], n: int, a: float
) -> pl.Series:
    return _pool(values).gather(rng.choice(len(values), size=n, p=pools.zipf(len(values), a)))


def _trade_names(rng: np.random.Generator, n: int) -> pl.Series:
    """字号: a frequent trade name, or 2-3 characters of the auspicious pool (Zipf weighted)."""
    chars = pools.distinct(pools.TRADE_CHARS)
    c = [_zipf_draw(rng, chars, n, 0.7) for _ in range(3)]
    r = rng.random(n)
    two = _concat(c[0], c[1])
    three = _concat(c[0], c[1], c[2])
    return _where(r < 0.3, _zipf_draw(rng, pools.TRADE_HEAD, n, 0.8), _where(r < 0.85, two, three))


class Regions:
    """Region names of the rows being named (polars Series, gathered from the code table)."""

    def __init__(self, codes: StrArray) -> None:
        rows = places._county_rows(codes)
        _, full = _code_table()
        self.rows = rows
        self.n = len(rows)
        get = {c: full[c].gather(rows) for c in full.columns if c not in ("current",)}
        self.province, self.prov_s = get["province"], get["province_short"]
        self.county, self.county_s = get["county"], get["county_short"]
        pref, pref_s = get["prefecture"], get["prefecture_short"]
        no_pref = (pref.str.len_chars() == 0).to_numpy()
        # County-level units directly under a province stand in for their prefecture.
        self.pref = _where(no_pref, self.county, pref)
        self.pref_s = _where(no_pref, self.county_s, pref_s)
        self.district = self.county.str.ends_with("区").to_numpy()
        # The county as written in names: '灵璧县', but '合肥市蜀山区' for a district.
        self.local = _where(self.district, _concat(self.pref, self.county), self.county)

    def local_or_district(self, rng: np.random.Generator) -> pl.Series:
        """`local`, with the district alone ('蜀山区') half of the time."""
        short = rng.random(self.n) < 0.5
        return _where(self.district & short, self.county, self.local)


def _enterprises(rng: np.random.Generator, reg: Regions) -> pl.Series:
    n = reg.n
    trade = _trade_names(rng, n)
    industry = _zipf_draw(rng, pools.INDUSTRIES, n, 0.9)
    form = _pool(pools.COMPANY_FORMS).gather(
        rng.choice(len(pools.COMPANY_FORMS), n, p=pools.COMPANY_FORM_P)
    )
    r = rng.random(n)
    county_or_pref = _where(reg.district, reg.pref_s, reg.county)
    region = _where(
        r < 0.32,
        reg.pref_s,
        _where(r < 0.47, reg.pref, _where(r < 0.62, county_or_pref, reg.prov_s)),
    )
    plain = _concat(region, trade, industry, form)
    bracket = _concat(trade, "（", reg.pref_s, "）", industry, form)
    national = _concat(trade, industry, form)
    return _where(r < 0.77, plain, _where(r < 0.92, bracket, national))


def _individual_businesses(rng: np.random.Generator, reg: Regions) -> pl.Series:
    n = reg.n
    surname = sample_surnames(rng, n).str.slice(0, 1)
    r = rng.random(n)
    trade = _where(
        r < 0.25,
        _concat(surname, "记"),
        _where(
            r < 0.40,
            _concat("老", surname),
            _where(
                r < 0.45,
                _concat(surname, "氏"),
                _where(r < 0.75, _zipf_draw(rng, pools.SHOP_TRADES, n, 0.7), _trade_names(rng, n)),
            ),
        ),
    )
    shop = _zipf_draw(rng, pools.SHOP_TYPES, n, 0.8)
    return _concat(reg.local_or_district(rng), trade, shop)


def _cooperatives(rng: np.random.Generator, reg: Regions) -> pl.Series:
    n = reg.n
    _, village = places._town_village(rng, reg.rows)
    stem = _where(rng.random(n) < 0.35, village, _trade_names(rng, n))
    product = _zipf_draw(rng, pools.COOP_PRODUCTS, n, 0.7)
    return _concat(reg.local_or_district(rng), stem, product, "专业合作社")


@cache
def prefecture_shorts() -> pl.Series:
    """Short prefecture names of two characters or more, each once ('合肥', '宿州' …)."""
    _, full = _code_table()
    s = full["prefecture_short"].unique(maintain_order=True)
    return s.filter(s.str.len_chars() >= 2)


def _social_groups(rng: np.random.Generator, reg: Regions) -> pl.Series:
    n = reg.n
    region = _where(rng.random(n) < 0.5, reg.pref, reg.local)
    others = prefecture_shorts()
    hometown = _concat(others.gather(rng.integers(0, len(others), n)), "商会")
    trade = _concat(_zipf_draw(rng, pools.INDUSTRIES, n, 0.9), "商会")
    r = rng.random(n)
    body = _where(
        r < 0.6, _zipf_draw(rng, pools.ASSOCIATIONS, n, 0.6), _where(r < 0.85, hometown, trade)
    )
    return _concat(region, body)


def _private_non_enterprises(rng: np.random.Generator, reg: Regions) -> pl.Series:
    n = reg.n
    region = _where(rng.random(n) < 0.4, reg.pref, reg.local)
    trade = _where(
        rng.random(n) < 0.6, _zipf_draw(rng, pools.NONENT_TRADES, n, 0.6), _trade_names(rng, n)
    )
    return _concat(region, trade, _zipf_draw(rng, pools.NONENT_TYPES, n, 0.8))


def _foundations(rng: np.random.Generator, reg: Regions) -> pl.Series:
    n = reg.n
    region = _where(rng.random(n) < 0.5, reg.province, reg.pref)
    cause = _concat(_zipf_draw(rng, pools.FOUNDATION_CAUSES, n, 0.6), "基金会")
    kind = _pool(("公益基金会", "慈善基金会", "教育基金会")).gather(rng.integers(0, 3, n))
    named = _concat(_trade_names(rng, n), kind)
    return _concat(region, _where(rng.random(n) < 0.5, cause, named))


def _public_institutions(rng: np.random.Generator, reg: Regions) -> pl.Series:
    n = reg.n
    town, village = places._town_village(rng, reg.rows)
    county_level = _concat(reg.local, _zipf_draw(rng, pools.PUBLIC_INSTITUTIONS, n, 0.5))
    town_level = _concat(reg.local, town, _zipf_draw(rng, pools.TOWN_INSTITUTIONS, n, 0.5))
    village_school = _concat(reg.local, town, village, "小学")
    r = rng.random(n)
    return _where(r < 0.6, county_level, _where(r < 0.9, town_level, village_school))


_GENERATORS = {
    "91": _enterprises,
    "92": _individual_businesses,
    "93": _cooperatives,
    "51": _social_groups,
    "52": _private_non_enterprises,
    "53": _foundations,
    "12": _public_institutions,
}
_MAX_ROUNDS = 40


def sample_org_names(
    rng: np.random.Generator, entity_types: npt.ArrayLike, region_codes: npt.ArrayLike
) -> StrArray:
    """Organisation names by entity type (USCC positions 1-2, or whole USCCs) and region.

    '91' enterprises ('合肥恒信达机械制造有限公司', '恒信（合肥）电子科技股份有限公司'), '92'
    individual businesses ('灵璧县张记面馆'), '93' farmers' co-ops ('…蔬菜种植专业合作社'),
    '51' social groups ('…协会', '…温州商会'), '52' private non-enterprise units ('…培训学校'),
    '53' foundations ('…基金会'), '12' public institutions ('…人民医院', '…第三中学'). Region
    codes are county-level codes. All names of one call are distinct (duplicates are redrawn),
    so names within a region are unique; trade names recur across regions.

    >>> names = sample_org_names(np.random.default_rng(0), np.array(["91", "92"]),
    ...                          np.array(["340104", "341323"]))
    >>> names[1].startswith("灵璧县")
    True
    """
    types = np.asarray(entity_types, dtype=str).reshape(-1)
    types = np.strings.slice(types, 0, 2) if len(types) else types
    codes = np.asarray(region_codes, dtype=str).reshape(-1)
    if len(types) != len(codes):
        raise ValueError("entity_types and region_codes differ in length")
    unknown = sorted(set(np.unique(types).tolist()) - set(_GENERATORS))
    if unknown:
        raise ValueError(f"no organisation names for entity types {unknown}")
    n = len(types)
    out = pl.Series("name", [""] * n, dtype=pl.String)
    todo = np.arange(n)
    for _ in range(_MAX_ROUNDS):
        for t in sorted(set(types[todo].tolist())):
            idx = todo[types[todo] == t]
            out = out.scatter(idx, _GENERATORS[t](rng, Regions(codes[idx])))
        # Rows sharing a value with a (re)drawn row; all but the first of each value are redrawn.
        affected = np.flatnonzero(out.is_in(out.gather(todo).unique().implode()).to_numpy())
        todo = affected[~out.gather(affected).is_first_distinct().to_numpy()]
        if not len(todo):
            break
    if len(todo):  # the region's name space is exhausted: number the remaining duplicates
        seq = pl.DataFrame({"name": out}).select(pl.int_range(pl.len()).over("name"))[:, 0]
        out = _where((seq > 0).to_numpy(), _concat(out, "（", (seq + 1).cast(pl.String), "）"), out)
    return to_str_array(out)
