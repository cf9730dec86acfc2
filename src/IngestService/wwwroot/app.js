// The analyst viewer: reads the service's own read API and plots every numeric event field over time.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { sensor: "", day: "", to: "", tz: "" };

function headers(accept) {
  const h = { Accept: accept };
  const token = sessionStorage.getItem("readToken");
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

// Problem details carry a detail written for people: show it as it is.
async function failure(response) {
  if (response.status === 401 || response.status === 403) {
    return "The service needs a read token (scope read): open \"Access token\" above and paste one.";
  }
  try {
    const problem = await response.json();
    return problem.detail || problem.title || `The service answered ${response.status}.`;
  } catch {
    return `The service answered ${response.status}.`;
  }
}

function setStatus(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

function nextDay(day) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

// A single day honours the zone on the server; a range is read in UTC days, and the chart shows the zone.
function dataUrl() {
  const sensor = encodeURIComponent(state.sensor);
  if (state.to) {
    return `/v1/sensors/${sensor}/events?from=${state.day}T00:00:00Z&to=${nextDay(state.to)}T00:00:00Z`;
  }
  const tz = state.tz ? `?tz=${encodeURIComponent(state.tz)}` : "";
  return `/v1/sensors/${sensor}/days/${state.day}${tz}`;
}

function numericSeries(events) {
  const fields = new Map();
  events.forEach((e, i) => {
    for (const [name, value] of Object.entries(e.event || {})) {
      if (name === "seq") continue;
      if (typeof value === "number" && Number.isFinite(value)) {
        if (!fields.has(name)) fields.set(name, new Array(events.length).fill(null));
        fields.get(name)[i] = value;
      }
    }
  });
  return fields;
}

function draw(events) {
  const charts = $("charts");
  charts.replaceChildren();
  const xs = events.map((e) => Date.parse(e.ts) / 1000);
  const fields = numericSeries(events);
  if (fields.size === 0) {
    setStatus(`${events.length} events, but none has a numeric field to plot. Download them below.`);
    return;
  }
  const zone = state.tz || "UTC";
  const local = (ts) => uPlot.tzDate(new Date(ts * 1000), zone);
  // 24-hour clock, and the date as well for a range.
  const manyDays = Boolean(state.to) || xs[xs.length - 1] - xs[0] > 86400;
  const tick = uPlot.fmtDate(manyDays ? "{MM}-{DD} {HH}:{mm}" : "{HH}:{mm}");
  const full = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}");
  const width = Math.max(320, charts.clientWidth - 20);
  for (const [name, ys] of fields) {
    const box = document.createElement("section");
    box.className = "chart";
    const title = document.createElement("h2");
    title.textContent = name;
    box.append(title);
    charts.append(box);
    new uPlot({
      width,
      height: 220,
      tzDate: local,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      series: [{ label: `time (${zone})`, value: (u, v) => (v == null ? "–" : full(local(v))) }, { label: name, stroke: "#2f6db5", width: 1.5, points: { show: events.length < 200 } }],
      axes: [{ values: (u, splits) => splits.map((v) => tick(local(v))) }, { size: 60 }],
    }, [xs, ys], box);
  }
  const what = state.to ? `${state.day} to ${state.to} (UTC days)` : `${state.day} (${zone})`;
  setStatus(`${events.length} events of ${state.sensor}, ${what}. Drag across a chart to zoom, double-click to reset.`);
}

async function show() {
  if (!state.sensor || !state.day) {
    setStatus("Pick a sensor and a day, then Show.");
    return;
  }
  const link = new URLSearchParams({ sensor: state.sensor });
  if (state.to) { link.set("from", state.day); link.set("to", state.to); } else { link.set("day", state.day); }
  if (state.tz) link.set("tz", state.tz);
  history.replaceState(null, "", "/?" + link.toString());

  $("charts").replaceChildren();
  $("downloads").hidden = true;
  setStatus("Loading…");
  let response;
  try {
    response = await fetch(dataUrl(), { headers: headers("application/x-ndjson") });
  } catch {
    setStatus("The service could not be reached. Check that it is running, then Show again.", true);
    return;
  }
  if (response.status === 404) {
    // The service's detail names the day and zone and says when events show up.
    setStatus(await failure(response));
    return;
  }
  if (!response.ok) {
    setStatus(await failure(response), true);
    return;
  }
  const text = await response.text();
  const events = text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
  if (events.length === 0) {
    setStatus(`No events for ${state.sensor} between ${state.day} and ${state.to}.`);
    return;
  }
  draw(events);
  $("downloads").hidden = false;
}

async function download(accept, ext) {
  const response = await fetch(dataUrl(), { headers: headers(accept) });
  if (!response.ok) {
    setStatus(await failure(response), true);
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = `${state.sensor}_${state.day}${state.to ? "_" + state.to : ""}.${ext}`;
  a.click();
  URL.revokeObjectURL(url);
}

async function loadSensors() {
  try {
    const response = await fetch("/v1/sensors?limit=1000", { headers: headers("application/json") });
    if (!response.ok) return;
    const page = await response.json();
    $("sensors").replaceChildren(...page.sensors.map((s) => Object.assign(document.createElement("option"), { value: s })));
  } catch {
    // The list only helps typing; show() reports an unreachable service.
  }
}

function init() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("zones").replaceChildren(...zones.map((z) => Object.assign(document.createElement("option"), { value: z })));
  $("token").value = sessionStorage.getItem("readToken") || "";
  $("save-token").addEventListener("click", () => {
    sessionStorage.setItem("readToken", $("token").value.trim());
    loadSensors();
    show();
  });
  for (const button of document.querySelectorAll("#downloads button")) {
    button.addEventListener("click", () => download(button.dataset.format, button.dataset.ext));
  }
  $("pick").addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(state, { sensor: $("sensor").value.trim(), day: $("day").value, to: $("to").value, tz: $("tz").value.trim() });
    show();
  });

  const params = new URLSearchParams(location.search);
  Object.assign(state, {
    sensor: params.get("sensor") || "",
    day: (params.get("day") || params.get("from") || "").slice(0, 10),
    to: params.get("day") ? "" : (params.get("to") || "").slice(0, 10),
    tz: params.get("tz") || "",
  });
  $("sensor").value = state.sensor;
  $("day").value = state.day;
  $("to").value = state.to;
  $("tz").value = state.tz;
  loadSensors();
  show();
}

init();
