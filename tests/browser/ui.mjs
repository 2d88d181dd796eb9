// End-to-end tests of the web interface in headless Chromium (Debian's package),
// driven by playwright-core. Usage: node tests/browser/ui.mjs BASE_URL SCREENSHOT_DIR
// Prints one line per check and exits non-zero on the first failure.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const [base, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
const problems = [];
page.on("pageerror", (e) => problems.push("page error: " + e.message));
// The editor's syntax-error step makes the server answer 400 on purpose.
page.on("console", (m) => {
  if (m.type() === "error" && !m.text().includes("status of 400")) problems.push("console: " + m.text());
});
let step = 0;
async function shot(name) {
  step += 1;
  await page.screenshot({ path: `${shots}/${String(step).padStart(2, "0")}-${name}.png`, fullPage: true });
}
function ok(message) { console.log("ok - " + message); }

// No two map labels' boxes intersect, as Chromium lays them out.
async function labelsClear(what, least) {
  const boxes = await page.$$eval("svg.map text.map-label, svg.map text.map-legend", (ts) => ts.map((t) => {
    const b = t.getBoundingClientRect();
    return [b.left, b.top, b.right, b.bottom, t.textContent];
  }));
  assert.ok(boxes.length >= least, `${what}: ${boxes.length} labels drawn`);
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, b] = [boxes[i], boxes[j]];
    assert.ok(a[2] <= b[0] || b[2] <= a[0] || a[3] <= b[1] || b[3] <= a[1], `${what}: "${a[4]}" overlaps "${b[4]}"`);
  }
  ok(`${what}: ${boxes.length} map labels, none overlapping`);
}

try {
  // 0. Maps: the home page's (on two days) and a state's, with a legend each.
  await page.goto(base + "/?date=2025-07-01");
  assert.match(await page.locator("svg.map title").first().textContent(), /2025-07-01/);
  const legend = await page.locator("svg.map text.map-legend").allTextContents();
  for (const status of ["decided by the executive", "approved by parliament", "notified"]) {
    assert.ok(legend.some((l) => l.includes(status)), `the legend names "${status}": ${legend}`);
  }
  await labelsClear("home map on 2025-07-01", 8);
  await shot("home-map");
  await page.goto(base + "/page/state/russia");
  await labelsClear("Russia's map", 3);
  await page.goto(base + "/page/state/lithuania");
  await labelsClear("Lithuania's map", 5);
  await shot("state-map");

  // 1. The home page, then a state's page, and back.
  await page.goto(base + "/");
  assert.equal(await page.locator("h1").first().textContent(), "treaty-kg");
  await shot("home");
  ok("home page renders");
  await page.getByRole("link", { name: "Latvia", exact: true }).first().click();
  await page.waitForURL("**/page/state/latvia");
  assert.equal(await page.locator("h1").first().textContent(), "Latvia");
  assert.ok(await page.locator("svg.neighbourhood").isVisible(), "the neighbourhood diagram is shown");
  await shot("state-page");
  ok("followed a link to a state's page");
  await page.goBack();
  await page.waitForURL(base + "/");
  assert.equal(await page.locator("h1").first().textContent(), "treaty-kg");
  ok("came back to the home page");

  // 2. Three clicks from home: which states need parliamentary approval, and where is that said?
  await page.getByRole("link", { name: /parliamentary approval/ }).first().click();
  await page.waitForSelector("table.results tbody tr");
  const rows = await page.locator("table.results tbody tr").allTextContents();
  assert.equal(rows.length, 3);
  for (const state of ["Estonia", "Lithuania", "Poland"]) {
    assert.ok(rows.some((r) => r.includes(state) && r.includes("requires parliamentary approval")), state);
  }
  await shot("parliamentary-approval");
  ok("one click from home answers the parliamentary-approval question with its source sentence");

  // 3. Fill and run a saved query's form.
  await page.goto(base + "/queries/borders");
  await page.selectOption("#param-state", { label: "https://w3id.org/treaty-kg/id/state/estonia" }).catch(async () => {
    await page.fill("#param-state", "https://w3id.org/treaty-kg/id/state/estonia");
  });
  await page.getByRole("button", { name: "Run" }).click();
  await page.waitForSelector("table.results tbody tr");
  const borders = await page.locator("table.results tbody tr").allTextContents();
  assert.equal(borders.length, 2);
  assert.ok(borders.some((r) => r.includes("Latvia")) && borders.some((r) => r.includes("Russia")));
  assert.ok((await page.locator("#curl").inputValue()).startsWith("curl -H 'Accept: text/csv'"));
  await shot("saved-query-form");
  ok("filled and ran a saved query's form");

  // 4. Run a query in the editor with the keyboard shortcut.
  await page.goto(base + "/editor");
  await page.fill("#query", "PREFIX tkg: <https://w3id.org/treaty-kg/ontology#>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nSELECT ?label WHERE { ?s a tkg:SovereignState ; rdfs:label ?label FILTER(LANG(?label) = 'en') } ORDER BY ?label");
  await page.focus("#query");
  await page.keyboard.press("Control+Enter");
  await page.waitForSelector("#results table tbody tr");
  const labels = await page.locator("#results table tbody tr").allTextContents();
  assert.deepEqual(labels, ["Belarus", "Estonia", "Finland", "Latvia", "Lithuania", "Norway", "Poland", "Russia", "Sweden", "Ukraine"]);
  assert.ok(page.url().includes("/editor?query="), "the query is kept in the URL");
  await page.getByRole("button", { name: "label" }).click();
  await page.getByRole("button", { name: "label" }).click();
  assert.equal(await page.locator("#results table tbody tr").first().textContent(), "Ukraine");
  await shot("editor-results");
  ok("ran a query in the editor and sorted its table");

  // 5. A syntax error shows the server's message with its position.
  await page.fill("#query", "SELECT ?x WHERE { ?x ?y }");
  await page.keyboard.press("Control+Enter");
  await page.waitForSelector("#error:not([hidden])");
  const error = await page.locator("#error").textContent();
  assert.match(error, /malformed SPARQL/);
  assert.match(error, /1:\d+/);
  await shot("editor-error");
  ok("a syntax error is shown with its position: " + error.trim().slice(0, 80));

  // 6. The timeline links each event to its page.
  await page.goto(base + "/");
  const events = await page.locator("svg.timeline a").count();
  assert.ok(events >= 5, "timeline events: " + events);
  ok("the timeline shows " + events + " linked events");

  // 7. Two clicks from home to Vaikšnoras' quote: search, then the hit.
  await page.goto(base + "/");
  await page.fill("#site-search", "Vaiksnoras explosives");
  await page.getByRole("button", { name: "Search" }).first().click();
  await page.waitForURL("**/search?q=*");
  await page.waitForSelector("ol.hits li.hit");
  assert.ok((await page.locator("ol.hits li.hit").first().innerHTML()).includes("<b>"), "the snippet is highlighted");
  await shot("search-results");
  await page.getByRole("link", { name: "Raimundas Vaiksnoras on producing explosives at home" }).first().click();
  await page.waitForURL("**/page/quotation/vaiksnoras-explosives-at-home");
  assert.match(await page.locator("main").textContent(), /especially for the production of explosives, at home/);
  await shot("quote-page");
  ok("a search from the home page reaches Vaikšnoras' quote in two clicks");

  // 8. Suggestions as one types, in the box every page carries.
  await page.locator("#site-search").pressSequentially("vaik", { delay: 40 });
  await page.waitForSelector("ul.suggestions li");
  const suggested = await page.locator("ul.suggestions li").allTextContents();
  assert.ok(suggested.some((s) => s.includes("Raimundas Vaikšnoras")), suggested.join(" | "));
  await shot("suggestions");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await page.waitForURL("**/page/person/raimundas-vaiksnoras");
  ok("the search box suggests names as one types, and a suggestion opens its page");

  // 9. The editor completes classes after a prefix, and resources by name.
  await page.goto(base + "/editor");
  await page.fill("#query", "PREFIX tkg: <https://w3id.org/treaty-kg/ontology#>\nSELECT * WHERE {\n  ?s a ");
  await page.focus("#query");
  await page.keyboard.press("End");
  await page.keyboard.type("tkg:Sove", { delay: 40 });
  await page.waitForSelector("#completions li");
  const completions = await page.locator("#completions li").allTextContents();
  assert.ok(completions.some((c) => c.startsWith("tkg:SovereignState")), completions.join(" | "));
  await shot("editor-completions");
  await page.keyboard.press("Enter");
  assert.match(await page.inputValue("#query"), /\?s a tkg:SovereignState/);
  await page.keyboard.type(" . ?p ?q Vaik", { delay: 30 });
  await page.waitForFunction(() => [...document.querySelectorAll("#completions li")].some((li) => li.textContent.includes("raimundas-vaiksnoras")));
  ok("the editor offers completions: classes of the data after a prefix, resources by name");

  // 10. Labels beside IRIs, and a chart of a two-column numeric answer.
  await page.fill("#query", "PREFIX tkg: <https://w3id.org/treaty-kg/ontology#>\nSELECT ?state (COUNT(?border) AS ?borders) WHERE { ?state a tkg:SovereignState ; tkg:borders ?border } GROUP BY ?state ORDER BY DESC(?borders)");
  await page.keyboard.press("Control+Enter");
  await page.waitForSelector("#results table tbody tr");
  await page.waitForSelector("#results .label-beside");
  assert.ok((await page.locator("#results .label-beside").allTextContents()).includes("Latvia"));
  await page.getByRole("button", { name: "Show as chart" }).click();
  await page.waitForSelector("svg.chart rect");
  assert.ok((await page.locator("svg.chart rect").count()) >= 3);
  await shot("editor-chart");
  ok("results show labels beside IRIs, and a bar chart for counts");

  assert.deepEqual(problems, [], "no script errors and no CSP violations");
  ok("no page errors");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error("not ok - " + (e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
