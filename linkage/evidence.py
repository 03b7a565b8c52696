"""Identity evidence: what a link shows about who a record is, and whether that may restrict.

A restriction takes liberties away, so a link may restrict someone only when the evidence the
policy demands is there (``schemas/linkage/identity_evidence.yaml``, :func:`load_policy`). No
field is trusted alone, however valid it looks: clerks type other people's numbers. Chinese
institutions verify a citizen by the *pair* of name and ID number, not by the number alone
(DOMAIN.md, "Identity checks in practice"), and so does this module.

For a record and a candidate registry entry, :func:`assess` gives:

``name_agreement``  how the names compare (:data:`NAME_AGREEMENT`):

                    ``exact``      the same name (organisations: the same full name)
                    ``variant``    the same name written otherwise: persons: the same pinyin
                                   (homophone typos, airline pinyin ``ZHANG/WEI``, traditional
                                   characters, which the standardiser makes simplified), or one
                                   character replaced by a look-alike or a homophone
                                   (:mod:`etl.reference.lookalikes`); organisations: the same
                                   core name (legal form, brackets, region prefix, branch
                                   suffix aside) or a core with one such character replaced
                    ``partial``    persons: the same surname only; organisations: one core name
                                   inside the other
                    ``disagree``   anything else (张伟明 and 张伟华 are two names: siblings
                                   often share all but one character)
                    ``missing``    a name is missing on either side

``evidence``        the independent identifying facts that agree, sorted
                    (:data:`PERSON_FACTS`, :data:`ORGANISATION_FACTS`). The parts of one typed
                    string count once: a masked ID's address code, birth year and tail are one
                    fact (``masked_id``), never three.

A policy rule (:class:`Rule`) is met when the name agreement is one it allows **and** at least
one of its facts agrees (or, where the rule lists ``reviewer``, a reviewer confirmed the link).
The default rules of each subject type decide the ``accept`` band of linkage
(:func:`meets`); a memorandum may demand more for its measures (exit control: a full
identifier or a reviewer), which publishing applies.

Example:
    >>> policy = load_policy()
    >>> policy.default.person.any_of[:2]
    ('citizen_id', 'citizen_id_typo')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pypinyin import lazy_pinyin

from credlink.etl.contracts import SCHEMAS_DIR, load_reviewed_yaml
from credlink.etl.reference.lookalikes import lookalike
from credlink.etl.standardise.names import region_words

__all__ = [
    "EVIDENCE_COLUMNS",
    "NAME_AGREEMENT",
    "ORGANISATION_FACTS",
    "PERSON_FACTS",
    "POLICY_FILE",
    "REVIEWER",
    "EvidencePolicy",
    "EvidencePolicyError",
    "MemorandumRule",
    "Rule",
    "assess",
    "load_policy",
    "meets",
    "one_character_variant",
    "organisation_variant",
    "policy_digest",
    "shortfall",
]

POLICY_FILE = SCHEMAS_DIR / "linkage" / "identity_evidence.yaml"

#: Name agreement levels, strongest first.
NAME_AGREEMENT: tuple[str, ...] = ("exact", "variant", "partial", "disagree", "missing")

#: Independent identifying facts of a person link.
PERSON_FACTS: dict[str, str] = {
    "citizen_id": "the record's full citizen ID (or its 15-digit legacy form) is the candidate's",
    "citizen_id_typo": "the record's full 18-character ID is one typing error from the "
    "candidate's (one character off, or two neighbours swapped)",
    "birth_date": "the record's full birth date is the candidate's",
    "masked_id": "a masked ID's visible digits (address code, birth year, last four) are the "
    "candidate's",
    "same_case": "another record of the agency with the same case number, whose name agrees, "
    "is linked to the candidate on its own evidence (linkage.corroborate)",
}
#: Independent identifying facts of an organisation link.
ORGANISATION_FACTS: dict[str, str] = {
    "uscc": "the record's USCC is the candidate's",
    "organisation_code": "the record's organisation code is the candidate's",
    "legacy_registration_no": "the record's pre-2015 registration number is the candidate's",
    "legacy_tax_no": "the record's tax registration number is the candidate's",
    "identifier_typo": "the record's USCC or organisation code is one typing error from the "
    "candidate's",
    "legal_rep_id": "the legal representative's ID number is the candidate's",
    "legal_rep_name": "the legal representative's name is the candidate's",
    "same_case": PERSON_FACTS["same_case"],
}
#: A reviewer confirmed the link (``method = 'clerical'``): counts where a rule lists it.
REVIEWER = "reviewer"

FACTS = {"person": PERSON_FACTS, "organisation": ORGANISATION_FACTS}

#: What :func:`assess` adds to a (record, candidate) pair.
EVIDENCE_COLUMNS: dict[str, pl.DataType] = {
    "name_agreement": pl.String(),
    "evidence": pl.List(pl.String()),
}

NameLevel = Literal["exact", "variant", "partial", "disagree", "missing"]
SubjectType = Literal["person", "organisation"]


class EvidencePolicyError(ValueError):
    """The identity-evidence policy file is malformed; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    """What a link must show: a name agreement of `name` and one fact of `any_of`."""

    name: tuple[NameLevel, ...] = Field(default=("exact", "variant"), min_length=1)
    any_of: tuple[str, ...] = Field(min_length=1)

    def check_facts(self, subject_type: str, where: str) -> None:
        known = set(FACTS[subject_type]) | {REVIEWER}
        unknown = sorted(set(self.any_of) - known)
        if unknown:
            raise ValueError(
                f"{where}: unknown {subject_type} fact(s) {unknown} (known: {sorted(known)})"
            )
        bad = sorted(set(self.name) - {"exact", "variant", "partial"})
        if bad:
            raise ValueError(f"{where}: name {bad} is no agreement; allow exact, variant, partial")


class SubjectRules(_Strict):
    """One rule per subject type."""

    person: Rule
    organisation: Rule


class MemorandumRule(_Strict):
    """A stricter rule for some measures of one memorandum (all of them if none listed)."""

    memorandum: str
    measures: tuple[str, ...] = ()
    why: str = Field(min_length=1)
    person: Rule | None = None
    organisation: Rule | None = None

    @model_validator(mode="after")
    def _some_rule(self) -> MemorandumRule:
        if self.person is None and self.organisation is None:
            raise ValueError(
                f"memorandum rule {self.memorandum}: give a person or organisation rule"
            )
        return self

    def applies(self, memorandum_id: str, measure_id: str) -> bool:
        return self.memorandum == memorandum_id and (
            not self.measures or measure_id in self.measures
        )


class EvidencePolicy(_Strict):
    """The reviewed identity-evidence policy (see the module doc)."""

    policy: Literal["identity_evidence"]
    version: int = Field(ge=1)
    default: SubjectRules
    memoranda: tuple[MemorandumRule, ...] = ()

    @model_validator(mode="after")
    def _known_facts(self) -> EvidencePolicy:
        for st in ("person", "organisation"):
            getattr(self.default, st).check_facts(st, f"default.{st}")
        for i, m in enumerate(self.memoranda):
            for st in ("person", "organisation"):
                rule = getattr(m, st)
                if rule is not None:
                    rule.check_facts(st, f"memoranda.{i}.{st}")
        return self

    def rule(self, subject_type: str, memorandum_id: str | None = None,
             measure_id: str | None = None) -> Rule:  # fmt: skip
        """The rule a link must meet: the first memorandum rule for the measure, else the
        subject type's default."""
        if memorandum_id is not None and measure_id is not None:
            for m in self.memoranda:
                rule: Rule | None = getattr(m, subject_type)
                if rule is not None and m.applies(memorandum_id, measure_id):
                    return rule
        default: Rule = getattr(self.default, subject_type)
        return default


@cache
def load_policy(path: Path = POLICY_FILE) -> EvidencePolicy:
    """The identity-evidence policy file, validated (errors name the file and the field)."""
    return load_reviewed_yaml(path, EvidencePolicy, "identity-evidence policy",
                              EvidencePolicyError, "policy")  # fmt: skip


def policy_digest(path: Path = POLICY_FILE) -> str:
    """A short hash of the policy as loaded: a changed policy makes linkage run in full."""
    dump = load_policy(path).model_dump_json()
    return hashlib.sha256(dump.encode()).hexdigest()[:12]


# --- names ---------------------------------------------------------------------------------------


@cache
def _reading(char: str) -> str:
    return lazy_pinyin(char)[0]


def one_character_variant(a: str, b: str) -> bool:
    """Whether `b` is `a` with exactly one Han character replaced by a look-alike or a
    homophone (same toneless default reading). ``('李明', '季明')`` -> True (look-alike);
    ``('张伟明', '张伟华')`` -> False (another name)."""
    if len(a) != len(b) or a == b:
        return False
    diff = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if len(diff) != 1:
        return False
    x, y = diff[0]
    if not ("\u3400" <= x <= "\u9fff" and "\u3400" <= y <= "\u9fff"):
        return False
    return lookalike(x, y) or _reading(x) == _reading(y)


def _flags(pairs: pl.DataFrame, columns: list[str], test: Callable[..., bool]) -> pl.Series:
    """`test` of the values of `columns`, computed once per distinct combination."""
    distinct = pairs.select(columns).unique()
    table = distinct.with_columns(
        pl.Series("_v", [test(*row) for row in distinct.iter_rows()], dtype=pl.Boolean)
    )
    joined = pairs.select(columns).join(
        table, on=columns, how="left", nulls_equal=True, maintain_order="left"
    )
    return joined["_v"].fill_null(False)


def _person_variant(name: str | None, c_name: str | None) -> bool:
    return name is not None and c_name is not None and one_character_variant(name, c_name)


#: Legal forms as compared: clerks mix them up (有限责任公司 for 有限公司, 股份 dropped).
_LEGAL_FORM = r"(股份有限公司|有限责任公司|有限公司)"
#: A branch suffix after the legal form: 天津启恒汽车销售有限公司惠州分公司.
_BRANCH = re.compile(r"^(.+?公司).{2,12}分公司$")


def _org_forms(name: str, core: str | None) -> set[str]:
    """A firm's name as compared: whole; without a branch suffix; from its core on (region
    prefix dropped); its core; each with the legal form written one way."""
    forms = {name}
    branch = _BRANCH.match(name)
    if branch:
        forms.add(branch.group(1))
    if core:
        forms.add(core)
        at = name.find(core[:2]) if len(core) >= 2 else -1
        if at > 0:
            forms |= {f[at:] for f in forms if f.startswith(name[:at])}
    return forms | {re.sub(_LEGAL_FORM, "有限公司", f) for f in forms}


def _region_prefixed(a: str, b: str) -> bool:
    """`b` is `a` with a division name in front (双河亿瑞园林 and 亿瑞园林)."""
    return len(b) > len(a) >= 4 and b.endswith(a) and b[: len(b) - len(a)] in region_words()


def organisation_variant(
    name: str | None, core: str | None, c_name: str | None, c_core: str | None
) -> bool:
    """Whether two organisation names are one name written otherwise: the same name or core
    after dropping a region prefix and writing the legal form one way, with at most one
    character replaced by a look-alike or a homophone. ``('评山县好又多副食店',
    '屏山县好又多副食店')`` -> True (评 / 屏 read ping); ``('华宇新能源科技有鲜公司',
    '南阳市华宇新能源科技有限公司')`` -> True."""
    if name is None or c_name is None:
        return False
    mine, theirs = _org_forms(name, core), _org_forms(c_name, c_core)
    if mine & theirs:
        return True
    return any(
        one_character_variant(a, b) or _region_prefixed(a, b) or _region_prefixed(b, a)
        for a in mine
        for b in theirs
    )


def _token_set(col: str) -> pl.Expr:
    return pl.col(col).str.split(" ").list.sort().list.join(" ")


def _person_name(pairs: pl.DataFrame) -> pl.Expr:
    variant = _flags(pairs, ["name", "c_name"], _person_variant)
    same_pinyin = (pl.col("name_pinyin") == pl.col("c_name_pinyin")) | (
        _token_set("name_pinyin") == _token_set("c_name_pinyin")
    )
    return (
        pl.when(pl.col("name").is_null() | pl.col("c_name").is_null())
        .then(pl.lit("missing"))
        .when(pl.col("name") == pl.col("c_name"))
        .then(pl.lit("exact"))
        .when(same_pinyin.fill_null(False) | pl.lit(variant))
        .then(pl.lit("variant"))
        .when((pl.col("surname_pinyin") == pl.col("c_surname_pinyin")).fill_null(False))
        .then(pl.lit("partial"))
        .otherwise(pl.lit("disagree"))
    )


def _organisation_name(pairs: pl.DataFrame) -> pl.Expr:
    unsure = pairs.filter((pl.col("name") != pl.col("c_name")).fill_null(True))
    variant = pairs.select(pl.col("_pair").is_in(
        unsure.filter(_flags(unsure, ["name", "name_core", "c_name", "c_name_core"],
                             organisation_variant))["_pair"].implode()
    ))["_pair"]  # fmt: skip
    core, c_core = pl.col("name_core"), pl.col("c_name_core")
    inside = (
        (core.str.len_chars() >= 2)
        & (c_core.str.len_chars() >= 2)
        & (c_core.str.contains(core, literal=True) | core.str.contains(c_core, literal=True))
    )
    return (
        pl.when(pl.col("name").is_null() | pl.col("c_name").is_null())
        .then(pl.lit("missing"))
        .when(pl.col("name") == pl.col("c_name"))
        .then(pl.lit("exact"))
        .when(pl.lit(variant))
        .then(pl.lit("variant"))
        .when(inside.fill_null(False))
        .then(pl.lit("partial"))
        .otherwise(pl.lit("disagree"))
    )


# --- facts ---------------------------------------------------------------------------------------


def _one_typo(a: str | None, b: str | None) -> bool:
    """Same length, and one character off or two neighbours swapped."""
    if a is None or b is None or len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(diff) == 1:
        return True
    i, j = diff[0], diff[-1]
    return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]


def _typo_flags(pairs: pl.DataFrame, left: str, right: str) -> pl.Series:
    return pl.Series(
        [_one_typo(a, b) for a, b in pairs.select(left, right).iter_rows()], dtype=pl.Boolean
    )


def _eq(a: str, b: str) -> pl.Expr:
    return (pl.col(a).is_not_null() & (pl.col(a) == pl.col(b))).fill_null(False)


_FULL_18 = r"^\d{17}[\dX]$"


def _person_facts(pairs: pl.DataFrame) -> dict[str, pl.Expr]:
    full = pl.col("id_norm").str.contains(_FULL_18).fill_null(False)
    typo = _typo_flags(pairs, "id_norm", "c_citizen_id")
    return {
        "citizen_id": _eq("citizen_id", "c_citizen_id"),
        "citizen_id_typo": full & ~_eq("citizen_id", "c_citizen_id") & pl.lit(typo),
        # a birth date read from the same number as a matching ID is no second fact
        "birth_date": pl.col("birth_ymd").str.contains(r"^\d{8}$").fill_null(False)
        & _eq("birth_ymd", "c_birth_ymd")
        & ~_eq("citizen_id", "c_citizen_id"),
        "masked_id": (pl.col("id_class") == "citizen_id_masked").fill_null(False)
        & _eq("id_region", "c_id_region")
        & _eq("id_tail", "c_id_tail")
        & _eq("birth_year", "c_birth_year"),
    }


def _organisation_facts(pairs: pl.DataFrame) -> dict[str, pl.Expr]:
    cls = pl.col("id_class")
    uscc_typo = _typo_flags(pairs, "id_norm", "c_uscc")
    code_typo = _typo_flags(pairs, "id_norm", "c_org_code")
    return {
        "uscc": _eq("uscc", "c_uscc"),
        "organisation_code": (cls == "organisation_code").fill_null(False)
        & _eq("org_code", "c_org_code"),
        "legacy_registration_no": _eq("legacy_registration_no", "c_legacy_registration_no"),
        "legacy_tax_no": _eq("legacy_tax_no", "c_legacy_tax_no"),
        "identifier_typo": cls.is_in(["uscc_bad_check", "organisation_code_bad_check"]).fill_null(
            False
        )
        & (pl.lit(uscc_typo) | pl.lit(code_typo)),
        "legal_rep_id": _eq("legal_rep_id", "c_legal_rep_id"),
        "legal_rep_name": _eq("legal_rep_name", "c_legal_rep_name")
        | _eq("legal_rep_pinyin", "c_legal_rep_pinyin"),
    }


def assess(
    pairs: pl.DataFrame, records: pl.DataFrame, spine: pl.DataFrame, subject_type: str
) -> pl.DataFrame:
    """The identity evidence of each (record, candidate) pair.

    `pairs` has ``unique_id`` (the record) and ``spine_id`` (the candidate; null: no
    candidate); `records` and `spine` are in the columns of :mod:`linkage.spine`. Returns
    `pairs` with :data:`EVIDENCE_COLUMNS` (``missing`` and no facts without a candidate).

    Example: a flight ban naming 张三 with 李四's valid ID, paired with 李四's entry ->
    ``name_agreement='disagree'``, ``evidence=['citizen_id']``: the identifier agrees, the name
    does not, and :func:`meets` refuses it.
    """
    if subject_type not in FACTS:
        raise ValueError(f"subject_type must be 'person' or 'organisation', got {subject_type!r}")
    if pairs.is_empty():
        return pairs.with_columns(
            pl.lit(None, pl.String).alias("name_agreement"),
            pl.lit(None, pl.List(pl.String)).alias("evidence"),
        )
    cand = spine.select(pl.all().name.prefix("c_")).rename({"c_unique_id": "spine_id"})
    joined = (
        pairs.select("unique_id", "spine_id")
        .with_row_index("_pair")
        .join(
            records.drop("source", "table", "record_id", strict=False),
            on="unique_id",
            how="left",
            maintain_order="left",
        )
        .join(cand, on="spine_id", how="left", maintain_order="left")
    )
    has = pl.col("spine_id").is_not_null() & pl.col("c_name").is_not_null()
    if subject_type == "person":
        name, facts = _person_name(joined), _person_facts(joined)
    else:
        name, facts = _organisation_name(joined), _organisation_facts(joined)
    listed = pl.concat_list([pl.when(expr & has).then(pl.lit(k)) for k, expr in facts.items()])
    scored = joined.select(
        "_pair",
        pl.when(has).then(name).otherwise(pl.lit("missing")).alias("name_agreement"),
        listed.list.drop_nulls().list.sort().alias("evidence"),
    ).sort("_pair")
    return pairs.with_columns(scored["name_agreement"], scored["evidence"])


# --- the rule ------------------------------------------------------------------------------------


def meets(rule: Rule, name_agreement: pl.Expr, evidence: pl.Expr, method: pl.Expr) -> pl.Expr:
    """Whether a link meets `rule`: its name agreement is allowed and one of its facts is
    listed, or the rule lists ``reviewer`` and a reviewer confirmed it (method ``clerical``)."""
    facts = [f for f in rule.any_of if f != REVIEWER]
    by_facts = name_agreement.is_in(list(rule.name)).fill_null(False) & (
        evidence.list.set_intersection(pl.lit(facts, pl.List(pl.String))).list.len() > 0
    ).fill_null(False)
    if REVIEWER in rule.any_of:
        return by_facts | (method == "clerical").fill_null(False)
    return by_facts


def shortfall(rule: Rule, name_agreement: pl.Expr, evidence: pl.Expr) -> pl.Expr:
    """Why a link falls short of `rule`, for the ``reason`` column (null when it does not)."""
    facts = [f for f in rule.any_of if f != REVIEWER]
    name_ok = name_agreement.is_in(list(rule.name)).fill_null(False)
    fact_ok = (
        evidence.list.set_intersection(pl.lit(facts, pl.List(pl.String))).list.len() > 0
    ).fill_null(False)
    return (
        pl.when(~name_ok)
        .then(
            pl.format(
                "evidence: name {} (needs {})",
                name_agreement.fill_null("missing"),
                pl.lit(" or ".join(rule.name)),
            )
        )
        .when(~fact_ok)
        .then(pl.lit(f"evidence: no independent identifying fact (needs {' or '.join(facts)})"))
    )


def facts_of(subject_type: str) -> Iterable[str]:
    """The fact names of a subject type (for docs and tests)."""
    return FACTS[subject_type].keys()
