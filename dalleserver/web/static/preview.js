// The gallery page's live parts. Without this script the page still lists, finds and opens
// pictures (links and GET forms) and the form makes pictures on a page of its own; with it:
// several generations at once with live progress (one shared event stream, polling as a
// fallback), results that follow the search as you type, a lightbox viewer, copy buttons.
// No framework and no external assets.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const pageData = JSON.parse($("#gallery-data").textContent);
const PHASES = pageData.phases;
const ACTIONABLE = ["setup", "base_prompts", "enhance_prompt", "image_prep", "image_wait",
                    "image_download", "annotate"];

// -- small helpers ------------------------------------------------------------------------
function announce(text) {
  const region = $("#announcer");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);  // a change, even for the same text
}

function say(text, ok = false) {
  const message = $("#message");
  message.textContent = text;
  message.classList.toggle("ok", ok);
  message.setAttribute("role", ok ? "status" : "alert");
  message.hidden = !text;
}

function shortAddress(address) {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

function revealCopyButtons(root = document) {
  for (const button of $$(".copy[hidden]", root)) button.hidden = false;
}

function keyOf(series, address) {
  return `${series}/${address}`;
}

// -- the generate form --------------------------------------------------------------------
const form = $("#generate");
const addressField = $("#address");
const addressError = $("#address-error");
form.noValidate = true;  // the script checks the field itself, after trimming it

function fieldError(text) {
  addressError.textContent = text;
  addressError.hidden = !text;
  if (text) {
    addressField.setAttribute("aria-invalid", "true");
    addressField.setAttribute("aria-describedby", "address-error address-help");
    addressField.focus();
  } else {
    addressField.removeAttribute("aria-invalid");
    addressField.setAttribute("aria-describedby", "address-help");
  }
}

function checkAddress(value) {
  if (!value) return "Enter an address: 0x followed by 40 hexadecimal digits.";
  const pattern = new RegExp(`^(?:${addressField.pattern})$`, "v");
  if (!pattern.test(value)) {
    return value.startsWith("0x") || value.startsWith("0X")
      ? `That address has ${value.length - 2} digits after 0x; it needs exactly 40 ` +
        "hexadecimal digits (0-9, a-f)."
      : `${addressField.title}.`;
  }
  return "";
}

function explain(status, body) {
  const error = (body && body.error) || {};
  const retry = error.details && error.details.retry_after_seconds;
  switch (error.code) {
    case "RATE_LIMITED":
      return `Too many new images from this address; try again in ${retry || "a few"} seconds.`;
    case "SERVICE_UNAVAILABLE":
      return `The server is busy (${error.message}); try again shortly.`;
    case "INVALID_SERIES":
      return "That series does not exist: choose one from the list.";
    default:
      return error.message ? `Error: ${error.message}` : `The server answered HTTP ${status}.`;
  }
}

function addressProblem(body) {
  const error = (body && body.error) || {};
  if (error.code === "INVALID_ADDRESS") {
    return /checksum/i.test(error.message || "")
      ? "The capital letters do not match this address's checksum. Check the address, " +
        "or enter it all in lower case."
      : `That is not a valid address (${error.message}). Enter 0x followed by 40 ` +
        "hexadecimal digits.";
  }
  if (error.code === "NAME_NOT_FOUND") {
    return "That ENS name has no address. Check its spelling, or enter the address.";
  }
  return "";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const series = $("#series").value;
  const typed = addressField.value.trim();
  addressField.value = typed;
  say("");
  fieldError("");
  const problem = checkAddress(typed);
  if (problem) {
    fieldError(problem);
    return;
  }
  const button = $("#generate-button");
  button.disabled = true;
  try {
    const response = await fetch(`/dalle/${series}/${encodeURIComponent(typed)}?generate=1`,
                                 { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!body.success) {
      const fieldProblem = addressProblem(body);
      if (fieldProblem) fieldError(fieldProblem);
      else say(explain(response.status, body));
      return;
    }
    const snapshot = body.data;
    const address = snapshot.address || typed.toLowerCase();
    const run = runCard(series, address, true);
    if (snapshot.done && snapshot.cacheHit) {
      finishRun(run, { done: true, error: "" }, "This picture already existed.");
    } else {
      updateRun(run, fromSnapshot(snapshot));
      watchOwnRun(run);
    }
  } catch (err) {
    say("Could not reach the server.");
  } finally {
    button.disabled = false;
  }
});

addressField.addEventListener("input", () => {
  if (addressField.hasAttribute("aria-invalid")) fieldError("");
});

function seriesAbout(name) {
  const info = pageData.series[name];
  if (!info) return "";
  const holder = document.createElement("div");
  if (info.sample) {
    const img = document.createElement("img");
    img.src = `/thumbs/${name}/${info.sample}`;
    img.alt = "";
    img.width = 64;
    img.height = 75;
    holder.append(img);
  }
  const text = document.createElement("p");
  const strong = document.createElement("strong");
  strong.textContent = name;
  text.append(strong, `: ${info.purpose || "No description."}`);
  holder.append(text);
  return holder.innerHTML;
}

$("#series").addEventListener("change", (event) => {
  $("#series-about").innerHTML = seriesAbout(event.target.value);
});

// -- running generations: the page's own and those started elsewhere look the same ---------
const runs = new Map();  // "series/address" -> state of a run card

function fromSnapshot(snapshot) {
  // a full progress snapshot (a poll) in the shape of the event stream's summaries
  const averages = snapshot.phaseAverages || {};
  const setup = (snapshot.phases || []).find((p) => p.name === "setup");
  const started = (setup && setup.startedNs) || snapshot.startedNs || 0;
  return {
    currentPhase: snapshot.queuePosition > 0 ? "queued" : snapshot.currentPhase,
    queuePosition: snapshot.queuePosition || 0,
    percent: snapshot.percent, etaSeconds: snapshot.etaSeconds,
    estimated: ACTIONABLE.some((p) => averages[p] > 0),
    elapsedSeconds: started ? Math.max(0, Date.now() / 1000 - started / 1e9) : 0,
    done: snapshot.done, error: snapshot.error || "",
    cancelled: snapshot.state === "cancelled",
  };
}

function runCard(series, address, mine = false) {
  const key = keyOf(series, address);
  let state = runs.get(key);
  if (!state) {
    let element = $$("#running .run").find(
      (el) => el.dataset.series === series && el.dataset.address === address);
    if (!element) {
      element = buildRunCard(series, address);
      $("#running").prepend(element);
    }
    state = { element, series, address, mine: false, phase: "", lastUpdate: 0, poll: 0,
              startedAt: 0, estimated: false, done: false };
    runs.set(key, state);
    wireRunCard(state);
  }
  if (mine) state.mine = true;
  return state;
}

function buildRunCard(series, address) {
  const ident = `run-${series}-${address}`;
  const element = document.createElement("article");
  element.className = "run";
  element.dataset.series = series;
  element.dataset.address = address;
  element.setAttribute("aria-labelledby", `${ident}-title`);
  element.innerHTML =
    `<h3 class="run-title" id="${ident}-title"><span class="run-series"></span> · ` +
    `<code></code></h3><progress class="run-bar" max="100" ` +
    `aria-labelledby="${ident}-title ${ident}-status"></progress>` +
    `<p class="run-status" id="${ident}-status"><span class="run-phase"></span> · ` +
    `<span class="run-time"></span></p>` +
    `<button class="run-cancel" type="button">Cancel<span class="visually-hidden"></span>` +
    `</button>`;
  $(".run-series", element).textContent = series;
  $("code", element).textContent = address;
  $(".run-cancel .visually-hidden", element).textContent = ` ${series} ${address}`;
  return element;
}

function wireRunCard(state) {
  const cancel = $(".run-cancel", state.element);
  if (cancel) {
    cancel.hidden = false;
    cancel.addEventListener("click", () => cancelRun(state));
  }
  const bar = $(".run-bar", state.element);
  if (!bar.hasAttribute("value")) {
    state.startedAt = Date.now() - parseElapsed($(".run-time", state.element).textContent);
  }
}

function parseElapsed(text) {
  const match = /(\d+) s so far/.exec(text || "");
  return match ? Number(match[1]) * 1000 : 0;
}

function timeText(state, summary) {
  if (summary.currentPhase === "queued") {
    return summary.queuePosition ? `number ${summary.queuePosition} in the queue` : "in the queue";
  }
  if (state.estimated) {
    const eta = Number(summary.etaSeconds) || 0;
    const percent = Math.round(Number(summary.percent) || 0);
    return `${percent} % · ${eta >= 1 ? `about ${Math.round(eta)} s left` : "almost done"}`;
  }
  const elapsed = Math.max(0, Math.round((Date.now() - state.startedAt) / 1000));
  return `${elapsed} s so far · estimating…`;
}

function updateRun(state, summary) {
  if (state.done) return;
  if (summary.done) {
    finishRun(state, summary);
    return;
  }
  state.lastUpdate = Date.now();
  const eta = Number(summary.etaSeconds) || 0;
  state.estimated = Boolean(summary.estimated) && eta > 0;
  if (summary.elapsedSeconds !== undefined) {
    state.startedAt = Date.now() - Number(summary.elapsedSeconds) * 1000;
  }
  const bar = $(".run-bar", state.element);
  if (state.estimated) bar.value = Math.round(Number(summary.percent) || 0);
  else bar.removeAttribute("value");  // indeterminate: no timings to estimate from yet
  const phase = summary.currentPhase || "setup";
  $(".run-phase", state.element).textContent = PHASES[phase] || phase;
  $(".run-time", state.element).textContent = timeText(state, summary);
  if (phase !== state.phase) {
    state.phase = phase;
    if (state.mine) announce(`${state.series} ${shortAddress(state.address)}: ${PHASES[phase] || phase}`);
  }
}

function finishRun(state, summary, note = "") {
  if (state.done) return;
  state.done = true;
  clearInterval(state.poll);
  const element = state.element;
  const cancel = $(".run-cancel", element);
  if (cancel) cancel.remove();
  const bar = $(".run-bar", element);
  const label = `${state.series} ${shortAddress(state.address)}`;
  if (summary.error || summary.cancelled) {
    element.classList.add("failed");
    bar.value = 0;
    $(".run-phase", element).textContent = summary.cancelled ? PHASES.cancelled : PHASES.failed;
    $(".run-time", element).textContent = summary.cancelled ? "stopped" : summary.error;
    if (state.mine) announce(`${label}: ${summary.cancelled ? "cancelled" : `failed: ${summary.error}`}`);
    else setTimeout(() => forget(state), 8000);
    return;
  }
  bar.value = 100;
  $(".run-phase", element).textContent = PHASES.completed;
  $(".run-time", element).textContent = note || "the picture is in the gallery";
  const open = document.createElement("a");
  open.className = "run-open button";
  open.href = `/preview?view=${state.series}/${state.address}#viewer`;
  open.innerHTML = `Open<span class="visually-hidden"> ${state.series} ${state.address}</span>`;
  open.addEventListener("click", (event) => {
    event.preventDefault();
    openViewer(state.series, state.address, true);
  });
  element.append(open);
  addCard(state.series, state.address);
  if (state.mine) {
    announce(`${label} is ready.`);  // the card says so; #message keeps any error shown
  } else {
    setTimeout(() => forget(state), 8000);
  }
}

function forget(state) {
  state.element.remove();
  runs.delete(keyOf(state.series, state.address));
}

async function cancelRun(state) {
  const button = $(".run-cancel", state.element);
  button.disabled = true;
  try {
    const response = await fetch(`/dalle/${state.series}/${state.address}/job`,
                                 { method: "DELETE", headers: { Accept: "application/json" } });
    if (response.status === 200) {
      finishRun(state, { done: true, cancelled: true });
    } else if (response.status === 202) {
      $(".run-time", state.element).textContent = "cancelling at the end of this step…";
    } else if (response.status === 404) {
      button.remove();  // it ended on its own; its last event says how
    } else {
      const body = await response.json().catch(() => ({}));
      say(response.status === 401 || response.status === 403
        ? "Cancelling needs the server's admin token: ask whoever runs this server."
        : explain(response.status, body));
      button.disabled = false;
    }
  } catch (err) {
    say("Could not reach the server to cancel.");
    button.disabled = false;
  }
}

function watchOwnRun(state) {
  // the shared stream shows running generations; a poll covers a queued run, a stream that
  // is not connected yet, and browsers without EventSource
  clearInterval(state.poll);
  state.poll = setInterval(async () => {
    if (state.done) return clearInterval(state.poll);
    if (live && live.readyState === EventSource.OPEN && Date.now() - state.lastUpdate < 2500) return;
    try {
      const response = await fetch(`/dalle/${state.series}/${state.address}`,
                                   { headers: { Accept: "application/json" } });
      if ((response.headers.get("Content-Type") || "").startsWith("image/")) {
        finishRun(state, { done: true, error: "" });  // the picture itself: it is made
        return;
      }
      const body = await response.json();
      if (body.success && body.data && body.data.series) updateRun(state, fromSnapshot(body.data));
    } catch (err) {
      say("Lost contact with the server; still trying.");
    }
  }, 1000);
}

setInterval(() => {  // the time so far of runs without estimates, once a second
  for (const state of runs.values()) {
    if (!state.done && !state.estimated && state.phase !== "queued") {
      $(".run-time", state.element).textContent =
        timeText(state, { currentPhase: state.phase || "setup" });
    }
  }
}, 1000);

let live = null;
if (window.EventSource) {
  live = new EventSource("/preview/events");
  live.addEventListener("progress", (event) => {
    const summary = JSON.parse(event.data);
    if (!summary.series || !summary.address) return;
    const known = runs.get(keyOf(summary.series, summary.address));
    if (summary.done && !known) {  // finished before this page saw it run
      if (!summary.error) addCard(summary.series, summary.address);
      return;
    }
    updateRun(known || runCard(summary.series, summary.address), summary);
  });
  live.addEventListener("queue", (event) => {
    const { queued } = JSON.parse(event.data);
    $("#queued").textContent = queued ? `${queued} waiting in the queue` : "";
  });
}
for (const element of $$("#running .run")) {
  const state = runCard(element.dataset.series, element.dataset.address);
  state.phase = "";
}

// -- the gallery's results: search, series, order, size and pages live in the URL ----------
function queryOf(url) {
  // the results a URL shows: its parameters without the open picture
  const params = new URL(url, location.href).searchParams;
  params.delete("view");
  return params.toString();
}

function galleryQuery() {
  return queryOf(location.href);
}

let shownQuery = galleryQuery();  // the back button reloads the results only when they differ

function resultsURL() {
  const params = new URLSearchParams(new FormData($("#find")));
  for (const [name, value] of Array.from(params.entries())) {
    if (!value || (name === "sort" && value === "newest") || (name === "size" && value === "48")) {
      params.delete(name);
    }
  }
  const text = params.toString();
  return text ? `/preview?${text}` : "/preview";
}

function syncFilters(url) {
  const params = new URL(url, location.href).searchParams;
  $("#q").value = params.get("q") || "";
  $("#filter-series").value = params.get("series") || "";
  $("#sort").value = params.get("sort") || "newest";
  $("#size").value = params.get("size") || "48";
}

let loading = null;
async function loadResults(url, how = "push") {
  if (loading) loading.abort();
  loading = new AbortController();
  let response;
  try {
    response = await fetch(url, { signal: loading.signal, headers: { Accept: "text/html" } });
  } catch (err) {
    if (err.name !== "AbortError") say("Could not reach the server.");
    return false;
  }
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  if (!response.ok || !$("#gallery", doc)) {
    location.assign(url);  // the server's readable page for a bad or out-of-range view
    return false;
  }
  $("#gallery").replaceWith($("#gallery", doc));
  const navs = $$("nav.pages", doc);
  $$("nav.pages").forEach((nav, i) => { nav.innerHTML = navs[i] ? navs[i].innerHTML : ""; });
  const empty = $(".empty", doc);
  const oldEmpty = $("#results .empty");
  if (oldEmpty) oldEmpty.remove();
  if (empty) $("#gallery").after(empty);
  $("#count").textContent = $("#count", doc).textContent;
  $("#filter-about").innerHTML = $("#filter-about", doc).innerHTML;
  document.title = doc.title;
  revealCopyButtons($("#gallery"));
  shownQuery = queryOf(url);
  if (how === "push") history.pushState({ results: true }, "", url);
  else if (how === "replace") history.replaceState({ results: true }, "", url);
  return true;
}

let typing = 0;
let typedOnce = false;
$("#q").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    loadResults(resultsURL(), typedOnce ? "replace" : "push");  // one history entry per search
    typedOnce = true;
  }, 300);
});
$("#q").addEventListener("change", () => { typedOnce = false; });
for (const select of ["#filter-series", "#sort", "#size"]) {
  $(select).addEventListener("change", () => loadResults(resultsURL()));
}
$("#find").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(typing);
  typedOnce = false;
  loadResults(resultsURL());
});

$("#results").addEventListener("click", async (event) => {
  const link = event.target.closest("nav.pages a");
  if (!link) return;
  event.preventDefault();
  if (await loadResults(link.href)) {
    $("#gallery-title").scrollIntoView();
    $("#results").focus({ preventScroll: true });
  }
});

function addCard(series, address) {
  // a new picture shows at once on the first page of the newest pictures it belongs to
  const params = new URLSearchParams(galleryQuery());
  const fits = !params.get("q") && (!params.get("series") || params.get("series") === series) &&
    (params.get("sort") || "newest") === "newest" && (params.get("page") || "1") === "1";
  const existing = $$(".card").find((c) => c.dataset.series === series && c.dataset.address === address);
  if (existing) {
    existing.classList.add("new");
    return;
  }
  if (!fits) return;
  fetch(`/preview/card/${series}/${address}`).then(async (response) => {
    if (!response.ok) return;
    const holder = document.createElement("div");
    holder.innerHTML = (await response.text()).trim();
    const card = holder.firstElementChild;
    card.classList.add("new");
    let group = $$("section.group").find((g) => g.dataset.series === series);
    if (!group) {
      group = document.createElement("section");
      group.className = "group";
      group.dataset.series = series;
      group.innerHTML = `<h3 class="series"></h3><div class="grid"></div>`;
      $("h3", group).textContent = series;
      $("#gallery").prepend(group);
    }
    $(".grid", group).prepend(card);
    revealCopyButtons(card);
    const empty = $("#results .empty");
    if (empty) empty.remove();
  });
}

// -- the viewer: a lightbox whose picture is in the URL --------------------------------------
const viewer = $("#viewer");
let viewerKey = null;
let viewerPushed = false;
let reopening = false;  // the viewer is being made modal: its next "close" event is ours
let returnFocus = null;

function cards() {
  return $$("#gallery .card");
}

function viewerURL(key) {
  const params = new URLSearchParams(galleryQuery());
  if (key) params.set("view", key);
  const text = params.toString().replace(/%2F/g, "/");
  return `/preview${text ? `?${text}` : ""}${key ? "#viewer" : ""}`;
}

function setNavLink(rel, target) {
  const holder = $(".viewer-nav", viewer);
  let link = $(`.viewer-${rel}`, holder);
  if (!target) {
    if (link) link.remove();
    return;
  }
  if (!link) {
    link = document.createElement("a");
    link.className = `viewer-${rel}`;
    link.rel = rel;
    link.setAttribute("aria-label", rel === "prev" ? "Previous picture" : "Next picture");
    link.textContent = rel === "prev" ? "‹" : "›";
    if (rel === "prev") holder.prepend(link);
    else holder.append(link);
  }
  link.href = viewerURL(target);
}

async function openViewer(series, address, push) {
  const key = keyOf(series, address);
  const card = cards().find((c) => c.dataset.series === series && c.dataset.address === address);
  const title = $("#viewer-title");
  title.textContent = "";
  title.append(series);
  const name = card && card.dataset.name;
  if (name) title.append(` · ${name}`);
  const code = document.createElement("code");
  code.className = "addr";
  code.textContent = (card && card.dataset.checksum) || address;
  title.append(" · ", code);
  const list = cards();
  const at = list.indexOf(card);
  const hasPage = (rel) => Boolean($(`nav.pages a[rel=${rel}]`));
  setNavLink("prev", at > 0 ? keyOf(list[at - 1].dataset.series, list[at - 1].dataset.address)
    : (at === 0 && hasPage("prev") ? "page:prev" : null));
  setNavLink("next", at >= 0 && at < list.length - 1
    ? keyOf(list[at + 1].dataset.series, list[at + 1].dataset.address)
    : (at === list.length - 1 && hasPage("next") ? "page:next" : null));
  if (viewerKey !== key) {
    const content = $("#viewer-content");
    content.setAttribute("aria-busy", "true");
    const response = await fetch(`/preview/viewer/${series}/${address}`);
    content.innerHTML = response.ok ? await response.text()
      : `<p class="notice">This picture is not there (any more).</p>`;
    content.removeAttribute("aria-busy");
    revealCopyButtons(content);
  }
  viewerKey = key;
  if (!viewer.open) viewer.showModal();
  else if (!viewer.matches(":modal")) {
    // opened without a script (a deep link): make it modal. close() fires its "close"
    // event later, after showModal(): that one event is ours and must not close it again
    reopening = true;
    viewer.close();
    viewer.showModal();
  }
  if (push === true) {
    history.pushState({ viewer: key }, "", viewerURL(key));
    viewerPushed = true;
  } else if (push === "replace") {
    history.replaceState({ viewer: key }, "", viewerURL(key));
  }
}

function closeViewer(fromHistory = false) {
  if (viewer.open) viewer.close();
  if (!viewerKey) return;
  const [series, address] = viewerKey.split("/");
  const card = cards().find((c) => c.dataset.series === series && c.dataset.address === address);
  returnFocus = card ? $(".thumb", card) : null;  // back to the picture last shown
  if (returnFocus) returnFocus.focus();
  viewerKey = null;
  if (fromHistory) return;
  if (viewerPushed) {
    viewerPushed = false;
    history.back();
  } else {
    returnFocus = null;
    history.replaceState({ results: true }, "", viewerURL(null));
  }
}

async function step(rel) {
  const link = $(`.viewer-${rel}`, viewer);
  if (!link) return;
  const target = new URL(link.href).searchParams.get("view");
  if (target && !target.startsWith("page:")) {
    const [series, address] = target.split("/");
    openViewer(series, address, "replace");
    return;
  }
  const pageLink = $(`nav.pages a[rel=${rel}]`);  // the next or previous page of results
  if (!pageLink || !(await loadResults(pageLink.href, "replace"))) return;
  const list = cards();
  const card = rel === "next" ? list[0] : list[list.length - 1];
  if (card) {
    viewerKey = null;
    openViewer(card.dataset.series, card.dataset.address, "replace");
  }
}

document.addEventListener("click", (event) => {
  const thumb = event.target.closest(".thumb");
  if (thumb && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    event.preventDefault();
    const card = thumb.closest(".card");
    openViewer(card.dataset.series, card.dataset.address, true);
    return;
  }
  const nav = event.target.closest(".viewer-prev, .viewer-next");
  if (nav) {
    event.preventDefault();
    step(nav.classList.contains("viewer-prev") ? "prev" : "next");
    return;
  }
  if (event.target.closest("#viewer .close")) {
    event.preventDefault();
    closeViewer();
    return;
  }
  if (event.target === viewer) closeViewer();  // a click on the backdrop, outside the box
});

viewer.addEventListener("close", () => {
  if (reopening) {
    reopening = false;
    return;
  }
  if (viewerKey) closeViewer();
});
viewer.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select")) return;
  if (event.key === "ArrowLeft") { event.preventDefault(); step("prev"); }
  if (event.key === "ArrowRight") { event.preventDefault(); step("next"); }
});

let swipe = null;
viewer.addEventListener("pointerdown", (event) => {
  swipe = { x: event.clientX, y: event.clientY };
});
viewer.addEventListener("pointerup", (event) => {
  if (!swipe) return;
  const dx = event.clientX - swipe.x;
  const dy = event.clientY - swipe.y;
  swipe = null;
  if (Math.abs(dx) > 50 && Math.abs(dx) > 2 * Math.abs(dy)) step(dx < 0 ? "next" : "prev");
});

window.addEventListener("popstate", async () => {
  syncFilters(location.href);
  if (galleryQuery() !== shownQuery) await loadResults(location.href, "none");
  const target = new URLSearchParams(location.search).get("view");
  if (target) {
    const [series, address] = target.split("/");
    viewerPushed = false;
    openViewer(series, address, false);
  } else {
    closeViewer(true);
  }
  if (returnFocus) {  // going back may have moved focus to the URL's fragment
    const thumb = returnFocus;
    returnFocus = null;
    setTimeout(() => thumb.focus(), 0);
  }
});

// -- copy buttons ----------------------------------------------------------------------------
document.addEventListener("click", async (event) => {
  const copy = event.target.closest(".copy");
  if (!copy) return;
  const source = copy.dataset.copyFrom ? document.getElementById(copy.dataset.copyFrom) : null;
  const text = source ? source.textContent : copy.dataset.copy;
  const label = copy.firstChild;
  try {
    await navigator.clipboard.writeText(text);
    label.textContent = "Copied";
    announce("Copied.");
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents(source || copy.previousElementSibling);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    label.textContent = "Selected";
    announce("Selected: press Control C to copy.");
  }
  setTimeout(() => { label.textContent = "Copy"; }, 1500);
});

// -- start --------------------------------------------------------------------------------
revealCopyButtons();
if (viewer.hasAttribute("open")) {  // the URL named a picture: the server rendered it
  const target = new URLSearchParams(location.search).get("view");
  // close() fires "close" later, maybe after openViewer has opened it again: ignore it
  reopening = true;
  viewer.close();
  if (target) {
    const [series, address] = target.split("/");
    openViewer(series, address, false);
  }
}
