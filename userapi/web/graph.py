"""The dependency graph of an advised stack as the page's graph script reads it.

The adviser's product holds the graph as package names and index pairs (parent, child). Here each
node gets what the picture marks: whether the project asks for it directly, its version, the most
severe of its justifications (and the justifications themselves, shown on click). An edge to a
package whose lock entry carries environment markers is conditional: it exists only where the
markers hold, and it carries their text.
"""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name

from userapi.web import views


def _entries(locked: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for section, _ in views.SECTIONS:
        for name, entry in (locked.get(section) or {}).items():
            entries.setdefault(canonicalize_name(str(name)), {**(entry or {}), "section": section})
    return entries


def _valid_edges(raw: Any, size: int) -> list[tuple[int, int]]:
    edges = set()
    for pair in raw if isinstance(raw, list) else []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            parent, child = pair
            if isinstance(parent, int) and isinstance(child, int) and 0 <= parent < size and 0 <= child < size:
                edges.add((parent, child))
    return sorted(edges)


def graph_of(document: Any) -> dict[str, Any]:
    """{"nodes": [...], "edges": [...]} for the page; empty when the analysis advised no stack."""
    product = views.best_product(document)
    if product is None:
        return {"nodes": [], "edges": []}
    raw = product.get("dependency_graph") if isinstance(product.get("dependency_graph"), dict) else {}
    names = [str(name) for name in raw.get("nodes") or []]
    edges = _valid_edges(raw.get("edges"), len(names))
    entries = _entries(views.locked_of(document))
    direct = views.direct_names(document)
    _, justification = views.report_items(document)
    by_package: dict[str, list[dict[str, str]]] = {}
    for item in justification:
        if item.get("package_name"):
            by_package.setdefault(canonicalize_name(str(item["package_name"])), []).append(
                {key: str(item.get(key) or "") for key in ("type", "message", "link")}
            )
    nodes = []
    for index, name in enumerate(names):
        key = canonicalize_name(name)
        entry = entries.get(key, {})
        items = by_package.get(key, [])
        nodes.append(
            {
                "id": f"n{index}",
                "name": name,
                "version": views.version_of(entry),
                "section": entry.get("section", ""),
                "direct": key in direct,
                "level": views.worst(items),
                "justification": items,
            }
        )
    edge_rows = []
    for parent, child in edges:
        markers = str(entries.get(canonicalize_name(names[child]), {}).get("markers") or "")
        edge_rows.append({"id": f"e{parent}-{child}", "source": f"n{parent}", "target": f"n{child}", "markers": markers})
    return {"nodes": nodes, "edges": edge_rows}


def requires_table(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Each package with what it requires, for readers without the picture (no JavaScript)."""
    names = {node["id"]: node["name"] for node in graph["nodes"]}
    children: dict[str, list[str]] = {node_id: [] for node_id in names}
    for edge in graph["edges"]:
        label = names[edge["target"]] + (f" ; {edge['markers']}" if edge["markers"] else "")
        children[edge["source"]].append(label)
    return [
        {"name": node["name"], "direct": node["direct"], "level": node["level"], "requires": sorted(children[node["id"]])}
        for node in sorted(graph["nodes"], key=lambda node: (not node["direct"], node["name"].lower()))
    ]
