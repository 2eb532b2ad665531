// Cistern's status page: reads /api/stats and redraws. Every number is also kept raw in the
// element's data-value attribute, so tools (and tests) can read exactly what the API said.
"use strict";

const REFRESH_MILLIS = 3000;
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

function bytes(value) {
  let scaled = value;
  let unit = 0;
  while (Math.abs(scaled) >= 1024 && unit < UNITS.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return (unit === 0 ? String(scaled) : scaled.toFixed(1)) + " " + UNITS[unit];
}

function percent(ratio) {
  return (ratio * 100).toFixed(1) + " %";
}

function duration(seconds) {
  if (seconds % 3600 === 0) {
    return seconds / 3600 + " h";
  }
  return seconds % 60 === 0 ? seconds / 60 + " min" : seconds + " s";
}

function show(id, value, format) {
  const element = document.getElementById(id);
  element.dataset.value = String(value);
  element.textContent = format ? format(value) : String(value);
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) {
    td.className = className;
  }
  return td;
}

function rows(id, items, emptyText, render) {
  const body = document.getElementById(id);
  body.replaceChildren();
  if (items.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell(emptyText);
    td.colSpan = 3;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  for (const item of items) {
    const tr = document.createElement("tr");
    render(item).forEach((td) => tr.appendChild(td));
    body.appendChild(tr);
  }
}

function progressCell(written, expected) {
  const td = document.createElement("td");
  const bar = document.createElement("div");
  bar.className = "bar";
  const fill = document.createElement("div");
  fill.className = "fill";
  fill.style.width = expected > 0 ? Math.min(100, (written * 100) / expected).toFixed(1) + "%" : "0";
  bar.appendChild(fill);
  td.appendChild(bar);
  return td;
}

function render(stats) {
  show("stored", stats.storedBytes, bytes);
  show("cap", stats.maxBytes, bytes);
  const usage = stats.maxBytes > 0 ? stats.storedBytes / stats.maxBytes : 0;
  show("usage", usage, percent);
  const usageBar = document.getElementById("usage-bar");
  usageBar.style.width = Math.min(100, usage * 100).toFixed(1) + "%";
  usageBar.classList.toggle("full", usage > 0.95);
  show("entries", stats.entries);
  show("reserved", stats.reservedBytes, bytes);
  show("pinned-bytes", stats.pinnedBytes, bytes);
  show("pinned-blobs", stats.pinnedBlobs);
  show("evicted-bytes", stats.evictedBytes, bytes);
  show("eviction-passes", stats.evictionPasses);
  const traffic = stats.traffic || { hits: 0, misses: 0, bytesFromCache: 0, bytesFromUpstream: 0, hitRatio: 0 };
  show("hit-ratio", traffic.hitRatio, percent);
  show("hits", traffic.hits);
  show("misses", traffic.misses);
  show("bytes-saved", traffic.bytesFromCache, bytes);
  show("bytes-upstream", traffic.bytesFromUpstream, bytes);
  rows("downloads", stats.downloads, "none", (download) => {
    const name = cell(download.digest.substring(0, 19) + "…");
    name.title = download.digest;
    name.dataset.digest = download.digest;
    const size = download.expectedBytes >= 0
      ? bytes(download.writtenBytes) + " / " + bytes(download.expectedBytes)
      : bytes(download.writtenBytes);
    return [name, progressCell(download.writtenBytes, download.expectedBytes), cell(size, "number")];
  });
  rows("rate-limits", stats.rateLimits || [], "no upstream has reported one", (rateLimit) => {
    const name = cell(rateLimit.upstream);
    name.dataset.upstream = rateLimit.upstream;
    const bar = progressCell(rateLimit.remaining, rateLimit.limit);
    bar.firstChild.firstChild.classList.toggle("full", rateLimit.low);
    const left = cell(rateLimit.remaining + " of " + rateLimit.limit
      + (rateLimit.windowSeconds == null ? "" : " per " + duration(rateLimit.windowSeconds))
      + (rateLimit.low ? " · low" : ""), "number");
    left.id = "rate-limit-" + rateLimit.upstream;
    left.dataset.value = String(rateLimit.remaining);
    left.dataset.limit = String(rateLimit.limit);
    left.classList.toggle("low", rateLimit.low);
    return [name, bar, left];
  });
  rows("upstream-urls", stats.upstreamUrls || [], "no upstream configured", (upstream) => {
    const current = cell(upstream.current);
    current.id = "upstream-url-" + upstream.upstream;
    current.title = upstream.urls.join(", then ");
    const position = upstream.urls.indexOf(upstream.current) + 1;
    return [cell(upstream.upstream), current, cell(position + " of " + upstream.urls.length, "number")];
  });
  rows("top-repositories", stats.topRepositories, "nothing cached yet", (repository) => {
    const size = cell(bytes(repository.bytes), "number");
    size.dataset.value = String(repository.bytes);
    return [cell(repository.upstream + "/" + repository.repository), cell(String(repository.blobs), "number"), size];
  });
}

async function refresh() {
  const state = document.getElementById("state");
  try {
    const response = await fetch("/api/stats", { cache: "no-store" });
    if (!response.ok) {
      throw new Error("the API answered " + response.status);
    }
    render(await response.json());
    state.textContent = "up";
    state.classList.remove("error");
    document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  } catch (error) {
    state.textContent = "cannot read /api/stats: " + error.message;
    state.classList.add("error");
  }
}

refresh();
setInterval(refresh, REFRESH_MILLIS);
