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

Which type a request gets is decided once, by ``planned_recommendation_type``: the type the request
names explicitly (the ``recommendation_type`` query parameter, or the request's own key when the
adviser is called as a library), else the one its runtime environment carries (from the client's
``.thoth.yaml``), else ``stable``.

The report asks the policy for its wording (``summary``, ``chosen``, ``fallback``,
``lock_change_reason``, ``build_note``), so no other module branches on a type's name.
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
DEFAULT_RECOMMENDATION_TYPE = "stable"


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
    # Whether a known advisory (not let through by allow-cve) lowers a version's tier.
    advisories_block = False

    def tier(self, facts: VersionFacts) -> tuple[int, list[str]]:
        return 0, []

    def metadata_rule(self, classifiers: tuple[str, ...]) -> str | None:
        """A reason to try this version after its tier's others, judged from core metadata."""
        return None

    def advisory_severity(self) -> str:
        return "WARNING"

    def summary(self) -> str:
        """The stack_info line naming the rule set a report was made with."""
        return f"Recommendation type {self.name} (rule set {RULE_SET_VERSION}): {self.description}"

    def chosen(self, name: str, version: str) -> str:
        """Why a version that meets every rule of the type was taken."""
        return f"{name} {version}: {self.description}"

    def fallback(self, name: str, version: str, reasons: list[str]) -> str:
        """Why a version outside tier 0 was taken: no version that fits met every rule."""
        return (
            f"{name} {version}: no version that fits met every {self.name} rule; the chosen one fails on: "
            + "; ".join(reasons)
        )

    def lock_change_reason(self, blocking_advisories: list, tier_reasons: list[str]) -> str | None:
        """Why a still admissible locked version was replaced under this type, if a rule says so."""
        if blocking_advisories and self.advisories_block:
            return f"locked version has advisory {', '.join(a.id for a in blocking_advisories)}"
        if tier_reasons:
            return f"locked version does not meet the {self.name} rules ({'; '.join(tier_reasons)})"
        return None

    def build_note(
        self, name: str, version: str, cuda_version: str | None, wheel: str | None, index_name: str
    ) -> str | None:
        """A note on which build of a package was selected for the target, where the type cares."""
        return None


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
    advisories_block = True

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

    def build_note(
        self, name: str, version: str, cuda_version: str | None, wheel: str | None, index_name: str
    ) -> str | None:
        if not cuda_version or name not in CUDA_AWARE:
            return None
        return (
            f"{name} {version}: target states CUDA {cuda_version}; selected {wheel or 'the sdist'} "
            f"from {index_name} (the index decides which CUDA release its builds use)"
        )


class SecurityPolicy(Policy):
    name = "security"
    description = "newest version no known advisory affects"
    advisories_block = True

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
# The recommendation types, in the order of the spec's enum (tests/spec holds the two equal).
RECOMMENDATION_TYPES = tuple(POLICIES)


class UnknownRecommendationType(ValueError):
    """The request names a recommendation type that does not exist."""


def _named(value: object) -> str | None:
    # Thoth 1.x clients send the literal "None" for an absent value.
    text = "" if value is None else str(value).strip()
    return text.lower() if text and text != "None" else None


def planned_recommendation_type(explicit: object, runtime_environment: object) -> str:
    """The type a request asks for: explicit request > runtime environment (.thoth.yaml) > stable.

    Not checked here: ``policy_for`` refuses a name that is not a type, as an error document.
    """
    from_environment = (
        runtime_environment.get("recommendation_type") if isinstance(runtime_environment, dict) else None
    )
    return _named(explicit) or _named(from_environment) or DEFAULT_RECOMMENDATION_TYPE


def policy_for(recommendation_type: str) -> Policy:
    """The policy of a planned type (see ``planned_recommendation_type``)."""
    name = str(recommendation_type).strip().lower()
    if name not in POLICIES:
        raise UnknownRecommendationType(
            f"Unknown recommendation type {recommendation_type!r}: use one of {', '.join(RECOMMENDATION_TYPES)}"
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
