// treaty-kg editor completions: prefixes (after PREFIX, or a known prefix's
// name), classes and properties used in the data (after `prefix:`), and IRIs by
// label (any other word of three letters or more, from the search index).
// The vocabulary comes from /editor/vocabulary.json, once per data version.
(() => {
  "use strict";
  const area = document.getElementById("query");
  if (!area) return;
  const list = document.createElement("ul");
  list.className = "completions";
  list.id = "completions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "completions");
  list.hidden = true;
  area.parentElement.after(list);
  area.setAttribute("aria-controls", "completions");
  area.setAttribute("aria-autocomplete", "list");
  let vocabulary = null;
  let items = [];
  let active = 0;
  let replaceFrom = 0;
  let asked = 0;

  async function loadVocabulary() {
    if (vocabulary) return vocabulary;
    try {
      const response = await fetch("/editor/vocabulary.json", { headers: { Accept: "application/json" } });
      vocabulary = response.ok ? await response.json() : { prefixes: [], terms: [] };
    } catch (e) {
      vocabulary = { prefixes: [], terms: [] };
    }
    return vocabulary;
  }

  // Prefixes declared in the query, then the known ones.
  function namespaces(vocab) {
    const map = new Map();
    for (const m of area.value.matchAll(/PREFIX\s+([\w-]*):\s*<([^>]*)>/gi)) map.set(m[1], m[2]);
    for (const p of vocab.prefixes) if (!map.has(p.prefix)) map.set(p.prefix, p.namespace);
    return map;
  }

  function close() {
    list.hidden = true;
    list.textContent = "";
    items = [];
    area.removeAttribute("aria-activedescendant");
  }

  function show(found, from) {
    items = found.slice(0, 30);
    replaceFrom = from;
    list.textContent = "";
    items.forEach((item, i) => {
      const li = document.createElement("li");
      li.id = "completion-" + i;
      li.setAttribute("role", "option");
      li.textContent = item.text;
      if (item.note) {
        const note = document.createElement("span");
        note.className = "label-beside";
        note.textContent = item.note;
        li.append(note);
      }
      li.addEventListener("mousedown", (e) => { e.preventDefault(); accept(i); });
      list.append(li);
    });
    list.hidden = items.length === 0;
    mark(0);
  }

  function mark(i) {
    active = i;
    list.querySelectorAll("li").forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
    if (items[i]) area.setAttribute("aria-activedescendant", "completion-" + i);
  }

  function accept(i) {
    const item = items[i];
    if (!item) return;
    const caret = area.selectionStart;
    let text = area.value.slice(0, replaceFrom) + item.insert + area.value.slice(caret);
    let at = replaceFrom + item.insert.length;
    // A prefixed name whose prefix the query does not declare: declare it.
    if (item.declare && !new RegExp("PREFIX\\s+" + item.declare.prefix + ":", "i").test(text)) {
      const line = "PREFIX " + item.declare.prefix + ": <" + item.declare.namespace + ">\n";
      text = line + text;
      at += line.length;
    }
    area.value = text;
    area.setSelectionRange(at, at);
    area.dispatchEvent(new Event("input"));
    close();
    area.focus();
  }

  async function complete() {
    const before = area.value.slice(0, area.selectionStart);
    const vocab = await loadVocabulary();
    const spaces = namespaces(vocab);
    let m = before.match(/PREFIX\s+([\w-]*)$/i);
    if (m) {
      const found = [...spaces].filter(([p]) => p.startsWith(m[1]))
        .map(([p, ns]) => ({ text: p + ": <" + ns + ">", insert: p + ": <" + ns + ">" }));
      return show(found, before.length - m[1].length);
    }
    m = before.match(/(?:^|[\s{}().;,\/|^!])([A-Za-z][\w-]*)?:([\w-]*)$/);
    if (m) {
      const prefix = m[1] || "";
      const ns = spaces.get(prefix);
      if (!ns) return close();
      const found = vocab.terms.filter((t) => t.iri.startsWith(ns) && t.iri.slice(ns.length).startsWith(m[2]))
        .map((t) => ({ text: prefix + ":" + t.iri.slice(ns.length), insert: prefix + ":" + t.iri.slice(ns.length),
          note: t.count == null ? t.kind : t.kind + " · " + t.count.toLocaleString() }));
      return show(found, before.length - prefix.length - 1 - m[2].length);
    }
    m = before.match(/(?:^|[\s{}().;,])([A-Za-z][\w-]{1,})$/);
    if (!m || /^(SELECT|CONSTRUCT|DESCRIBE|ASK|WHERE|PREFIX|BASE|FILTER|OPTIONAL|UNION|MINUS|GRAPH|SERVICE|BIND|VALUES|GROUP|ORDER|HAVING|LIMIT|OFFSET|DISTINCT|REDUCED|FROM|NAMED|NOT|EXISTS|COUNT|SUM|MIN|MAX|AVG|SAMPLE|INSERT|DELETE|DATA|LANG|STR|REGEX|CONTAINS|LCASE|UCASE|BY|AS|ASC|DESC|IN|IF)$/i.test(m[1])) return close();
    const word = m[1];
    const from = before.length - word.length;
    const found = [...spaces].filter(([p]) => p.startsWith(word) && p !== word)
      .map(([p, ns]) => ({ text: p + ":", insert: p + ":", note: ns, declare: { prefix: p, namespace: ns } }));
    if (word.length >= 3) {
      const ticket = ++asked;
      try {
        const response = await fetch("/search/suggest?q=" + encodeURIComponent(word) + "&limit=10");
        if (response.ok && ticket === asked) {
          const data = await response.json();
          for (const s of data.suggestions) found.push({ text: "<" + s.iri + ">", insert: "<" + s.iri + ">", note: s.label });
        }
      } catch (e) { /* no label completions */ }
      if (ticket !== asked) return;
    }
    show(found, from);
  }

  let timer = 0;
  area.addEventListener("input", (e) => {
    if (!e.isTrusted) return;
    clearTimeout(timer);
    timer = setTimeout(complete, 150);
  });
  area.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === " ") { e.preventDefault(); complete(); return; }
    if (list.hidden) return;
    if (e.key === "ArrowDown") { e.preventDefault(); mark((active + 1) % items.length); }
    else if (e.key === "ArrowUp") { e.preventDefault(); mark((active - 1 + items.length) % items.length); }
    else if ((e.key === "Enter" || e.key === "Tab") && !e.ctrlKey && !e.metaKey) { e.preventDefault(); accept(active); }
    else if (e.key === "Escape") { close(); }
  });
  area.addEventListener("blur", () => setTimeout(close, 150));
})();
