// The preview page: generate form with live progress (Server-Sent Events, polling as a
// fallback), client-side filter, copy buttons and an image viewer. No framework, no
// external assets: the page works without this script, it only adds the live parts.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

const form = $("#generate");
const button = $("#generate-button");
const progress = $("#progress");
const message = $("#message");

function say(text, ok = false) {
  message.textContent = text;
  message.classList.toggle("ok", ok);
  message.hidden = !text;
}

function explain(status, body) {
  const error = (body && body.error) || {};
  const retry = error.details && error.details.retry_after_seconds;
  switch (error.code) {
    case "RATE_LIMITED":
      return `Too many new images from this address; try again in ${retry || "a few"} seconds.`;
    case "SERVICE_UNAVAILABLE":
      return `The server is busy (${error.message}); try again shortly.`;
    case "INVALID_ADDRESS":
      return `That is not a valid address: ${error.message}.`;
    case "NAME_NOT_FOUND":
      return "That ENS name has no address.";
    case "INVALID_SERIES":
      return "That series does not exist.";
    default:
      return error.message ? `Error: ${error.message}` : `The server answered HTTP ${status}.`;
  }
}

function show(snapshot) {
  const percent = Math.max(0, Math.min(100, Number(snapshot.percent) || 0));
  progress.hidden = false;
  $(".fill", progress).style.width = `${percent}%`;
  $(".bar", progress).setAttribute("aria-valuenow", String(Math.round(percent)));
  const queued = snapshot.queuePosition > 0;
  $(".phase", progress).textContent = queued ? `queued #${snapshot.queuePosition}`
    : (snapshot.currentPhase || "starting").replace(/_/g, " ");
  $(".pct", progress).textContent = percent.toFixed(0);
  const eta = Number(snapshot.etaSeconds) || 0;
  $(".eta", progress).textContent = snapshot.done ? "done" : `about ${eta.toFixed(1)} s left`;
}

async function addCard(series, address) {
  const existing = $(`.card[data-series="${series}"][data-address="${address}"]`);
  if (existing) {
    existing.classList.add("new");
    return;
  }
  const response = await fetch(`/preview/card/${series}/${address}`);
  if (!response.ok) return;
  const holder = document.createElement("div");
  holder.innerHTML = (await response.text()).trim();
  const card = holder.firstElementChild;
  card.classList.add("new");
  let group = $(`section.group[data-series="${series}"]`);
  if (!group) {
    group = document.createElement("section");
    group.className = "group";
    group.dataset.series = series;
    group.innerHTML = `<h3 class="series"></h3><div class="grid"></div>`;
    $("h3", group).textContent = series;
    $("#gallery").prepend(group);
  }
  $(".grid", group).prepend(card);
  $("#empty").hidden = true;
  applyFilter();
}

function finish(series, address, snapshot) {
  show(snapshot);
  button.disabled = false;
  if (snapshot.error) {
    say(`The generation failed: ${snapshot.error}`);
    return;
  }
  say(snapshot.cacheHit ? "This image already existed." : "Done: the image is in the gallery.",
      true);
  addCard(series, address);
}

function poll(series, address) {
  const url = `/dalle/${series}/${address}?generate=1`;
  const timer = setInterval(async () => {
    try {
      const response = await fetch(url);
      const body = await response.json();
      if (!body.success) {
        clearInterval(timer);
        button.disabled = false;
        say(explain(response.status, body));
        return;
      }
      show(body.data);
      if (body.data.done) {
        clearInterval(timer);
        finish(series, address, body.data);
      }
    } catch (err) {
      clearInterval(timer);
      button.disabled = false;
      say("Lost contact with the server.");
    }
  }, 700);
}

function follow(series, address) {
  if (!window.EventSource) {
    poll(series, address);
    return;
  }
  const source = new EventSource(`/dalle/${series}/${address}/events`);
  let finished = false;
  source.addEventListener("progress", (event) => {
    const snapshot = JSON.parse(event.data);
    if (!snapshot.series) return;
    show(snapshot);
    if (snapshot.done) {
      finished = true;
      source.close();
      finish(series, address, snapshot);
    }
  });
  source.onerror = () => {
    source.close();
    if (!finished) poll(series, address);  // the stream broke: keep going by polling
  };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const series = $("#series").value;
  const address = $("#address").value.trim();
  say("");
  button.disabled = true;
  try {
    const response = await fetch(`/dalle/${series}/${address}?generate=1`);
    const body = await response.json();
    if (!body.success) {
      button.disabled = false;
      say(explain(response.status, body));
      return;
    }
    const key = body.data.address || address.toLowerCase();
    $("#running").dataset.following = `${series}/${key}`;  // shown by the form's own bar
    show(body.data);
    if (body.data.done) finish(series, key, body.data);
    else follow(series, key);
  } catch (err) {
    button.disabled = false;
    say("Could not reach the server.");
  }
});

function applyFilter() {
  const text = $("#filter").value.trim().toLowerCase();
  const series = $("#filter-series").value;
  for (const group of $$("section.group")) {
    let visible = 0;
    for (const card of $$(".card", group)) {
      const show = (!series || card.dataset.series === series) &&
        (!text || card.dataset.search.includes(text));
      card.hidden = !show;
      if (show) visible += 1;
    }
    group.hidden = visible === 0;
  }
}
$("#filter").addEventListener("input", applyFilter);
$("#filter-series").addEventListener("change", applyFilter);

document.addEventListener("click", async (event) => {
  const copy = event.target.closest(".copy");
  if (copy) {
    try {
      await navigator.clipboard.writeText(copy.dataset.copy);
      copy.textContent = "Copied";
    } catch (err) {
      const range = document.createRange();
      range.selectNodeContents(copy.previousElementSibling);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copy.textContent = "Selected";
    }
    setTimeout(() => { copy.textContent = "Copy"; }, 1500);
    return;
  }
  const thumb = event.target.closest(".thumb");
  if (thumb) openViewer(thumb.closest(".card"));
});

async function openViewer(card) {
  const { series, address, checksum, name } = card.dataset;
  const viewer = $("#viewer");
  $("#viewer-title").textContent = [series, name, checksum].filter(Boolean).join(" · ");
  const full = `/dalle/${series}/${address}`;
  $("#viewer-image").src = full;
  $("#viewer-image").alt = `${series} ${checksum}`;
  $("#viewer-link").href = full;
  for (const dd of $$(".prompts dd", viewer)) dd.textContent = "…";
  viewer.showModal();
  await Promise.all($$(".prompts dd", viewer).map(async (dd) => {
    const response = await fetch(`/files/${series}/${dd.dataset.kind}/${address}.txt`);
    dd.textContent = response.ok ? await response.text() : "(not available)";
  }));
}

// every generation's progress, the page's own and those started elsewhere, on one stream
function runRow(series, address) {
  for (const row of $$("#running .run")) {
    if (row.dataset.series === series && row.dataset.address === address) return row;
  }
  const row = document.createElement("div");
  row.className = "run";
  row.dataset.series = series;
  row.dataset.address = address;
  const code = document.createElement("code");
  code.textContent = address;
  const phase = document.createElement("span");
  phase.className = "run-phase";
  const bar = document.createElement("progress");
  bar.max = 100;
  row.append(`${series} · `, code, " · ", phase, " ", bar);
  $("#running").append(row);
  return row;
}

if (window.EventSource) {
  const live = new EventSource("/preview/events");
  live.addEventListener("progress", (event) => {
    const snapshot = JSON.parse(event.data);
    const { series, address } = snapshot;
    if (!series || !address) return;
    const mine = $("#running").dataset.following === `${series}/${address}`;
    if (snapshot.done) {
      for (const row of $$("#running .run")) {
        if (row.dataset.series === series && row.dataset.address === address) row.remove();
      }
      if (!snapshot.error && !mine) addCard(series, address);
      return;
    }
    if (mine) return;  // the form's own progress bar shows it
    const row = runRow(series, address);
    $("progress", row).value = Number(snapshot.percent) || 0;
    $(".run-phase", row).textContent = (snapshot.currentPhase || "").replace(/_/g, " ");
  });
  live.addEventListener("queue", (event) => {
    const { queued } = JSON.parse(event.data);
    $("#queued").textContent = queued ? `${queued} waiting in the queue` : "";
  });
}
