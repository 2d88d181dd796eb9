// treaty-kg SPARQL editor: syntax highlighting, Ctrl/⌘+Enter to run, results as
// a sortable table (SELECT), a boolean (ASK) or Turtle (CONSTRUCT/DESCRIBE),
// server errors shown with their position, the query kept in the URL.
// Plain JavaScript, no dependencies, served from /assets/editor.js.
(() => {
  "use strict";
  const form = document.getElementById("editor-form");
  const area = document.getElementById("query");
  const shadow = document.getElementById("highlight");
  const status = document.getElementById("status");
  const errorBox = document.getElementById("error");
  const results = document.getElementById("results");
  if (!form || !area) return;

  const KEYWORDS = "SELECT|CONSTRUCT|DESCRIBE|ASK|WHERE|PREFIX|BASE|FILTER|OPTIONAL|UNION|MINUS|GRAPH|SERVICE|BIND|VALUES|GROUP|BY|ORDER|HAVING|LIMIT|OFFSET|DISTINCT|REDUCED|AS|FROM|NAMED|NOT|EXISTS|IN|ASC|DESC|COUNT|SUM|MIN|MAX|AVG|SAMPLE|GROUP_CONCAT|INSERT|DELETE|DATA|a";
  const TOKENS = new RegExp(
    "(#[^\\n]*)|(\"(?:[^\"\\\\\\n]|\\\\.)*\"|'(?:[^'\\\\\\n]|\\\\.)*')|(<[^<>\\s]*>)|([?$][A-Za-z_][\\w]*)|\\b(" + KEYWORDS + ")\\b",
    "gi");
  const KINDS = ["comment", "string", "iri", "variable", "keyword"];

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function highlight() {
    const text = area.value;
    let out = "";
    let last = 0;
    text.replace(TOKENS, (match, ...groups) => {
      const offset = groups[5];
      const kind = KINDS[groups.slice(0, 5).findIndex((g) => g !== undefined)];
      out += escapeHtml(text.slice(last, offset)) + '<span class="tok-' + kind + '">' + escapeHtml(match) + "</span>";
      last = offset + match.length;
      return match;
    });
    shadow.innerHTML = out + escapeHtml(text.slice(last)) + "\n";
    shadow.scrollTop = area.scrollTop;
  }

  function pageHref(iri) {
    const ids = "https://w3id.org/treaty-kg/id/";
    const ontology = "https://w3id.org/treaty-kg/ontology#";
    if (iri.startsWith(ids)) return "/page/" + iri.slice(ids.length);
    if (iri.startsWith(ontology)) return "/ontology#" + iri.slice(ontology.length);
    return iri;
  }

  function cellValue(term) {
    return term ? term.value : "";
  }

  function renderTable(vars, bindings) {
    const table = document.createElement("table");
    table.className = "results";
    const head = table.createTHead().insertRow();
    let sortBy = -1;
    let ascending = true;
    const body = table.createTBody();
    function fill(rows) {
      body.textContent = "";
      for (const binding of rows) {
        const tr = body.insertRow();
        for (const v of vars) {
          const td = tr.insertCell();
          const term = binding[v];
          if (!term) continue;
          if (term.type === "uri") {
            const a = document.createElement("a");
            a.href = pageHref(term.value);
            a.textContent = term.value;
            td.append(a);
            if (labels.has(term.value)) td.append(labelSpan(labels.get(term.value)));
          } else {
            td.textContent = term.value;
            if (term["xml:lang"]) td.lang = term["xml:lang"];
          }
        }
      }
    }
    vars.forEach((v, i) => {
      const th = document.createElement("th");
      th.scope = "col";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = v;
      button.addEventListener("click", () => {
        ascending = sortBy === i ? !ascending : true;
        sortBy = i;
        const sorted = [...bindings].sort((a, b) =>
          cellValue(a[v]).localeCompare(cellValue(b[v]), undefined, { numeric: true }) * (ascending ? 1 : -1));
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        fill(sorted);
      });
      th.append(button);
      head.append(th);
    });
    fill(bindings);
    results.append(table);
    chartButton(vars, bindings);
    mapButton(vars, bindings);
    addLabels(bindings).then((found) => { if (found) fill(currentOrder()); });
    function currentOrder() {
      if (sortBy < 0) return bindings;
      const v = vars[sortBy];
      return [...bindings].sort((a, b) =>
        cellValue(a[v]).localeCompare(cellValue(b[v]), undefined, { numeric: true }) * (ascending ? 1 : -1));
    }
  }

  // Labels beside IRIs: one query for the names of the IRIs in the answer.
  const labels = new Map();
  function labelSpan(label) {
    const span = document.createElement("span");
    span.className = "label-beside";
    span.textContent = label;
    return span;
  }
  async function addLabels(bindings) {
    const iris = new Set();
    for (const b of bindings) for (const t of Object.values(b)) {
      if (t && t.type === "uri" && !labels.has(t.value) && /^[^<>"{}|^`\\\s]+$/.test(t.value)) iris.add(t.value);
    }
    if (!iris.size) return false;
    const values = [...iris].slice(0, 300).map((i) => "<" + i + ">").join(" ");
    const query = "SELECT ?iri (SAMPLE(?l) AS ?label) WHERE { VALUES ?iri { " + values + " } " +
      "?iri <http://www.w3.org/2000/01/rdf-schema#label>|<http://www.w3.org/2004/02/skos/core#prefLabel> ?l " +
      "FILTER(LANG(?l) = \"\" || LANGMATCHES(LANG(?l), \"en\")) } GROUP BY ?iri";
    try {
      const response = await fetch("/sparql", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json" },
        body: new URLSearchParams({ query }),
      });
      if (!response.ok) return false;
      const data = await response.json();
      for (const row of data.results.bindings) if (row.label) labels.set(row.iri.value, row.label.value);
      return data.results.bindings.length > 0;
    } catch (e) { return false; }
  }

  // WKT values (GeoSPARQL): a map, drawn by the server like every map there.
  const WKT = "http://www.opengis.net/ont/geosparql#wktLiteral";
  function mapButton(vars, bindings) {
    if (!bindings.some((b) => Object.values(b).some((t) => t && t.datatype === WKT))) return;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Show on a map";
    button.addEventListener("click", async () => {
      const old = results.querySelector("figure.map, p.map-error");
      if (old) { old.remove(); button.textContent = "Show on a map"; return; }
      const response = await fetch("/map.svg", {
        method: "POST",
        headers: { "Content-Type": "application/sparql-results+json" },
        body: JSON.stringify({ head: { vars }, results: { bindings } }),
      });
      const holder = document.createElement("div");
      if (response.ok) {
        holder.innerHTML = await response.text();
      } else {
        const p = document.createElement("p");
        p.className = "map-error error";
        p.textContent = "No map: " + await response.text();
        holder.append(p);
      }
      results.append(...holder.childNodes);
      button.textContent = "Hide the map";
    });
    results.prepend(button);
  }

  // Two columns, the second numeric: a bar chart, drawn here as SVG.
  function chartButton(vars, bindings) {
    if (vars.length !== 2 || !bindings.length || bindings.length > 200) return;
    const numbers = bindings.map((b) => b[vars[1]] ? Number(b[vars[1]].value) : NaN);
    if (numbers.some((n) => !Number.isFinite(n))) return;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Show as chart";
    button.addEventListener("click", () => {
      const old = results.querySelector("svg.chart");
      if (old) { old.remove(); button.textContent = "Show as chart"; return; }
      results.append(barChart(bindings.map((b, i) => {
        const t = b[vars[0]];
        const name = t ? (labels.get(t.value) || t.value.replace(/^.*[#/]/, "")) : "(none)";
        return [name, numbers[i]];
      }), vars[1]));
      button.textContent = "Hide the chart";
    });
    results.prepend(button);
  }
  function barChart(rows, measure) {
    const NS = "http://www.w3.org/2000/svg";
    const max = Math.max(...rows.map((r) => Math.abs(r[1])), 1);
    const bar = 22, left = 220, width = 640;
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", "0 0 " + (left + width + 80) + " " + (rows.length * bar + 10));
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Bar chart of " + measure);
    rows.forEach(([name, value], i) => {
      const y = 5 + i * bar;
      const label = document.createElementNS(NS, "text");
      label.setAttribute("x", left - 8); label.setAttribute("y", y + bar * 0.65);
      label.setAttribute("text-anchor", "end"); label.setAttribute("fill", "currentColor");
      label.textContent = name.length > 32 ? name.slice(0, 31) + "…" : name;
      const rect = document.createElementNS(NS, "rect");
      rect.setAttribute("x", left); rect.setAttribute("y", y + 3);
      rect.setAttribute("width", Math.max(1, Math.abs(value) / max * width)); rect.setAttribute("height", bar - 6);
      rect.setAttribute("fill", "#0b5cad");
      const title = document.createElementNS(NS, "title");
      title.textContent = name + ": " + value;
      rect.append(title);
      const number = document.createElementNS(NS, "text");
      number.setAttribute("x", left + Math.abs(value) / max * width + 6); number.setAttribute("y", y + bar * 0.65);
      number.setAttribute("fill", "currentColor");
      number.textContent = String(value);
      svg.append(label, rect, number);
    });
    return svg;
  }

  async function run() {
    const query = area.value;
    history.replaceState(null, "", "/editor?query=" + encodeURIComponent(query));
    status.textContent = "Running…";
    errorBox.hidden = true;
    results.textContent = "";
    const started = performance.now();
    let response;
    try {
      response = await fetch("/sparql", {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          "Accept": "application/sparql-results+json, text/turtle;q=0.9",
        },
        body: new URLSearchParams({ query }),
      });
    } catch (e) {
      errorBox.textContent = "The server could not be reached: " + e;
      errorBox.hidden = false;
      status.textContent = "";
      return;
    }
    const ms = Math.round(performance.now() - started);
    if (!response.ok) {
      errorBox.textContent = await response.text();
      errorBox.hidden = false;
      status.textContent = "Error " + response.status;
      return;
    }
    const type = response.headers.get("content-type") || "";
    if (type.startsWith("application/sparql-results+json")) {
      const data = await response.json();
      if (typeof data.boolean === "boolean") {
        const p = document.createElement("p");
        p.className = "boolean";
        p.textContent = data.boolean ? "Yes (true)" : "No (false)";
        results.append(p);
        status.textContent = "Answered in " + ms + " ms";
        return;
      }
      renderTable(data.head.vars, data.results.bindings);
      status.textContent = data.results.bindings.length + " row(s) in " + ms + " ms";
    } else {
      const pre = document.createElement("pre");
      pre.textContent = await response.text();
      results.append(pre);
      status.textContent = "Graph in " + ms + " ms";
    }
  }

  // The engine's plan: each operator with its rows and time, the costliest
  // marked, as a nested list (from /sparql/explain).
  async function explain() {
    status.textContent = "Explaining…";
    errorBox.hidden = true;
    results.textContent = "";
    const response = await fetch("/sparql/explain", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ query: area.value }),
    });
    if (!response.ok) {
      errorBox.textContent = await response.text();
      errorBox.hidden = false;
      status.textContent = "Error " + response.status;
      return;
    }
    const data = await response.json();
    let costliest = null;
    // An operator's own time: its time less its children's.
    function own(node) {
      const total = node["duration in seconds"] || 0;
      return total - (node.children || []).reduce((t, c) => t + (c["duration in seconds"] || 0), 0);
    }
    (function find(node) {
      if (!costliest || own(node) > own(costliest)) costliest = node;
      (node.children || []).forEach(find);
    })(data.plan);
    function item(node) {
      const li = document.createElement("li");
      const ms = ((node["duration in seconds"] || 0) * 1000).toFixed(2);
      const line = document.createElement("span");
      line.className = node === costliest ? "plan-node costliest" : "plan-node";
      line.textContent = node.name + " — " + (node["number of results"] ?? "?") + " row(s), " + ms + " ms" +
        (node === costliest ? " (most time of its own)" : "");
      li.append(line);
      if (node.children && node.children.length) {
        const ul = document.createElement("ul");
        node.children.forEach((c) => ul.append(item(c)));
        li.append(ul);
      }
      return li;
    }
    const h = document.createElement("h2");
    h.textContent = "Query plan";
    const ul = document.createElement("ul");
    ul.className = "plan";
    ul.append(item(data.plan));
    results.append(h, ul);
    const planning = data["planning duration in seconds"];
    status.textContent = "Planned in " + ((planning || 0) * 1000).toFixed(2) + " ms; times are each step's own and its children's";
  }
  document.getElementById("explain").addEventListener("click", explain);

  area.addEventListener("input", highlight);
  area.addEventListener("scroll", () => { shadow.scrollTop = area.scrollTop; shadow.scrollLeft = area.scrollLeft; });
  area.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      run();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  highlight();
  if (new URLSearchParams(location.search).has("query") && area.value.trim()) run();
})();
