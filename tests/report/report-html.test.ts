// DIR/report.html: self-contained (no scripts, no fetches), one histogram and CDF per measured
// latency and a timeline, and it renders in headless Chromium (Debian's `chromium`, through
// playwright-core) without console errors; the screenshot goes to the test output folder.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { runLatency } from "../../host/analysis/latency.js";
import { renderReportHtml } from "../../host/report/html.js";
import { collectTimeline } from "../../host/report/timeline.js";
import type { Machine } from "../../host/machine.js";
import { DEFAULT_PROFILE } from "../../host/sim/profile.js";

const OUTPUT = process.env.VIRTIO_RT_TEST_OUTPUT ?? join(tmpdir(), "virtio-rt-test-output");

function chromiumPath(): string | undefined {
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined;
    } catch {
      // not installed under this name
    }
  }
  return undefined;
}
const CHROMIUM = chromiumPath();

// One run for both tests.
let cached: Promise<{ html: string; figures: number }> | undefined;
const report = () => (cached ??= build());

async function build(): Promise<{ html: string; figures: number }> {
  let timeline!: ReturnType<typeof collectTimeline>;
  const { report: r } = await runLatency({
    profile: DEFAULT_PROFILE, workload: "poisson", rate: 100_000, size: "imix", direction: "both", seed: 1,
    durationNs: 1_000_000, mode: "irq", pollPeriodNs: 50_000, meter: true, observe: (m: Machine) => (timeline = collectTimeline(m.trace)),
  });
  const figures = Object.values(r.latencies).filter((s) => s.count > 0).length;
  return { html: await renderReportHtml(r, timeline()), figures };
}

describe("report.html", () => {
  it("is one self-contained page: inline SVG plots, no script, no external reference", async () => {
    const { html, figures } = await report();
    expect(figures).toBe(7);
    expect(html.match(/<section class="plot" data-figure="[a-zA-Z]+">/g)).toHaveLength(figures + 1);
    expect(html.match(/<svg /g)?.length).toBe(figures + 1);
    expect(html).not.toMatch(/<script|<link|<img|src=|@import|url\(/i);
    expect(html).toContain("One busy interval");
    expect(html).toMatch(/sha256 <code>[0-9a-f]{64}<\/code>/);
  });

  it.skipIf(!CHROMIUM)(`renders its plots in headless Chromium without console errors${CHROMIUM ? "" : " (skipped: no chromium on PATH; apt-get install chromium)"}`, async () => {
    const { html, figures } = await report();
    const dir = mkdtempSync(join(tmpdir(), "virtio-rt-report-"));
    writeFileSync(join(dir, "report.html"), html);
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
      page.on("pageerror", (e) => errors.push(e.message));
      const requests: string[] = [];
      page.on("request", (req) => requests.push(req.url()));
      await page.goto(pathToFileURL(join(dir, "report.html")).href);
      // Every plot is drawn: a sized SVG with marks in it.
      const plots = await page.$$eval("section.plot svg", (svgs) => svgs.map((s) => ({ w: s.getBoundingClientRect().width, h: s.getBoundingClientRect().height, marks: s.querySelectorAll("path, rect, line").length })));
      expect(plots).toHaveLength(figures + 1);
      for (const p of plots) {
        expect(p.w).toBeGreaterThan(300);
        expect(p.h).toBeGreaterThan(100);
        expect(p.marks).toBeGreaterThan(5);
      }
      expect(errors).toEqual([]);
      expect(requests).toEqual([pathToFileURL(join(dir, "report.html")).href]);
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, "report.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
