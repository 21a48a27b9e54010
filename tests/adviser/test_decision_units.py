"""Decision units plugged into the provider next to the policy: they drop versions (with a reason
explanations quote), lower tiers, defer versions from their metadata, and add their stack_info and
justifications (the report builds the product without changing the parsed project)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from packaging.specifiers import SpecifierSet
from resolvelib import Resolver
from resolvelib.resolvers import ResolutionImpossible

from adviser.environment import build_target
from adviser.explain import explain_conflict
from adviser.index import IndexClient, IndexSource
from adviser.policies import VersionFacts, policy_for
from adviser.project import Source, parse_project
from adviser.report import build_product
from adviser.resolution.model import Requirement
from adviser.resolution.provider import AdviserProvider
from adviser.resolution.reporter import AdviseReporter
from adviser.resolution.units import DecisionUnit, PolicyUnit, UnitChain
from tests.support.index_server import Dist

DISTS = [
    Dist("app", "1.0", requires_dist=("dep>=1.0",)),
    Dist("dep", "1.0"),
    Dist("dep", "2.0"),
    Dist("dep", "3.0", classifiers=("Development Status :: 3 - Alpha",)),
]


class Withdrawn(DecisionUnit):
    name = "withdrawn"

    def __init__(self, *versions: str) -> None:
        self.versions = set(versions)

    def admit(self, offer):
        if offer.name == "dep" and str(offer.version) in self.versions:
            return "withdrawn by the test unit"
        return None


class SettledOnly(DecisionUnit):
    name = "settled"

    def tier(self, facts: VersionFacts):
        if facts.age is not None and facts.age < timedelta(days=30):
            return 1, ["uploaded less than 30 days ago"]
        return 0, []


class NoAlpha(DecisionUnit):
    name = "no-alpha"

    def demote(self, metadata):
        return "alpha" if any("Alpha" in c for c in metadata.classifiers) else None

    def stack_info(self):
        return [{"type": "INFO", "message": "no alphas, please"}]


@contextmanager
def provider_for(index, tmp_cache_dir, units) -> Iterator[AdviserProvider]:
    source = IndexSource("main", index.url)
    with IndexClient([source], tmp_cache_dir) as client:
        provider = AdviserProvider(
            client,
            build_target({"platform": "linux-x86_64", "python_version": "3.11"}),
            policy_for("latest"),
            sources_for=lambda _name: [source],
            advisories=None,
            allowed_advisories=set(),
            prereleases_all=False,
            prerelease_packages={},
            constraints=[],
            locked={},
            units=units,
        )
        try:
            yield provider
        finally:
            provider.close()


def resolve(provider: AdviserProvider, text: str = "app") -> dict[str, str]:
    name, _, spec = text.partition(" ")
    result = Resolver(provider, AdviseReporter()).resolve([Requirement(name, frozenset(), SpecifierSet(spec))])
    return {name: str(candidate.version) for name, candidate in result.mapping.items()}


def test_without_units_the_policy_alone_decides(package_index, tmp_cache_dir):
    with provider_for(package_index(DISTS), tmp_cache_dir, ()) as provider:
        assert isinstance(provider.unit, PolicyUnit)
        assert resolve(provider)["dep"] == "3.0"


def test_a_unit_drops_versions_and_explanations_give_its_reason(package_index, tmp_cache_dir):
    index = package_index(DISTS)
    with provider_for(index, tmp_cache_dir, [Withdrawn("3.0")]) as provider:
        assert isinstance(provider.unit, UnitChain)
        assert resolve(provider)["dep"] == "2.0"
    with provider_for(index, tmp_cache_dir, [Withdrawn("2.0", "3.0")]) as provider:
        try:
            resolve(provider, "dep >=2.0")
        except ResolutionImpossible as exc:
            message = explain_conflict(provider, exc.causes)
        else:
            raise AssertionError("dep >=2.0 resolved although the unit withdrew 2.0 and 3.0")
    assert "3.0, 2.0: withdrawn by the test unit" in message


def test_a_unit_lowers_tiers_and_the_newest_of_the_best_tier_wins(package_index, tmp_cache_dir):
    now = datetime.now(timezone.utc)
    stamp = lambda days: (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    dists = [
        Dist("app", "1.0", requires_dist=("dep",)),
        Dist("dep", "1.0", upload_time=stamp(400)),
        Dist("dep", "2.0", upload_time=stamp(100)),
        Dist("dep", "3.0", upload_time=stamp(2)),
    ]
    with provider_for(package_index(dists), tmp_cache_dir, [SettledOnly()]) as provider:
        assert resolve(provider)["dep"] == "2.0"
        newest = provider.package("dep").offers[0]
        assert (newest.tier, newest.tier_reasons) == (1, ["uploaded less than 30 days ago"])


def test_a_unit_demotes_from_metadata_and_adds_stack_info(package_index, tmp_cache_dir):
    unit = NoAlpha()
    with provider_for(package_index(DISTS), tmp_cache_dir, [unit]) as provider:
        assert resolve(provider)["dep"] == "2.0"
        assert provider.package("dep").offers[0].metadata_demotion == "alpha"
        assert provider.unit.stack_info()[-1] == {"type": "INFO", "message": "no alphas, please"}
        assert "latest" in provider.unit.stack_info()[0]["message"]


class Signed(DecisionUnit):
    name = "signed"

    def justify(self, name, offer):
        return [{"type": "INFO", "message": f"{name} {offer.version} checked by the test unit"}]


def test_a_unit_justifies_the_chosen_versions_and_the_report_leaves_the_pipfile_alone(
    package_index, tmp_cache_dir
):
    index = package_index(DISTS)
    # The Pipfile names another index: the one the packages come from is added to the product's sources.
    text = '[[source]]\nname = "other"\nurl = "http://127.0.0.1:9/simple/"\n\n[packages]\napp = "*"\n'
    project = parse_project(text, "pipenv", None, Source("main", index.url))
    before = copy.deepcopy(project.pipfile)
    roots = [Requirement("app", frozenset(), SpecifierSet(), text="app")]
    with provider_for(index, tmp_cache_dir, [Signed()]) as provider:
        result = Resolver(provider, AdviseReporter()).resolve(roots)
        product = build_product(
            result=result, provider=provider, project=project, target=provider.target,
            policy=policy_for("latest"), roots=roots, dev=False, runtime={}, known_indexes=[], lock=None,
        )
    messages = [item["message"] for item in product["justification"]]
    assert "dep 3.0 checked by the test unit" in messages
    assert messages.index("dep 3.0 checked by the test unit") > messages.index("app 1.0 checked by the test unit")
    urls = [s["url"] for s in product["project"]["requirements"]["source"]]
    assert urls == ["http://127.0.0.1:9/simple/", index.url]
    assert project.pipfile == before and len(project.pipfile["source"]) == 1
