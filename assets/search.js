// treaty-kg search box: suggestions as you type, from /search/suggest (names
// starting with what is typed). Arrow keys move, Enter opens, Escape closes;
// without a choice, Enter searches. Plain JavaScript, no dependencies.
(() => {
  "use strict";
  for (const input of document.querySelectorAll("input.search-input")) {
    const list = document.createElement("ul");
    list.className = "suggestions";
    list.id = input.id + "-suggestions";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    input.after(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");
    let active = -1;
    let timer = 0;
    let asked = "";

    function close() {
      list.hidden = true;
      list.textContent = "";
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function mark(i) {
      const items = list.querySelectorAll("li");
      items.forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
      active = i;
      if (items[i]) input.setAttribute("aria-activedescendant", items[i].id);
    }

    async function fetchSuggestions() {
      const q = input.value.trim();
      if (q.length < 2) { close(); return; }
      asked = q;
      let data;
      try {
        const response = await fetch("/search/suggest?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } });
        if (!response.ok) { close(); return; }
        data = await response.json();
      } catch (e) { close(); return; }
      if (asked !== q) return;
      list.textContent = "";
      data.suggestions.forEach((s, i) => {
        const li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        const a = document.createElement("a");
        a.href = s.href;
        a.textContent = s.label;
        li.append(a);
        if (s.type) {
          const t = document.createElement("span");
          t.className = "meta";
          t.textContent = " " + s.type.replace(/^.*[#/]/, "");
          li.append(t);
        }
        list.append(li);
      });
      const any = data.suggestions.length > 0;
      list.hidden = !any;
      input.setAttribute("aria-expanded", String(any));
      active = -1;
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, 120);
    });
    input.addEventListener("keydown", (e) => {
      const items = list.querySelectorAll("li");
      if (e.key === "ArrowDown" && items.length) { e.preventDefault(); mark((active + 1) % items.length); }
      else if (e.key === "ArrowUp" && items.length) { e.preventDefault(); mark((active - 1 + items.length) % items.length); }
      else if (e.key === "Escape") { close(); }
      else if (e.key === "Enter" && active >= 0 && items[active]) {
        e.preventDefault();
        location.href = items[active].querySelector("a").href;
      }
    });
    input.addEventListener("blur", () => setTimeout(close, 200));
  }
})();
