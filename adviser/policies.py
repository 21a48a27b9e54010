"""Recommendation types: documented rules that order the candidate versions of each package.

Every type starts from the same set of *admissible* versions of a package: versions that satisfy
all requirements and constraints, support the target's Python (``Requires-Python``), have a wheel
whose tags the target supports or an sdist whose dependencies are declared statically, are not
yanked (unless a requirement pins exactly that version with ``==``; a WARNING is given), and are
final releases unless pre-releases are enabled for the package (``[pipenv] allow_prereleases``,
``[thoth.allow_prereleases]``, a specifier that names a pre-release, or no final release at all).

A type then sorts admissible versions into *tiers*: tier 0 holds the versions that meet every
rule of the type; the resolver tries tier 0 newest first, then the next tier. A package resolved
outside tier 0 gets a justification saying which rule it could not meet, so the choice is never
silent. The score of a product is the share of its packages resolved in tier 0.

latest
    Every admissible version is tier 0: the newest version that fits is taken.
testing
    Newest first, but a version whose files were all uploaded less than ``TESTING_MIN_AGE``
    (1 day) ago goes to tier 1: freshly published releases are the ones most often yanked or
    followed by a quick fix release.
stable
    Tier 0 requires all of: uploaded at least ``STABLE_MIN_AGE`` (7 days) ago, a wheel for the
    target (no build on install), no known advisory. Versions failing a rule go to tier 1; if
    nothing meets all rules the newest admissible version is used with a WARNING naming the
    failed rules. A version classified ``Development Status`` below 4 (Planning, Pre-Alpha,
    Alpha) is passed over for an older version of its tier that is not; since reading a
    version's classifiers costs a request, at most two versions in a row are passed over, after
    which the newest is used with a WARNING.
performance
    Tier 0: a binary (platform-specific) wheel for the target; tier 1: a pure-Python wheel;
    tier 2: only an sdist. Tiers are counted from the best kind the package offers at all, so a
    pure-Python project is not penalized for having no binary wheel. When several indexes carry
    a version, the one with a binary wheel wins.
    With a CUDA version in the runtime environment, packages known to ship CUDA-specific builds
    get a note saying which wheel was selected, as the index decides which CUDA it was built for.
security
    Tier 0: no known advisory affects the version. Affected versions are tier 1, used only when no
    unaffected version fits, and then reported as an ERROR naming the advisory.

Advisories (OSV) are looked up for every resolved package under every type: a hit is a WARNING
with the advisory id and link (an ERROR under security). The label ``allow-cve`` (a comma separated
list of advisory ids or aliases, e.g. ``{"allow-cve": "PYSEC-2023-62,CVE-2023-30861"}``) lets the
named advisories through: they no longer lower the tier and are reported as INFO.

A user's existing lock (its Pipfile hash matching) is respected: the locked version of a package
is tried first when it is admissible and in the best tier available, so only what must change
changes; each change is justified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

TESTING_MIN_AGE = timedelta(days=1)
STABLE_MIN_AGE = timedelta(days=7)
IMMATURE_STATUS = (
    "Development Status :: 1 - Planning",
    "Development Status :: 2 - Pre-Alpha",
    "Development Status :: 3 - Alpha",
)
# Projects whose wheels are built for a particular CUDA release.
CUDA_AWARE = frozenset(
    {
        "tensorflow",
        "torch",
        "jax",
        "jaxlib",
        "cupy",
        "mxnet",
        "paddlepaddle",
        "tensorflow-gpu",
        "torchvision",
        "torchaudio",
        "onnxruntime-gpu",
    }
)
RULE_SET_VERSION = "thamos-rules-1"
TYPES = ("latest", "testing", "stable", "performance", "security")


@dataclass
class VersionFacts:
    """What public data says about one version on one index (filled by the provider)."""

    age: timedelta | None  # since the earliest upload of its files; None when the index does not say
    has_target_wheel: bool
    has_binary_wheel: bool
    blocking_advisories: list  # advisories not let through by allow-cve
    yanked: bool


class Policy:
    """A recommendation type: tiers from facts, and a metadata rule applied when metadata is known."""

    name = "latest"
    description = "newest admissible version"
    # Count tiers from the best one the package offers (used where a tier says "kind", not "flaw").
    relative_tiers = False

    def tier(self, facts: VersionFacts) -> tuple[int, list[str]]:
        return 0, []

    def metadata_rule(self, classifiers: tuple[str, ...]) -> str | None:
        """A reason to try this version after its tier's others, judged from core metadata."""
        return None

    def advisory_severity(self) -> str:
        return "WARNING"


class LatestPolicy(Policy):
    pass


class TestingPolicy(Policy):
    name = "testing"
    description = f"newest admissible version uploaded at least {TESTING_MIN_AGE.days} day ago"

    def tier(self, facts: VersionFacts) -> tuple[int, list[str]]:
        if facts.age is not None and facts.age < TESTING_MIN_AGE:
            return 1, [f"uploaded less than {TESTING_MIN_AGE.days} day ago"]
        return 0, []


class StablePolicy(Policy):
    name = "stable"
    description = (
        f"newest version at least {STABLE_MIN_AGE.days} days old, with a wheel for the target, "
        "no known advisory and a development status of beta or later"
    )

    def tier(self, facts: VersionFacts) -> tuple[int, list[str]]:
        reasons = []
        if facts.age is not None and facts.age < STABLE_MIN_AGE:
            reasons.append(f"uploaded less than {STABLE_MIN_AGE.days} days ago")
        if not facts.has_target_wheel:
            reasons.append("no wheel for the target")
        if facts.blocking_advisories:
            reasons.append("known advisory " + ", ".join(a.id for a in facts.blocking_advisories))
        return (1 if reasons else 0), reasons

    def metadata_rule(self, classifiers: tuple[str, ...]) -> str | None:
        for classifier in classifiers:
            if classifier.strip() in IMMATURE_STATUS:
                return f"classified {classifier.strip().split('::')[-1].strip()}"
        return None


class PerformancePolicy(Policy):
    name = "performance"
    description = "newest version with a binary wheel for the target, then pure wheels, then sdists"
    relative_tiers = True

    def tier(self, facts: VersionFacts) -> tuple[int, list[str]]:
        if facts.has_binary_wheel:
            return 0, []
        if facts.has_target_wheel:
            return 1, ["only a pure-Python wheel"]
        return 2, ["no wheel for the target (built from sdist)"]


class SecurityPolicy(Policy):
    name = "security"
    description = "newest version no known advisory affects"

    def tier(self, facts: VersionFacts) -> tuple[int, list[str]]:
        if facts.blocking_advisories:
            return 1, ["known advisory " + ", ".join(a.id for a in facts.blocking_advisories)]
        return 0, []

    def advisory_severity(self) -> str:
        return "ERROR"


POLICIES: dict[str, type[Policy]] = {
    "latest": LatestPolicy,
    "testing": TestingPolicy,
    "stable": StablePolicy,
    "performance": PerformancePolicy,
    "security": SecurityPolicy,
}


class UnknownRecommendationType(ValueError):
    """The request names a recommendation type that does not exist."""


def policy_for(recommendation_type: str | None) -> Policy:
    name = (recommendation_type or "stable").strip().lower()
    if name not in POLICIES:
        raise UnknownRecommendationType(
            f"Unknown recommendation type {recommendation_type!r}: use one of {', '.join(TYPES)}"
        )
    return POLICIES[name]()


def parse_upload_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def allowed_advisory_ids(labels: dict | None) -> set[str]:
    """Advisory ids (or aliases) the ``allow-cve`` label lets through."""
    raw = (labels or {}).get("allow-cve") or ""
    return {item.strip().upper() for item in str(raw).replace(";", ",").split(",") if item.strip()}
