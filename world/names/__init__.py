"""Names of people and organisations in the synthetic world, and the ways records misspell them.

Everything is vectorised over numpy ``str`` arrays; functions that need randomness take a
``np.random.Generator`` first, so a seed fixes the output. Work that needs Python per value
(OpenCC, pypinyin) is done once per distinct value (or character) and mapped back.

The package by concern, each module opening with what it holds:

- :mod:`.pools`: the word pools names are made of, most common first (faker's surnames and
  given names, :data:`COMPOUND_SURNAMES`, the parts of organisation names), and their Zipf
  weights. Data only; the modules below draw from it.
- :mod:`.persons`: person names by sex (:func:`sample_person_names`, calibrated by
  :data:`GIVEN_NAME_MIX`) and their surname and given name (:func:`split_names`).
- :mod:`.writing`: a name in traditional characters (:func:`to_traditional`) or in pinyin
  (:func:`to_pinyin`).
- :mod:`.typos`: one character replaced by a homophone or a look-alike (:func:`name_typos`,
  :data:`SIMILAR_CHARACTERS`, :data:`SIMILAR_SHARE`).
- :mod:`.organisations`: organisation names by entity type and region
  (:func:`sample_org_names`, :data:`ORG_ENTITY_TYPES`).
- :mod:`.org_variants`: a firm's name as other registries write it (:func:`org_name_variants`,
  :data:`ORG_VARIANT_WEIGHTS`) and look-alike names of other businesses
  (:func:`org_name_lookalikes`, :data:`LOOKALIKE_KINDS`).

The names below are the package's API; callers use them as ``names.sample_person_names``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> full = sample_person_names(rng, np.array([True, False]))
    >>> [len(x) >= 2 for x in full]
    [True, True]
    >>> to_pinyin(np.array(["张伟", "欧阳娜娜"]), "airline").tolist()
    ['ZHANG/WEI', 'OUYANG/NANA']
"""

from __future__ import annotations

from credlink.world.names.org_variants import (
    LOOKALIKE_KINDS,
    ORG_VARIANT_WEIGHTS,
    org_name_lookalikes,
    org_name_variants,
)
from credlink.world.names.organisations import ORG_ENTITY_TYPES, sample_org_names
from credlink.world.names.persons import GIVEN_NAME_MIX, sample_person_names, split_names
from credlink.world.names.pools import COMPOUND_SURNAMES
from credlink.world.names.typos import SIMILAR_CHARACTERS, SIMILAR_SHARE, name_typos
from credlink.world.names.writing import to_pinyin, to_traditional

__all__ = [
    "COMPOUND_SURNAMES",
    "GIVEN_NAME_MIX",
    "LOOKALIKE_KINDS",
    "ORG_ENTITY_TYPES",
    "ORG_VARIANT_WEIGHTS",
    "SIMILAR_CHARACTERS",
    "SIMILAR_SHARE",
    "name_typos",
    "org_name_lookalikes",
    "org_name_variants",
    "sample_org_names",
    "sample_person_names",
    "split_names",
    "to_pinyin",
    "to_traditional",
]
