// The dependency graph as a picture (cytoscape with the dagre layered layout, vendored under
// vendor/). Direct requirements are dark, transitive ones light; a WARNING or ERROR justification
// colours the border; conditional edges are dashed and carry their markers. A click on a package
// (or choosing it in the list, for the keyboard) shows its justifications and neighbours.
(function () {
  "use strict";
  var registered = false;
  var FONT = "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif";
  var LINE = 13;
  var measure = null;

  // Node boxes sized from their text here, once, rather than by the library on every style pass.
  function textWidth(text, bold) {
    if (!measure) { measure = document.createElement("canvas").getContext("2d"); }
    measure.font = (bold ? "bold " : "") + "11px " + FONT;
    return measure.measureText(text).width;
  }

  var STYLE = [
    { selector: "node", style: {
      "shape": "round-rectangle", "label": "data(label)", "text-wrap": "wrap",
      "text-valign": "center", "text-halign": "center", "font-size": 11, "font-family": FONT,
      "color": "#16202b", "background-color": "#e6edf6", "border-width": 1, "border-color": "#7b8ba3",
      "width": "data(w)", "height": "data(h)" } },
    { selector: "node.direct", style: {
      "background-color": "#1f5fa8", "color": "#ffffff", "border-color": "#0c3566",
      "border-width": 2, "font-weight": "bold" } },
    { selector: "node.warning", style: { "border-color": "#c26a00", "border-width": 4, "border-style": "double" } },
    { selector: "node.error", style: { "border-color": "#c4002b", "border-width": 4 } },
    { selector: "edge", style: {
      "width": 1, "line-color": "#9aa6b6", "target-arrow-color": "#9aa6b6",
      "target-arrow-shape": "triangle", "arrow-scale": 0.7, "curve-style": "bezier" } },
    { selector: "edge.conditional", style: {
      "line-style": "dashed", "line-color": "#7d4fc0", "target-arrow-color": "#7d4fc0",
      "label": "data(markers)", "font-size": 8, "color": "#4b2d78", "text-rotation": "autorotate",
      "min-zoomed-font-size": 9, "text-background-color": "#ffffff", "text-background-opacity": 0.8 } },
    { selector: ".faded", style: { "opacity": 0.2 } },
    { selector: "node.chosen", style: { "underlay-color": "#f5c400", "underlay-opacity": 0.9, "underlay-padding": 6 } }
  ];

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }

  function elementsOf(data) {
    var elements = [];
    data.nodes.forEach(function (node) {
      var classes = [node.direct ? "direct" : "transitive"];
      if (node.level === "WARNING") { classes.push("warning"); }
      if (node.level === "ERROR") { classes.push("error"); }
      var lines = node.version ? [node.name, node.version] : [node.name];
      var widest = Math.max.apply(null, lines.map(function (line) { return textWidth(line, node.direct); }));
      elements.push({ group: "nodes", classes: classes.join(" "), data: {
        id: node.id, label: lines.join("\n"), info: node,
        w: Math.ceil(widest) + 14, h: lines.length * LINE + 10 } });
    });
    data.edges.forEach(function (edge) {
      elements.push({ group: "edges", classes: edge.markers ? "conditional" : "", data: edge });
    });
    return elements;
  }

  function neighbourList(title, nodes, choose) {
    var block = element("div");
    block.appendChild(element("h4", title + " (" + nodes.length + ")"));
    var list = element("ul", undefined, "neighbours");
    nodes.forEach(function (other) {
      var item = element("li");
      var button = element("button", other.data("info").name, "link");
      button.type = "button";
      button.addEventListener("click", function () { choose(other); });
      item.appendChild(button);
      list.appendChild(item);
    });
    block.appendChild(list);
    return block;
  }

  function showDetails(panel, node, choose) {
    var info = node.data("info");
    panel.textContent = "";
    panel.appendChild(element("h3", info.name + (info.version ? " " + info.version : "")));
    panel.appendChild(element("p", (info.direct ? "Asked for by the project" : "Needed by another package") +
      (info.section ? " · " + info.section : ""), "note"));
    if (info.justification.length === 0) {
      panel.appendChild(element("p", "No justification names this package."));
    }
    var list = element("ul", undefined, "justifications");
    info.justification.forEach(function (item) {
      var entry = element("li");
      entry.appendChild(element("span", item.type, "badge badge-" + item.type.toLowerCase()));
      entry.appendChild(document.createTextNode(" " + item.message + " "));
      if (/^https?:\/\//.test(item.link)) {
        var link = element("a", item.link);
        link.href = item.link;
        link.rel = "noreferrer noopener";
        entry.appendChild(link);
      }
      list.appendChild(entry);
    });
    panel.appendChild(list);
    panel.appendChild(neighbourList("Requires", node.outgoers("node").toArray(), choose));
    panel.appendChild(neighbourList("Required by", node.incomers("node").toArray(), choose));
  }

  function fillChooser(select, cy, choose) {
    cy.nodes().sort(function (a, b) {
      return a.data("info").name.localeCompare(b.data("info").name);
    }).forEach(function (node) {
      var option = element("option", node.data("info").name);
      option.value = node.id();
      select.appendChild(option);
    });
    select.disabled = false;
    select.addEventListener("change", function () {
      if (select.value) { choose(cy.getElementById(select.value), true); }
    });
  }

  function draw(root) {
    var holder = root && root.querySelector("#graph");
    var source = root && root.querySelector("#graph-data");
    if (!holder || !source || typeof window.cytoscape !== "function") { return; }
    if (!registered && window.cytoscapeDagre) { window.cytoscape.use(window.cytoscapeDagre); registered = true; }
    var began = performance.now();
    var data = JSON.parse(source.textContent);
    var panel = root.querySelector("#graph-details");
    var select = root.querySelector("#graph-package");
    var fit = root.querySelector("#graph-fit");
    var cy = window.cytoscape({
      container: holder, elements: elementsOf(data), style: STYLE, minZoom: 0.05, maxZoom: 4,
      boxSelectionEnabled: false, autoungrabify: true, textureOnViewport: true,
      layout: { name: "dagre", rankDir: "LR", nodeSep: 8, rankSep: 70, edgeSep: 4, animate: false }
    });
    function choose(node, centre) {
      cy.elements().removeClass("chosen faded");
      cy.elements().not(node.closedNeighborhood()).addClass("faded");
      node.addClass("chosen");
      if (select) { select.value = node.id(); }
      if (centre) { cy.animate({ center: { eles: node }, zoom: Math.max(cy.zoom(), 1) }, { duration: 200 }); }
      showDetails(panel, node, function (other) { choose(other, true); });
    }
    cy.on("tap", "node", function (event) { choose(event.target, false); });
    cy.on("tap", function (event) {
      if (event.target === cy) { cy.elements().removeClass("chosen faded"); }
    });
    if (select) { fillChooser(select, cy, choose); }
    if (fit) { fit.disabled = false; fit.addEventListener("click", function () { cy.fit(undefined, 20); }); }
    cy.fit(undefined, 20);
    window.thamosGraph = cy;
    // Rendered once the next frame is painted: the time the benchmark reads.
    window.requestAnimationFrame(function () {
      window.requestAnimationFrame(function () {
        holder.dataset.drawMs = String(Math.round(performance.now() - began));
        holder.dataset.renderedMs = String(Math.round(performance.now()));
        holder.dataset.ready = "yes";
      });
    });
  }

  window.thamosDrawGraph = draw;
})();
