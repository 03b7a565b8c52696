"""The review policy: single or blind double review, the senior reviewers, the quality sample.

The reviewed file ``schemas/review/review_policy.yaml`` (read strictly, like every reviewed
YAML file: :func:`etl.contracts.load_reviewed_yaml`) says

``mode``     ``single`` (one reviewer's decision takes effect, the default) or ``double``
             (blind double review: two agreeing decisions of two different reviewers, a senior
             reviewer settling a disagreement; :mod:`linkage.decisions`);
``seniors``  the login names holding the senior reviewer role;
``sample``   the blind review of a random sample of accepted links that estimates precision
             without ground truth (:mod:`linkage.estimated_quality`): its default size, the
             allocation over strata, a minimum per stratum and the confidence of the intervals.

``$CREDLINK_REVIEW_POLICY`` names another policy file (a deployment's, or a test's).

Example:
    >>> policy = load_review_policy()
    >>> policy.mode, policy.required
    ('single', 1)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from credlink.etl.contracts import load_reviewed_yaml
from credlink.settings import SCHEMAS_DIR

__all__ = [
    "POLICY_ENV",
    "POLICY_FILE",
    "ReviewPolicy",
    "ReviewPolicyError",
    "SamplePolicy",
    "load_review_policy",
]

POLICY_FILE = SCHEMAS_DIR / "review" / "review_policy.yaml"
#: An environment variable naming another review policy file.
POLICY_ENV = "CREDLINK_REVIEW_POLICY"


class ReviewPolicyError(ValueError):
    """The review policy file is malformed; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplePolicy(_Strict):
    """How the blind quality sample of accepted links is drawn and read."""

    size: int = Field(default=200, ge=1)
    allocation: Literal["proportional", "equal"] = "proportional"
    min_per_stratum: int = Field(default=10, ge=0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)


class ReviewPolicy(_Strict):
    """The reviewed review policy (see the module doc)."""

    policy: Literal["review_policy"] = "review_policy"
    version: int = 1
    mode: Literal["single", "double"] = "single"
    seniors: tuple[str, ...] = ()
    sample: SamplePolicy = SamplePolicy()

    @model_validator(mode="after")
    def _seniors_named(self) -> ReviewPolicy:
        if any(not s.strip() for s in self.seniors):
            raise ValueError("seniors: a senior reviewer's name is empty")
        if self.mode == "double" and not self.seniors:
            raise ValueError(
                "seniors: double review needs at least one senior reviewer to settle a disagreement"
            )
        return self

    @property
    def required(self) -> int:
        """Agreeing decisions an item needs before it takes effect: 1 or 2."""
        return 2 if self.mode == "double" else 1

    def is_senior(self, reviewer: str) -> bool:
        """Whether `reviewer` holds the senior reviewer role."""
        return reviewer in self.seniors


def load_review_policy(path: Path | None = None) -> ReviewPolicy:
    """The review policy: `path`, else ``$CREDLINK_REVIEW_POLICY``, else the shipped file;
    validated (errors name the file and the field)."""
    if path is None:
        env = os.environ.get(POLICY_ENV)
        path = Path(env) if env else POLICY_FILE
    policy = load_reviewed_yaml(path, ReviewPolicy, "review policy", ReviewPolicyError, "policy")
    return policy
