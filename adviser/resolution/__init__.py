"""The resolution, split as pip splits its resolvelib integration.

``model`` (identifiers, Requirement, VersionOffer, Candidate), ``offers`` (pages, files usable on
the target, facts, tiers, metadata checks), ``selection`` (admissible versions in the policy's
order), ``dependencies`` (a candidate's Requires-Dist on the target), ``prefetch`` (warming the
index client), ``units`` (where decision units such as the recommendation policy plug in),
``provider`` (the resolvelib provider and its read API) and ``reporter`` (the resolver's reporter).
"""
