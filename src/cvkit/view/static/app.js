// cvkit view: the page. Plain JavaScript, no build step, no network beyond the server it came from.
// Served by `cvkit view` it asks the JSON API (api/meta, api/samples, api/stats, api/sample/N); exported with
// --export it reads window.CVKIT_STATIC (data/data.js) and filters the exported samples itself.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const LIST_KEYS = ["has", "lacks", "split", "label", "size", "problem", "attr", "true", "pred", "misclassified"];
const NUMBER_KEYS = ["min_objects", "max_objects", "min_width", "max_width", "min_height", "max_height"];
const ORDER_KEYS = ["sort", "order"];  // a trained run's order (loss or confidence): kept in the URL, no filter
const MAX_CONFUSION_CLASSES = 40;  // as the server's api.MAX_CONFUSION_CLASSES
const STATIC = window.CVKIT_STATIC || null;
const state = { meta: null, offset: 0, total: 0, generation: 0 };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

// --- the filter lives in the URL's query string -------------------------------------------
function currentQuery() { return new URLSearchParams(window.location.search); }

function filterQuery(params) {
  const out = new URLSearchParams();
  for (const key of LIST_KEYS.concat(NUMBER_KEYS)) for (const value of params.getAll(key)) if (value !== "") out.append(key, value);
  if (params.get("sort")) {
    out.set("sort", params.get("sort"));
    if (params.get("order") && params.get("order") !== "desc") out.set("order", params.get("order"));
  }
  return out;
}

function setQuery(params, replace) {
  const text = params.toString();
  const url = window.location.pathname + (text ? "?" + text : "");
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
}

function formToQuery() {
  const form = $("filter-form");
  const params = new URLSearchParams();
  for (const key of LIST_KEYS) {
    for (const input of form.querySelectorAll(`[name="${key}"]`)) {
      if (input.tagName === "SELECT") for (const option of input.selectedOptions) params.append(key, option.value);
      else if (input.type === "checkbox") { if (input.checked) params.append(key, input.value); }
      else for (const part of input.value.split(",")) if (part.trim()) params.append(key, part.trim());
    }
  }
  for (const key of NUMBER_KEYS.concat(ORDER_KEYS)) { const value = form.elements[key].value; if (value !== "") params.set(key, value); }
  return params;
}

function queryToForm(params) {
  const form = $("filter-form");
  for (const key of LIST_KEYS) {
    const values = params.getAll(key);
    for (const input of form.querySelectorAll(`[name="${key}"]`)) {
      if (input.tagName === "SELECT") for (const option of input.options) option.selected = values.includes(option.value);
      else if (input.type === "checkbox") input.checked = values.includes(input.value);
      else input.value = values.join(", ");
    }
  }
  for (const key of NUMBER_KEYS) form.elements[key].value = params.get(key) || "";
  form.elements.sort.value = params.get("sort") || "";
  form.elements.order.value = params.get("order") || "desc";
}

// --- data: the server's API, or the exported files ----------------------------------------
async function getJSON(path) {
  const response = await fetch(path);
  const doc = await response.json();
  if (!response.ok) throw new Error(doc.error || response.statusText);
  return doc;
}

function staticMatches(sample, params) {
  const classes = new Set(sample.objects.map((o) => o.label).concat(sample.labels));
  const any = (key, test) => { const values = params.getAll(key); return values.length === 0 || values.some(test); };
  const sizeOf = (o) => (o.bbox ? (o.bbox[2] * o.bbox[3] < 1024 ? "small" : o.bbox[2] * o.bbox[3] < 9216 ? "medium" : "large") : null);
  const has = params.getAll("has");
  const sized = params.getAll("size");
  if (sized.length && !sample.objects.some((o) => sized.includes(sizeOf(o)) && (!has.length || has.includes(o.label)))) return false;
  if (!sized.length && has.length && !has.some((c) => classes.has(c))) return false;
  if (params.getAll("lacks").some((c) => classes.has(c))) return false;
  if (!any("split", (s) => (sample.split || "-") === s)) return false;
  if (!any("label", (l) => sample.labels.includes(l))) return false;
  const checks = (sample.problems || []).map((p) => p.check);
  if (!any("problem", (p) => (p === "any" ? checks.length > 0 : checks.includes(p)))) return false;
  const run = sample.run;
  if (!any("true", (c) => run && run.true === c)) return false;
  if (!any("pred", (c) => run && run.pred === c)) return false;
  if (!any("misclassified", (v) => run && run.correct !== null && (v === "true" || v === "1") === !run.correct)) return false;
  const bounds = { min_objects: [sample.objects.length, 1], max_objects: [sample.objects.length, -1], min_width: [sample.width, 1],
    max_width: [sample.width, -1], min_height: [sample.height, 1], max_height: [sample.height, -1] };
  for (const [key, [value, sign]] of Object.entries(bounds)) {
    const bound = params.get(key);
    if (bound !== null && (value === null || value === undefined || sign * (value - Number(bound)) < 0)) return false;
  }
  return true;
}

async function loadSamples(params, offset) {
  const limit = state.meta.page_size;
  if (!STATIC) return getJSON(`api/samples?${filterQuery(params)}&offset=${offset}&limit=${limit}`);
  const chosen = staticOrder(STATIC.samples.filter((s) => staticMatches(s, params)), params);
  return { total: chosen.length, offset, limit, samples: chosen.slice(offset, offset + limit), chosen };
}

function staticOrder(samples, params) {
  // the server's ViewIndex.ordered: by the run's loss or confidence, images without one last, ties in dataset order
  const sort = params.get("sort");
  if (!sort) return samples;
  const sign = params.get("order") === "asc" ? 1 : -1;
  const value = (s) => (s.run && s.run[sort] !== null && s.run[sort] !== undefined ? s.run[sort] : null);
  return samples.slice().sort((a, b) => {
    const va = value(a), vb = value(b);
    if (va === null || vb === null) return (va === null) - (vb === null) || a.index - b.index;
    return sign * (va - vb) || a.index - b.index;
  });
}

async function loadConfusion(params) {
  if (!STATIC) return getJSON(`api/confusion?${filterQuery(params)}`);
  // the exported samples the filter keeps without its cell (true, pred), counted as the server counts them
  const cellless = new URLSearchParams(params); cellless.delete("true"); cellless.delete("pred");
  const names = state.meta.run.classes, position = new Map(names.map((n, i) => [n, i]));
  const counts = names.map(() => names.map(() => 0));
  for (const s of STATIC.samples) {
    if (!s.run || s.run.true === null || !staticMatches(s, cellless)) continue;
    counts[position.get(s.run.true)][position.get(s.run.pred)] += 1;
  }
  const row = (i) => counts[i].reduce((a, b) => a + b, 0), column = (i) => counts.reduce((a, r) => a + r[i], 0);
  const present = names.map((_, i) => i).filter((i) => row(i) + column(i) > 0);
  const mistakes = (i) => row(i) + column(i) - 2 * counts[i][i];
  const shown = present.slice().sort((a, b) => mistakes(b) - mistakes(a) || row(b) - row(a) || a - b)
    .slice(0, MAX_CONFUSION_CLASSES).sort((a, b) => a - b);
  const total = present.reduce((a, i) => a + row(i), 0);
  return { classes: shown.map((i) => names[i]), matrix: shown.map((i) => shown.map((j) => counts[i][j])), images: total,
    correct: present.reduce((a, i) => a + counts[i][i], 0), classes_left_out: present.length - shown.length,
    selected: { true: params.getAll("true"), pred: params.getAll("pred") } };
}

function renderConfusion(doc) {
  // rows: true class, columns: predicted; a cell filters the grid to its images (true=, pred= in the URL)
  const section = el("section", { id: "confusion" });
  section.appendChild(el("h3", {}, `Confusion matrix (${doc.correct} of ${doc.images} right; click a cell)`));
  if (doc.classes_left_out) section.appendChild(el("p", {}, `${doc.classes_left_out} classes with the fewest mistakes left out`));
  const table = el("table", { class: "confusion" });
  const head = el("tr"); head.appendChild(el("th", {}, "true \\ pred"));
  for (const name of doc.classes) head.appendChild(el("th", { title: name }, name));
  const thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
  const body = el("tbody");
  doc.matrix.forEach((row, i) => {
    const tr = el("tr"); tr.appendChild(el("th", {}, doc.classes[i]));
    row.forEach((count, j) => {
      const truth = doc.classes[i], predicted = doc.classes[j];
      const selected = doc.selected.true.includes(truth) && doc.selected.pred.includes(predicted);
      const cell = el("td", { "data-true": truth, "data-pred": predicted, title: `true ${truth}, predicted ${predicted}: ${count}`,
        class: (count ? "count" : "") + (i === j ? " diagonal" : "") + (selected ? " selected" : "") }, count ? String(count) : "");
      if (count) cell.addEventListener("click", () => {
        const params = currentQuery(); params.set("true", truth); params.set("pred", predicted); applyQuery(params);
      });
      tr.appendChild(cell);
    });
    body.appendChild(tr);
  });
  table.appendChild(body);
  section.appendChild(table);
  return section;
}

async function loadStats(params, page) {
  if (!STATIC) return getJSON(`api/stats?${filterQuery(params)}`);
  const rows = new Map(state.meta.classes.map((c) => [c.name, { name: c.name, images: 0, objects: 0 }]));
  for (const sample of page.chosen) {
    for (const o of sample.objects) if (rows.has(o.label)) rows.get(o.label).objects += 1;
    for (const name of new Set(sample.objects.map((o) => o.label).concat(sample.labels))) if (rows.has(name)) rows.get(name).images += 1;
  }
  return { images: page.total, classes: Array.from(rows.values()), exported: STATIC.stats, boxes: staticBoxes(page.chosen) };
}

function staticBoxes(samples) {
  // box sizes and the two histograms of the filtered exported samples, on the exported statistics' bin edges
  const whole = STATIC.stats.boxes;
  const binned = (edges) => ({ edges, counts: new Array(edges.length - 1).fill(0) });
  const aspect = binned(whole.aspect_ratio.histogram.edges), relative = binned(whole.relative_size.histogram.edges);
  const add = (histogram, value) => {
    for (let i = 0; i + 1 < histogram.edges.length; i += 1) {
      const upper = histogram.edges[i + 1] === null ? Infinity : histogram.edges[i + 1];
      if (value >= histogram.edges[i] && value < upper) { histogram.counts[i] += 1; return; }
    }
  };
  const sizes = { small: 0, medium: 0, large: 0 };
  for (const sample of samples) for (const o of sample.objects) {
    if (!o.bbox) continue;
    const [, , w, h] = o.bbox, area = w * h;
    sizes[area < 1024 ? "small" : area < 9216 ? "medium" : "large"] += 1;
    if (w > 0 && h > 0) {
      add(aspect, w / h);
      if (sample.width && sample.height) add(relative, Math.sqrt(area / (sample.width * sample.height)));
    }
  }
  return { sizes, aspect_ratio: { histogram: aspect }, relative_size: { histogram: relative } };
}

function imageURL(sample, kind) {
  if (STATIC) return { thumb: `thumbs/${sample.index}.jpg`, image: `images/${sample.index}${sample.image_suffix || ".jpg"}`, mask: `masks/${sample.index}.png` }[kind];
  return { thumb: `thumb/${sample.index}.jpg`, image: `image/${sample.index}`, mask: `mask/${sample.index}.png` }[kind];
}

// --- drawing annotations over an image (SVG in the image's own pixel coordinates) ---------
function colourOf(obj) {
  const cls = state.meta.classes[obj.class];
  return cls ? cls.colour : "#999999";
}

function drawAnnotations(sample, withLabels) {
  const width = sample.width || 1, height = sample.height || 1;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "overlay" });
  if (sample.masks) svg.appendChild(svgEl("image", { href: imageURL(sample, "mask"), x: 0, y: 0, width, height, preserveAspectRatio: "none" }));
  const dot = Math.max(width, height) / 120;
  sample.objects.forEach((obj, k) => {
    const colour = colourOf(obj);
    const group = svgEl("g", { "data-label": obj.label, "data-object": k, stroke: colour, fill: "none" });
    if (obj.polygon) for (const part of obj.polygon) {
      const points = [];
      for (let i = 0; i + 1 < part.length; i += 2) points.push(`${part[i]},${part[i + 1]}`);
      group.appendChild(svgEl("polygon", { points: points.join(" "), fill: colour, "fill-opacity": 0.25, class: "shape" }));
    }
    if (obj.points && obj.shape === "circle" && obj.points.length >= 4) {
      const [cx, cy, px, py] = obj.points;
      group.appendChild(svgEl("circle", { cx, cy, r: Math.hypot(px - cx, py - cy), class: "shape" }));
    } else if (obj.points && (obj.shape === "line" || obj.shape === "linestrip")) {
      const points = [];
      for (let i = 0; i + 1 < obj.points.length; i += 2) points.push(`${obj.points[i]},${obj.points[i + 1]}`);
      group.appendChild(svgEl("polyline", { points: points.join(" "), class: "shape" }));
    } else if (obj.points) {
      for (let i = 0; i + 1 < obj.points.length; i += 2) group.appendChild(svgEl("circle", { cx: obj.points[i], cy: obj.points[i + 1], r: dot, fill: colour }));
    }
    if (obj.keypoints) for (let i = 0; i + 1 < obj.keypoints.length; i += 3) {
      if ((obj.keypoints[i + 2] ?? 2) > 0) group.appendChild(svgEl("circle", { cx: obj.keypoints[i], cy: obj.keypoints[i + 1], r: dot, fill: colour, class: "keypoint" }));
    }
    if (obj.bbox && ["box", "polygon", "mask"].includes(obj.shape)) {
      const [x, y, w, h] = obj.bbox;
      group.appendChild(svgEl("rect", { x, y, width: w, height: h, class: obj.shape === "box" ? "box" : "box derived" }));
    }
    if (withLabels && obj.bbox) {
      const text = svgEl("text", { x: obj.bbox[0], y: obj.bbox[1], fill: colour, stroke: "none", "font-size": Math.max(height / 30, 1), class: "tag" });
      text.textContent = obj.label;
      group.appendChild(text);
    }
    svg.appendChild(group);
  });
  return svg;
}

function figure(sample, kind) {
  const box = el("div", { class: "figure" });
  if (sample.width && sample.height) {
    box.style.aspectRatio = `${sample.width} / ${sample.height}`;
    box.style.setProperty("--ratio", sample.width / sample.height);
  }
  const img = el("img", { src: imageURL(sample, kind), alt: sample.path, loading: "lazy" });
  box.appendChild(img);
  if (!(sample.width && sample.height) && kind === "image") {
    // no declared size: the full image's own size is the annotations' frame
    img.addEventListener("load", () => {
      box.replaceChildren(img, drawAnnotations({ ...sample, width: img.naturalWidth, height: img.naturalHeight }, true));
      box.style.setProperty("--ratio", img.naturalWidth / img.naturalHeight);
    });
    return box;
  }
  box.appendChild(drawAnnotations(sample, kind === "image"));
  return box;
}

// --- the grid, the statistics and the detail view ----------------------------------------
function renderGrid(page) {
  const grid = $("grid");
  grid.replaceChildren();
  for (const sample of page.samples) {
    const card = el("div", { class: "card", "data-index": sample.index, title: sample.path });
    card.appendChild(figure(sample, "thumb"));
    card.appendChild(el("div", { class: "caption" }, `${sample.path.split("/").pop()} · ${sample.objects.length} obj${sample.split ? " · " + sample.split : ""}`));
    if (sample.run) card.appendChild(predictionCaption(sample.run));
    card.addEventListener("click", () => openDetail(sample.index));
    grid.appendChild(card);
  }
  state.total = page.total;
  $("count").textContent = `${page.total.toLocaleString()} of ${state.meta.images.toLocaleString()} images`;
  const last = Math.min(page.offset + page.limit, page.total);
  $("page").textContent = page.total ? `${page.offset + 1}–${last}` : "no images match";
  $("prev").disabled = page.offset === 0;
  $("next").disabled = last >= page.total;
}

function predictionCaption(run) {
  const mark = run.correct === null ? "" : run.correct ? " ✓" : ` ✗ true ${run.true}`;
  const loss = run.loss === null ? "" : ` · loss ${run.loss_bound ? "≥ " : ""}${run.loss.toFixed(3)}`;
  return el("div", { class: "caption pred" + (run.correct === null ? "" : run.correct ? " right" : " wrong"), "data-pred": run.pred,
    "data-loss": run.loss === null ? "" : run.loss }, `pred ${run.pred} ${run.confidence.toFixed(3)}${mark}${loss}`);
}

function bars(title, rows, onClick) {
  const section = el("section", { class: "chart" });
  section.appendChild(el("h3", {}, title));
  const most = Math.max(1, ...rows.map((r) => r.value));
  for (const row of rows) {
    const line = el("div", { class: "bar-row" + (onClick ? " clickable" : ""), "data-name": row.name, title: `${row.name}: ${row.value}` });
    line.appendChild(el("span", { class: "bar-name" }, row.name));
    const bar = el("span", { class: "bar" });
    bar.style.width = `${(100 * row.value) / most}%`;
    if (row.colour) bar.style.background = row.colour;
    line.appendChild(bar);
    line.appendChild(el("span", { class: "bar-value" }, String(row.value)));
    if (onClick) line.addEventListener("click", () => onClick(row.name));
    section.appendChild(line);
  }
  return section;
}

function histogramRows(histogram, digits) {
  const label = (v) => (v === null ? "∞" : Number(v).toFixed(digits));
  return histogram.counts.map((value, i) => ({ name: `${label(histogram.edges[i])}–${label(histogram.edges[i + 1])}`, value }));
}

function renderStats(doc) {
  const panel = $("stats");
  panel.replaceChildren(el("h2", {}, "Statistics of this view"));
  const colours = new Map(state.meta.classes.map((c) => [c.name, c.colour]));
  const classRows = doc.classes.filter((r) => r.objects || r.images).sort((a, b) => b.objects - a.objects || b.images - a.images)
    .map((r) => ({ name: r.name, value: r.objects || r.images, colour: colours.get(r.name) }));
  panel.appendChild(bars("Objects per class (click to filter)", classRows, (name) => {
    const params = currentQuery(); params.delete("has"); params.append("has", name); applyQuery(params);
  }));
  const imbalance = doc.imbalance || (doc.exported && doc.exported.imbalance);
  if (imbalance) {
    const table = el("table", { class: "metrics" });
    const rows = [["imbalance ratio", imbalance.imbalance_ratio], ["Gini", imbalance.gini], ["entropy (normalised)", imbalance.normalized_entropy],
      ["effective classes", imbalance.effective_classes], ["empty classes", imbalance.empty_classes]];
    for (const [name, value] of rows) if (value !== undefined && value !== null) {
      const tr = el("tr"); tr.appendChild(el("th", {}, name)); tr.appendChild(el("td", {}, Number(value).toFixed(3))); table.appendChild(tr);
    }
    const groups = imbalance.frequency_groups && imbalance.frequency_groups.sizes;
    if (groups) { const tr = el("tr"); tr.appendChild(el("th", {}, "LVIS groups")); tr.appendChild(el("td", {}, Object.entries(groups).map(([g, n]) => `${g} ${n}`).join(", "))); table.appendChild(tr); }
    panel.appendChild(el("h3", {}, doc.imbalance ? "Class balance" : "Class balance (whole export)"));
    panel.appendChild(table);
  }
  if (doc.boxes) {
    const sizes = doc.boxes.sizes;
    panel.appendChild(bars("Box sizes (COCO area)", ["small", "medium", "large"].map((name) => ({ name, value: sizes[name] })), (name) => {
      const params = currentQuery(); params.delete("size"); params.append("size", name); applyQuery(params);
    }));
    panel.appendChild(bars("Aspect ratio (w/h)", histogramRows(doc.boxes.aspect_ratio.histogram, 2)));
    panel.appendChild(bars("Box side / image side", histogramRows(doc.boxes.relative_size.histogram, 2)));
  }
}

function definition(list, name, value) {
  list.appendChild(el("dt", {}, name));
  list.appendChild(el("dd", {}, typeof value === "string" ? value : JSON.stringify(value)));
}

async function openDetail(index) {
  const sample = STATIC ? STATIC.samples.find((s) => s.index === index) : await getJSON(`api/sample/${index}`);
  if (!sample) return;
  const params = currentQuery(); params.set("show", index); setQuery(params, true);
  $("detail-figure").replaceChildren(figure(sample, "image"));
  const info = $("detail-info");
  info.replaceChildren(el("h2", {}, sample.path));
  const facts = el("dl");
  definition(facts, "file", sample.file || sample.path);
  definition(facts, "size", `${sample.width ?? "?"} × ${sample.height ?? "?"}`);
  definition(facts, "split", sample.split || "-");
  if (sample.id !== undefined && sample.id !== null) definition(facts, "id", String(sample.id));
  if (sample.run) {
    definition(facts, "predicted", `${sample.run.pred} (confidence ${sample.run.confidence.toFixed(4)})`);
    definition(facts, "true class", sample.run.true === null ? "- (no single image label)" : sample.run.true);
    if (sample.run.loss !== null) definition(facts, "loss", `${sample.run.loss_bound ? "at least " : ""}${sample.run.loss.toFixed(4)}`);
  }
  if (sample.labels.length) definition(facts, "image labels", sample.labels.join(", "));
  for (const [key, value] of Object.entries(sample.attributes || {})) definition(facts, key, value);
  info.appendChild(facts);
  const list = el("ol", { class: "objects" });
  for (const obj of sample.objects) {
    const item = el("li");
    const swatch = el("span", { class: "swatch" }); swatch.style.background = colourOf(obj);
    item.appendChild(swatch);
    const box = obj.bbox ? ` [${obj.bbox.map((v) => Math.round(v * 10) / 10).join(", ")}]` : "";
    item.appendChild(el("span", {}, `${obj.label} · ${obj.shape}${box}${obj.iscrowd ? " · crowd" : ""}${obj.score !== undefined ? " · score " + obj.score : ""}`));
    if (obj.attributes) item.appendChild(el("div", { class: "attrs" }, JSON.stringify(obj.attributes)));
    list.appendChild(item);
  }
  info.appendChild(el("h3", {}, `${sample.objects.length} annotation(s)`));
  info.appendChild(list);
  if (sample.problems && sample.problems.length) {
    info.appendChild(el("h3", {}, "Validation problems"));
    const problems = el("ul", { class: "problems" });
    for (const p of sample.problems) problems.appendChild(el("li", { class: p.severity }, `${p.check}: ${p.message}`));
    info.appendChild(problems);
  }
  if (!STATIC && state.meta.presets.length) $("detail-figure").appendChild(augmentSection(sample.index));
  $("detail").hidden = false;
}

function augmentSection(index) {
  // seeded variants of this image with their annotations, drawn by `cvkit augment --preview`'s code on the server
  const section = el("section", { class: "augment" });
  section.appendChild(el("h3", {}, "Augmentation preview"));
  const preset = el("select", { id: "aug-preset" });
  for (const name of state.meta.presets) preset.appendChild(el("option", { value: name }, name));
  const seed = el("input", { id: "aug-seed", type: "number", min: 0, value: 0, title: "seed" });
  const button = el("button", { id: "aug-run", type: "button" }, "Preview");
  const picture = el("img", { id: "aug-image", alt: "augmented variants" });
  picture.hidden = true;
  button.addEventListener("click", () => {
    picture.hidden = false;
    picture.src = `augment/${index}.png?preset=${encodeURIComponent(preset.value)}&seed=${Number(seed.value) || 0}&k=4`;
  });
  for (const node of [preset, seed, button]) section.appendChild(node);
  section.appendChild(picture);
  return section;
}

function closeDetail() {
  $("detail").hidden = true;
  const params = currentQuery(); params.delete("show"); setQuery(params, true);
}

// --- wiring ------------------------------------------------------------------------------
async function refresh() {
  const params = currentQuery();
  queryToForm(params);
  state.offset = Math.max(0, Number(params.get("offset") || 0));
  $("error").textContent = "";
  const generation = ++state.generation;  // a newer refresh (a click while this one waits) wins: stale answers drop
  const current = () => generation === state.generation;
  try {
    const page = await loadSamples(params, state.offset);
    if (!current()) return;
    renderGrid(page);
    const stats = await loadStats(params, page);
    const confusion = state.meta.run ? await loadConfusion(params) : null;
    if (!current()) return;
    renderStats(stats);
    if (confusion) $("stats").prepend(renderConfusion(confusion));
    if (params.get("show") !== null) await openDetail(Number(params.get("show")));
  } catch (error) {
    if (current()) $("error").textContent = String(error.message || error);
  }
}

function applyQuery(params) {
  params.delete("offset"); params.delete("show");
  setQuery(filterQuery(params), false);
  refresh();
}

function fillSelect(id, values) {
  const select = $(id);
  for (const value of values) select.appendChild(el("option", { value }, value));
}

async function start() {
  state.meta = STATIC ? STATIC.meta : await getJSON("api/meta");
  $("source").textContent = `${state.meta.source} (${state.meta.format || "?"})`;
  const names = state.meta.classes.map((c) => c.name);
  fillSelect("f-has", names); fillSelect("f-lacks", names); fillSelect("f-label", names);
  fillSelect("f-split", state.meta.splits);
  fillSelect("f-problem", ["any"].concat(Object.keys(state.meta.checks)));
  if (state.meta.run) {
    $("run-filters").hidden = false;
    fillSelect("f-true", state.meta.run.classes); fillSelect("f-pred", state.meta.run.classes);
  }
  $("filter-form").addEventListener("submit", (event) => { event.preventDefault(); applyQuery(formToQuery()); });
  $("clear").addEventListener("click", () => applyQuery(new URLSearchParams()));
  const page = (delta) => {
    const params = currentQuery();
    params.set("offset", Math.max(0, state.offset + delta * state.meta.page_size)); params.delete("show");
    setQuery(params, false); refresh();
  };
  $("prev").addEventListener("click", () => page(-1));
  $("next").addEventListener("click", () => page(1));
  $("close").addEventListener("click", closeDetail);
  $("detail").addEventListener("click", (event) => { if (event.target === $("detail")) closeDetail(); });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !$("detail").hidden) closeDetail(); });
  window.addEventListener("popstate", refresh);
  await refresh();
  document.body.dataset.ready = "true";
  if (!STATIC && state.meta.images <= PROBLEM_COUNTS_UP_TO) showProblemCounts();
}

const PROBLEM_COUNTS_UP_TO = 20000;  // larger datasets validate only when a problem filter asks

async function showProblemCounts() {
  // how many images each validation check flags, beside its name in the filter (runs cvkit validate's checks once)
  const counts = (await getJSON("api/problems")).images;
  for (const option of $("f-problem").options) {
    const count = option.value === "any" ? null : counts[option.value] || 0;
    if (count !== null) option.textContent = `${option.value} (${count})`;
    if (count === 0) option.classList.add("none");
  }
  $("f-problem").dataset.counted = "true";
}

start();
