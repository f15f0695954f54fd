// DIR/report.html of `virtio-rt latency --out DIR`: one self-contained page (no scripts, no
// fetches) with each latency's histogram and CDF, a timeline of one busy interval, the run's
// parameters and trace digest. Plots are vega-lite specs rendered to SVG here, without a browser.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { LATENCIES, type LatencyName } from "../analysis/figures.js";
import type { LatencyReport } from "../analysis/latency.js";
import type { Timeline } from "./timeline.js";

async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const us = (ns: number) => ns / 1000;

/** Histogram (power-of-two buckets, upper bounds in µs) beside the CDF read from the same buckets. */
function distributionSpec(name: LatencyName, r: LatencyReport): TopLevelSpec {
  const s = r.latencies[name];
  let cum = 0;
  const rows = s.histogram.map(([bound, count]) => {
    cum += count;
    return { bucket: `< ${us(bound)} µs`, bound: us(bound), count, cdf: cum / s.count };
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `${LATENCIES[name]} (${s.count} samples, max ${us(s.max)} µs)`,
    data: { values: rows },
    hconcat: [
      {
        width: 320,
        height: 140,
        mark: { type: "bar", color: "#4c78a8" },
        encoding: {
          x: { field: "bucket", type: "ordinal", sort: { field: "bound" }, title: "bucket (upper bound)" },
          y: { field: "count", type: "quantitative", title: "samples" },
        },
      },
      {
        width: 320,
        height: 140,
        mark: { type: "line", interpolate: "step-after", point: true, color: "#f58518" },
        encoding: {
          x: { field: "bound", type: "quantitative", scale: { type: "log" }, title: "latency (µs, bucket upper bound)" },
          y: { field: "cdf", type: "quantitative", scale: { domain: [0, 1] }, title: "fraction at or below" },
        },
      },
    ],
  };
}

function timelineSpec(t: Timeline): TopLevelSpec {
  const rows = ["vCPU", "vCPU (nested)", "masked", "rx frames", "tx frames", "irq raise"];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Timeline ${us(t.from)} to ${us(t.to)} µs: ${t.why}`,
    width: 900,
    height: 200,
    layer: [
      {
        data: { values: t.spans.map((s) => ({ row: s.row, what: s.row.startsWith("vCPU") ? s.label : s.row, start: us(s.start), end: us(Math.max(s.end, s.start + 1)) })) },
        mark: { type: "bar", opacity: 0.6 },
        encoding: {
          y: { field: "row", type: "nominal", sort: rows, title: null },
          x: { field: "start", type: "quantitative", scale: { domain: [us(t.from), us(t.to)] }, title: "virtual time (µs)" },
          x2: { field: "end" },
          color: { field: "what", type: "nominal", title: "entry / kind" },
        },
      },
      {
        data: { values: t.raises.map((r) => ({ row: "irq raise", at: us(r) })) },
        mark: { type: "tick", color: "#e45756", thickness: 2 },
        encoding: { y: { field: "row", type: "nominal", sort: rows }, x: { field: "at", type: "quantitative" } },
      },
    ],
  };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export async function renderReportHtml(r: LatencyReport, t: Timeline): Promise<string> {
  const names = Object.keys(LATENCIES) as LatencyName[];
  const plots: string[] = [];
  for (const n of names) {
    if (r.latencies[n].count === 0) {
      plots.push(`<section><h3>${esc(LATENCIES[n])}</h3><p>No samples in this run.</p></section>`);
      continue;
    }
    plots.push(`<section class="plot" data-figure="${n}">${await toSvg(distributionSpec(n, r))}</section>`);
  }
  const timeline = t.spans.length > 0 ? `<section class="plot" data-figure="timeline">${await toSvg(timelineSpec(t))}</section>` : "<p>No guest activity to draw.</p>";
  const args = Object.entries(r.args).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join("");
  const figs = names
    .map((n) => {
      const s = r.latencies[n];
      return `<tr><th>${esc(LATENCIES[n])}</th>${[s.count, ...[s.min, s.p50, s.p90, s.p99, s.p99_9, s.max].map((x) => us(x).toFixed(3))].map((c) => `<td>${c}</td>`).join("")}</tr>`;
    })
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>virtio-rt latency report</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}th,td{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}th{text-align:left}section{margin:1.5em 0}code{font-size:12px}</style>
</head><body>
<h1>virtio-rt latency report</h1>
<p>All times are virtual (the simulation's clock), the same on any machine for the same arguments.
Trace: ${r.trace.events} events, sha256 <code>${r.trace.sha256}</code>${r.driverDead ? `; <strong>driver stopped: ${esc(r.driverDead)}</strong>` : ""}.</p>
<h2>Parameters</h2><table>${args}</table>
<h2>Latencies (µs)</h2>
<table><tr><th></th><th>count</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>${figs}</table>
<h2>Distributions</h2>
<p>Histograms in power-of-two buckets; the CDF is read from the same buckets (exact min and max are in the table).</p>
${plots.join("\n")}
<h2>One busy interval</h2>
${timeline}
</body></html>
`;
}
