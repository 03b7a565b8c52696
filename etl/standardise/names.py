"""Person and organisation names, standardised for comparison in record linkage.

Agencies write the same name in several ways: full-width letters and brackets, traditional
characters (張偉 for 张伟), airline pinyin on boarding passes (``ZHANG/WEI``), passport style for
foreigners (``John SMITH``), and for organisations 有限公司 / 有限责任公司, full- or half-width
brackets, a region in front or in brackets, a branch suffix (…宿州分公司, …二分店). The functions
here give each value a canonical ``name`` and the parts that comparisons need.

Everything runs once per distinct value and is mapped back. Python-level work is smaller still:
OpenCC converts, in one call, only the values that contain a traditional character (so that its
phrase rules never rewrite simplified text), and pypinyin reads each distinct surname and given
name once; the rest is Polars expressions.

Romanisation follows the passport convention of :mod:`etl.reference.pinyin`: surnames through
function, by their surname reading (曾 zeng, 单 shan); given names with its ü rule (吕 lyu,
略 lue) in one batched pypinyin call (a test holds the two equal). Compound surnames are those of
:data:`etl.reference.pinyin.COMPOUND_SURNAMES` (欧阳, 司马 …). Region names for organisations
come from GB/T 2260 as shipped with python-stdnum (:func:`etl.reference.divisions.load_divisions`).

Example:
    >>> person_names(pl.Series(["張偉", "ZHANG/WEI"]))["name_pinyin"].to_list()
    ['zhang wei', 'zhang wei']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import numpy as np
import opencc
import polars as pl
from pypinyin import Style, lazy_pinyin
from pypinyin.contrib.tone_convert import to_normal
from pypinyin.pinyin_dict import pinyin_dict

from credlink.etl.reference.divisions import load_divisions, region_names, short_region_name
from credlink.etl.reference.pinyin import COMPOUND_SURNAMES, passport_syllable, surname_pinyin
from credlink.etl.standardise.values import text

__all__ = [
    "BRANCH_SUFFIXES",
    "LEGAL_FORMS",
    "NAME_SCRIPTS",
    "is_pinyin",
    "organisation_names",
    "person_names",
]

#: Values of ``name_script``.
NAME_SCRIPTS: tuple[str, ...] = ("han", "pinyin", "latin", "mixed")

#: Legal-form suffixes removed from organisation names, longest first where one ends another.
LEGAL_FORMS: tuple[str, ...] = (
    "集团股份有限公司",
    "集团有限责任公司",
    "集团有限公司",
    "股份有限公司",
    "有限责任公司",
    "股份合作公司",
    "有限公司",
    "集团公司",
    "总公司",
    "(特殊普通合伙)",
    "(普通合伙)",
    "(有限合伙)",
    "特殊普通合伙",
    "普通合伙",
    "有限合伙",
    "公司",
)
#: Words that end the name of a branch (分支机构); the qualifier before them (第一, 二, 宿州)
#: goes with them.
BRANCH_SUFFIXES: tuple[str, ...] = (
    "分公司",
    "分店",
    "分校",
    "分会",
    "分院",
    "分社",
    "分部",
    "分厂",
    "分行",
    "支行",
    "分理处",
    "营业部",
    "办事处",
)

_HAN_NAME = r"^[\p{Han}·]+$"
_ROMAN_NAME = r"^[A-Za-z][A-Za-z .'/,-]*$"
_NAME_SEPARATOR = r"\s*[/,]\s*"
_ORDINAL = r"(第?[0-9〇零一二三四五六七八九十百]+)$"
_BRACKETS_OPEN = r"[\[【〔〖{]"
_BRACKETS_CLOSE = r"[\]】〕〗}]"
# Spaces next to a non-ASCII character carry no meaning in Chinese text.
_SPACE_AFTER_WIDE = r"([^\x00-\x7F])\s+"
_SPACE_BEFORE_WIDE = r"\s+([^\x00-\x7F])"


# --- shared --------------------------------------------------------------------------------------


@cache
def _opencc_t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def _traditional_class() -> str:
    """A regex class of the traditional characters: those that OpenCC ``t2s`` changes on their
    own and that are not in GB 2312 (about 4,500). Computed once, in a single OpenCC call."""
    blocks = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF))
    chars = [chr(c) for lo, hi in blocks for c in range(lo, hi + 1)]
    converted = _opencc_t2s().convert("\n".join(chars)).split("\n")
    changed = [a for a, b in zip(chars, converted, strict=True) if a != b and not _gb2312(a)]
    return "[" + "".join(changed) + "]"


def _gb2312(char: str) -> bool:
    """In GB 2312, the simplified standard set: a character that simplified text uses as it
    is, although OpenCC maps it (乾 of 乾安县 is not the traditional form of 干 there)."""
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _t2s(s: pl.Series) -> pl.Series:
    """Traditional -> simplified (OpenCC ``t2s``) for the values with a traditional character.

    A value without a traditional character (:func:`_traditional_class`) is left as it is:
    OpenCC would otherwise rewrite simplified text (沈思 -> 沉思, 乾安 -> 干安). The values to
    convert are joined by newlines and converted in one call, which keeps the phrase rules
    inside each value.
    """
    distinct = s.unique().drop_nulls()
    todo = distinct.filter(distinct.str.contains(_traditional_class())).to_list()
    if not todo:
        return s
    cc = _opencc_t2s()
    joined = [v for v in todo if "\n" not in v]
    out = cc.convert("\n".join(joined)).split("\n") if joined else []
    if len(out) != len(joined):  # a converter that touched the separators: go one by one
        out = [cc.convert(v) for v in joined]
    mapping = dict(zip(joined, out, strict=True))
    mapping.update({v: cc.convert(v) for v in todo if "\n" in v})
    changed = {k: v for k, v in mapping.items() if k != v}
    return s.replace(changed) if changed else s


def _per_distinct(s: pl.Series, build: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
    """Run `build` on the distinct non-null values of `s` (a frame with one row per value, in
    order) and spread its rows back over `s`; null input gives a row of nulls."""
    raw = (s if s.dtype == pl.String else s.cast(pl.String)).alias("_raw")
    distinct = raw.unique().drop_nulls()
    table = build(distinct).with_columns(distinct)
    joined = pl.DataFrame([raw]).join(table, on="_raw", how="left", maintain_order="left")
    return joined.drop("_raw")


def _clean(s: pl.Series) -> pl.Series:
    """:func:`text`, then internal runs of whitespace as one space."""
    return text(s).str.replace_all(r"\s+", " ")


# --- person names ----------------------------------------------------------------------------


@cache
def _pinyin_syllables() -> frozenset[str]:
    """Every toneless syllable of pypinyin's character table, with ü as ``v``, ``u`` and the
    passport ``yu`` (lv, lu, lyu). Vowel-less interjections (hm, ng, r) are left out: with them
    almost any Latin name would read as pinyin."""
    out: set[str] = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            syllable = to_normal(reading, v_to_u=False)
            if not re.search("[aeiouv]", syllable):
                continue
            out.add(syllable)
            if "v" in syllable:
                out.add(syllable.replace("v", "u"))
                out.add(syllable.replace("v", "yu"))
    return frozenset(out)


@cache
def is_pinyin(token: str) -> bool:
    """True if `token` (any case) is a sequence of toneless pinyin syllables.

    Example: ``is_pinyin("OUYANG") -> True`` (ou + yang); ``is_pinyin("SMITH") -> False``.
    """
    word = token.lower()
    if not word.isascii() or not word.isalpha():
        return False
    syllables = _pinyin_syllables()
    reachable = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        reachable[end] = any(
            reachable[start] and word[start:end] in syllables
            for start in range(max(0, end - 6), end)
        )
    return reachable[-1]


def _given_pinyin(given: list[str]) -> list[str]:
    """Each given name's toneless syllables joined (小贤 -> xiaoxian), in one pypinyin call.

    The names are joined by newlines: pypinyin segments each run of Han characters on its own
    (phrase readings stay inside a name) and hands the newlines back unchanged.
    """
    if not given:
        return []
    items = lazy_pinyin("\n".join(given), style=Style.NORMAL)
    out = "".join(passport_syllable(x) for x in items).split("\n")
    if len(out) != len(given):  # defensive: never seen, but one call per name is always right
        out = [
            "".join(passport_syllable(x) for x in lazy_pinyin(g, style=Style.NORMAL)) for g in given
        ]
    return out


def _han_parts(names: pl.Series) -> pl.DataFrame:
    """Surname, given name and pinyin of distinct simplified Han names (no middle dot)."""
    two = names.str.slice(0, 2)
    compound = two.is_in(list(COMPOUND_SURNAMES))
    frame = pl.DataFrame({"name": names, "two": two, "compound": compound}).select(
        pl.when("compound").then("two").otherwise(pl.col("name").str.slice(0, 1)).alias("surname"),
        pl.when("compound")
        .then(pl.col("name").str.slice(2))
        .otherwise(pl.col("name").str.slice(1))
        .alias("given_name"),
    )
    # Surnames by their surname reading (曾 zeng).
    surnames = frame["surname"].unique()
    surname_readings = pl.Series([surname_pinyin(x) for x in surnames.to_list()], dtype=pl.String)
    givens = frame["given_name"].unique()
    tables = {
        "surname": pl.DataFrame({"surname": surnames, "sp": surname_readings}),
        "given_name": pl.DataFrame(
            {"given_name": givens, "gp": _given_pinyin(givens.to_list())},
            schema={"given_name": pl.String, "gp": pl.String},
        ),
    }
    for key, table in tables.items():
        frame = frame.join(table, on=key, how="left", maintain_order="left")
    return frame.select(
        "surname",
        pl.col("given_name").replace("", None),
        pl.when(pl.col("gp") != "")
        .then(pl.concat_str("sp", pl.lit(" "), "gp"))
        .otherwise("sp")
        .alias("name_pinyin"),
    )


def _person_table(raw: pl.Series) -> pl.DataFrame:
    """One row per distinct raw name (see :func:`person_names`)."""
    t = _clean(raw)
    frame = pl.DataFrame({"t": t})
    han_mask = t.str.contains(r"\p{Han}") & t.str.replace_all(" ", "").str.contains(_HAN_NAME)
    roman_mask = t.str.contains(_ROMAN_NAME)

    # Han: no spaces, middle-dot variants unified, traditional -> simplified. The first
    # character is converted apart from the rest so that no OpenCC phrase spans surname and
    # given name (沈思東 must become 沈思东, not 沉思东).
    han = t.str.replace_all(" ", "").str.replace_all("[•・]", "·")
    han = pl.select(pl.when(han_mask).then(han)).to_series()
    simplified = _t2s(han.str.slice(0, 1)) + _t2s(han.str.slice(1))
    plain_han = simplified.str.contains(r"^\p{Han}+$").fill_null(False)
    han_distinct = simplified.filter(plain_han).unique().alias("name")
    han_table = _han_parts(han_distinct).with_columns(han_distinct)
    han_frame = pl.DataFrame({"name": simplified}).join(
        han_table, on="name", how="left", maintain_order="left"
    )

    # Latin letters: tokens split at spaces, '/' and ','.
    tokens = (
        pl.select(pl.when(roman_mask).then(t))
        .to_series()
        .str.replace_all(_NAME_SEPARATOR, " ")
        .str.strip_chars()
        .str.replace_all(r"\s+", " ")
        .str.split(" ")
    )
    distinct_tokens = tokens.explode().drop_nulls().unique().to_list()
    pinyin_token = {tok: is_pinyin(tok) for tok in distinct_tokens}
    roman = pl.DataFrame({"tok": tokens, "sep": t.str.contains("[/,]")}).select(
        pl.col("tok").list.eval(pl.element().str.to_uppercase()).alias("upper"),
        pl.col("tok")
        .list.eval(
            pl.element().replace_strict(pinyin_token, default=False, return_dtype=pl.Boolean)
        )
        .list.all()
        .alias("pinyin"),
        pl.col("tok").list.eval(pl.element().str.contains(r"^[A-Z][A-Z'-]+$")).alias("caps"),
        pl.col("tok").list.eval(pl.element().str.contains("[a-z]")).list.any().alias("lower"),
        "sep",
    )
    # The surname: first after a '/' or ',' (ZHANG/WEI, Smith, John); the one token in
    # capitals among mixed-case ones (passport style 'John SMITH'); else first for pinyin
    # (Chinese order), last for other Latin names (Western order).
    surname_at = (
        pl.when("sep")
        .then(0)
        .when((pl.col("caps").list.sum() == 1) & pl.col("lower"))
        .then(pl.col("caps").list.arg_max())
        .when("pinyin")
        .then(0)
        .otherwise(pl.col("upper").list.len() - 1)
    )
    upper = pl.col("upper")
    roman = roman.with_columns(surname_at.cast(pl.Int64).alias("at")).select(
        upper.list.join(" ").alias("name"),
        "pinyin",
        upper.list.get(pl.col("at"), null_on_oob=True).alias("surname"),
        pl.concat_list(upper.list.slice(0, pl.col("at")), upper.list.slice(pl.col("at") + 1))
        .list.join(" ")
        .replace("", None)
        .alias("given_name"),
    )
    roman_pinyin = pl.concat_str(
        pl.col("surname").str.to_lowercase(),
        pl.lit(" ") + pl.col("given_name").str.replace_all(" ", "").str.to_lowercase(),
        ignore_nulls=True,
    )

    script = (
        pl.when(pl.col("t").is_null())
        .then(None)
        .when(pl.lit(han_mask))
        .then(pl.lit("han"))
        .when(pl.lit(roman_mask) & pl.lit(roman["pinyin"]))
        .then(pl.lit("pinyin"))
        .when(pl.lit(roman_mask))
        .then(pl.lit("latin"))
        .otherwise(pl.lit("mixed"))
    )
    is_han, is_roman = (
        pl.col("name_script") == "han",
        pl.col("name_script").is_in(["pinyin", "latin"]),
    )
    return frame.with_columns(
        script.alias("name_script"),
        mixed_name=_t2s(t),
        han_name=han_frame["name"],
        han_surname=han_frame["surname"],
        han_given=han_frame["given_name"],
        han_pinyin=han_frame["name_pinyin"],
        roman_name=roman["name"],
        roman_surname=roman["surname"],
        roman_given=roman["given_name"],
        roman_pinyin=roman.select(roman_pinyin).to_series(),
    ).select(
        pl.when(is_han)
        .then("han_name")
        .when(is_roman)
        .then("roman_name")
        .otherwise("mixed_name")
        .alias("name"),
        "name_script",
        pl.when(is_han)
        .then("han_pinyin")
        .when(pl.col("name_script") == "pinyin")
        .then("roman_pinyin")
        .alias("name_pinyin"),
        pl.when(is_han).then("han_surname").when(is_roman).then("roman_surname").alias("surname"),
        pl.when(is_han).then("han_given").when(is_roman).then("roman_given").alias("given_name"),
    )


def person_names(s: pl.Series) -> pl.DataFrame:
    """Standardise person names: one output row per input value, in order.

    Columns:

    - ``name``: NFKC (full-width letters to half-width), trimmed, inner whitespace collapsed;
      Han names without spaces and in simplified characters (OpenCC ``t2s``, applied to the
      names with a traditional character, surname apart from given name); Latin-letter
      names upper-cased with a separator ``/`` or ``,`` turned into one space
      (``ZHANG/WEI`` -> ``ZHANG WEI``).
    - ``name_script``: ``han``; ``pinyin`` (Latin letters, every token a sequence of toneless
      pinyin syllables per pypinyin's table, :func:`is_pinyin`); ``latin`` (other Latin-letter
      names); ``mixed`` (anything else, e.g. Han and Latin together). Every column is null
      for null, empty or blank input.
    - ``name_pinyin``: lower-case toneless pinyin, the surname's syllables joined, a space, the
      given name's syllables joined: 张伟 -> ``zhang wei``, 欧阳娜娜 -> ``ouyang nana``,
      曾小贤 -> ``zeng xiaoxian`` (surname reading), ``ZHANG/WEI`` -> ``zhang wei``. Null for
      ``latin`` and ``mixed`` names and for Han names with a middle dot (买买提·艾力).
    - ``surname``, ``given_name``: for Han names the compound surname first (欧阳 | 娜娜), else
      the first character; for Latin-letter names the first token after a ``/`` or ``,``
      separator, the only all-capital token among mixed-case ones (``John SMITH`` -> SMITH),
      else the first token of pinyin names and the last of other names. Null for ``mixed``.

    Example: ``person_names(pl.Series(["歐陽娜娜"]))`` gives ``name='欧阳娜娜'``,
    ``name_script='han'``, ``name_pinyin='ouyang nana'``, ``surname='欧阳'``,
    ``given_name='娜娜'``.
    """
    return _per_distinct(s, _person_table)


# --- organisation names --------------------------------------------------------------------------


@cache
def _division_names() -> tuple[frozenset[str], frozenset[str]]:
    """(full names of all divisions, short names of provinces and prefectures), GB/T 2260.

    Counties come from the division table; provinces and prefectures also from every
    ``XXYY00`` code, which adds the prefecture-level cities without counties (东莞, 嘉峪关).
    """
    div = load_divisions()
    full: set[str] = set()
    for col in ("province", "prefecture", "county"):
        full.update(div[col].unique().to_list())
    upper = np.array([f"{p:02d}{i:02d}00" for p in range(11, 66) for i in range(100)])
    province, prefecture, _ = region_names(upper)
    full.update(province.tolist(), prefecture.tolist())
    short = {short_region_name(x) for x in set(province.tolist()) | set(prefecture.tolist())}
    full.discard("")
    short.discard("")
    return frozenset(full), frozenset(short)


@cache
def _region_names() -> tuple[str, ...]:
    """Division names that may start an organisation name or qualify a branch, longest first.

    Full names of provinces, prefectures and counties (安徽省, 宿州市, 灵璧县) and the short names
    of provinces and prefectures (安徽, 宿州) with at least 2 characters. Short county names are
    left out: many are also common trade names (兴隆, 永安, 富源, 东方).
    """
    full, short = _division_names()
    return tuple(sorted((x for x in full | short if len(x) >= 2), key=lambda x: (-len(x), x)))


@cache
def _region_alternation() -> str:
    """:func:`_region_names` as a regex alternation (a regex takes the first that fits)."""
    return "|".join(re.escape(x) for x in _region_names())


@cache
def _regions_by_length() -> dict[int, list[str]]:
    """The names of :func:`_region_alternation` by length, longest first."""
    out: dict[int, list[str]] = {}
    for name in _region_names():
        out.setdefault(len(name), []).append(name)
    return dict(sorted(out.items(), reverse=True))


@cache
def _bracket_regions() -> list[str]:
    """Names that may stand in brackets as a region: every division name, its short name
    (counties too: in brackets a name is not a trade name), and 中国."""
    full, short = _division_names()
    names = {"中国", *full, *short, *(short_region_name(x) for x in full)}
    return sorted(x for x in names if len(x) >= 2)


@cache
def region_words() -> frozenset[str]:
    """Every name a division may go by in an organisation name (full and short, counties too),
    for comparing two names that differ by a region prefix (linkage.evidence)."""
    return frozenset(_bracket_regions())


def _strip(col: str, part: str) -> pl.Expr:
    """Column `col` without its prefix or suffix `part` (a column of the same frame)."""
    return pl.col(col).str.slice(0, pl.col(col).str.len_chars() - pl.col(part).str.len_chars())


def _leading_regions(core: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(`core` without the division names it starts with, those names joined or '').

    Up to three rounds (province, prefecture, county), each taking the longest division name
    at the start provided 2 characters remain; a round looks only at the values the previous
    one shortened. Prefix lookups by length are much faster than one big regex here.
    """
    by_length = _regions_by_length()
    region = pl.Series("region", [""] * len(core), dtype=pl.String)
    rows = np.flatnonzero(core.is_not_null().to_numpy())
    for _ in range(3):
        if len(rows) == 0:
            break
        sub = core.gather(rows)
        length = sub.str.len_chars().to_numpy()
        found = np.zeros(len(rows), dtype=np.int64)
        for n, names in by_length.items():  # longest first
            hit = sub.str.slice(0, n).is_in(names).to_numpy() & (length - n >= 2) & (found == 0)
            found[hit] = n
        hit_at = np.flatnonzero(found)
        if len(hit_at) == 0:
            break
        parts = pl.DataFrame({"s": sub.gather(hit_at), "n": found[hit_at]}).select(
            pl.col("s").str.slice(0, pl.col("n")).alias("head"),
            pl.col("s").str.slice(pl.col("n")).alias("rest"),
        )
        rows = rows[hit_at]
        core = core.scatter(rows, parts["rest"])
        region = region.scatter(rows, region.gather(rows) + parts["head"])
    return core, region


def _organisation_table(raw: pl.Series) -> pl.DataFrame:
    """One row per distinct raw organisation name (see :func:`organisation_names`)."""
    t = (
        _clean(raw)
        .str.replace_all(_BRACKETS_OPEN, "(")
        .str.replace_all(_BRACKETS_CLOSE, ")")
        .str.replace_all(_SPACE_AFTER_WIDE, "$1")
        .str.replace_all(_SPACE_BEFORE_WIDE, "$1")
        .str.replace_all(r"\(\s+", "(")
        .str.replace_all(r"\s+\)", ")")
    )
    f = pl.DataFrame({"name": _t2s(t)})
    # A branch: the suffix word and the qualifier before it (an ordinal, else a region name).
    suffix = "|".join(BRANCH_SUFFIXES)
    f = f.with_columns(pl.col("name").str.extract(f"({suffix})$", 1).fill_null("").alias("kw"))
    f = f.with_columns(_strip("name", "kw").alias("b"))
    f = f.with_columns(
        pl.when(pl.col("kw") == "")
        .then(pl.lit(""))
        .otherwise(
            pl.coalesce(
                pl.col("b").str.extract(_ORDINAL, 1),
                pl.col("b").str.extract(f"({_region_alternation()})$", 1),
                pl.lit(""),
            )
        )
        .alias("q")
    )
    f = f.with_columns(_strip("b", "q").alias("b2"))
    branch = (pl.col("kw") != "") & (pl.col("b2").str.len_chars() >= 2)
    f = f.with_columns(
        pl.when(pl.col("name").is_not_null()).then(branch).alias("is_branch"),
        pl.when(branch).then("b2").otherwise("name").alias("core"),
    )
    # A bracketed region ('恒信(合肥)机械…', '…(中国)有限公司'), wherever it stands.
    br = pl.col("br").struct
    f = f.with_columns(pl.col("core").str.extract_groups(r"^(.*?)\(([^()]*)\)(.*)$").alias("br"))
    f = f.with_columns(br.field("2").is_in(_bracket_regions()).fill_null(False).alias("in"))
    f = f.with_columns(
        pl.when("in").then(br.field("1") + br.field("3")).otherwise("core").alias("core"),
        pl.when("in").then(br.field("2")).otherwise(pl.lit("")).alias("bracket_region"),
    )
    # The legal form at the end, if something remains.
    forms = "|".join(re.escape(x) for x in LEGAL_FORMS)
    f = f.with_columns(pl.col("core").str.extract(f"({forms})$", 1).fill_null("").alias("lf"))
    f = f.with_columns(_strip("core", "lf").alias("c2"))
    has_form = (pl.col("lf") != "") & (pl.col("c2").str.len_chars() >= 1)
    f = f.with_columns(
        pl.when(has_form).then("lf").alias("legal_form"),
        pl.when(has_form).then("c2").otherwise("core").alias("core"),
    )
    core, lead = _leading_regions(f["core"])
    region = lead + f["bracket_region"]
    return (
        f.with_columns(core.alias("core"), region.alias("region"))
        .select(
            "name",
            pl.col("core").str.strip_chars(" -_.·").alias("name_core"),
            "is_branch",
            "legal_form",
            pl.when(pl.col("region") != "").then("region").alias("name_region"),
        )
        .with_columns(
            pl.when(pl.col("name_core") == "")
            .then("name")
            .otherwise("name_core")
            .alias("name_core")
        )
    )


def organisation_names(s: pl.Series) -> pl.DataFrame:
    """Standardise organisation names: one output row per input value, in order.

    Columns:

    - ``name``: NFKC (full-width letters and brackets to half-width), every bracket as ``(``
      ``)``, traditional -> simplified (OpenCC ``t2s``), trimmed, whitespace next to Chinese
      characters removed and other runs collapsed.
    - ``name_core``: the part that identifies the business: ``name`` without a branch suffix
      (:data:`BRANCH_SUFFIXES` with the ordinal or region before it: 第一分公司, 二分店,
      宿州分公司), a bracketed region anywhere (``(合肥)``, ``(中国)``), the legal form
      (:data:`LEGAL_FORMS`) and leading division names (安徽省, 合肥, 蜀山区), so that the
      variants of one firm agree. Never empty: the name itself when nothing would remain.
    - ``is_branch``: the name ends with a branch suffix.
    - ``legal_form``: the legal-form suffix removed (``有限责任公司`` …), or null.
    - ``name_region``: the division names removed from the front and from brackets, joined
      (``合肥市蜀山区``), or null; a branch's own region is not included.

    Example: ``organisation_names(pl.Series(["恒信（合肥）机械有限责任公司宿州分公司"]))`` gives
    ``name='恒信(合肥)机械有限责任公司宿州分公司'``, ``name_core='恒信机械'``,
    ``is_branch=True``, ``legal_form='有限责任公司'``, ``name_region='合肥'``.
    """
    return _per_distinct(s, _organisation_table)
