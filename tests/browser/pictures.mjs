// The server's pictures in headless Chromium: no two labels' boxes intersect,
// as the browser lays the text out. Usage: node tests/browser/pictures.mjs BASE_URL PAGE...
// Each PAGE is a path; every picture on it is checked (timeline, neighbourhood,
// map). Prints one line per page and exits non-zero on the first overlap.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const [base, ...paths] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
try {
  for (const path of paths) {
    await page.goto(base + path);
    const pictures = await page.$$eval("svg.timeline, svg.neighbourhood, svg.map", (svgs) => svgs.map((svg) => ({
      kind: svg.getAttribute("class"),
      boxes: [...svg.querySelectorAll("text")].map((t) => {
        const b = t.getBoundingClientRect();
        return [b.left, b.top, b.right, b.bottom, t.textContent];
      }),
    })));
    assert.ok(pictures.length > 0, `${path}: no picture`);
    for (const { kind, boxes } of pictures) {
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        // Rounding: touching edges do not count.
        const clear = a[2] <= b[0] + 0.5 || b[2] <= a[0] + 0.5 || a[3] <= b[1] + 0.5 || b[3] <= a[1] + 0.5;
        assert.ok(clear, `${path}, ${kind}: "${a[4]}" overlaps "${b[4]}"`);
      }
      console.log(`ok - ${path}: ${kind}, ${boxes.length} labels, none overlapping`);
    }
  }
} finally {
  await browser.close();
}
