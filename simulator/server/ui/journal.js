// The journal: newest first, filtered, a page at a time, new exchanges streamed in live
// (server-sent events from /__admin/journal/stream).

import { api, query, showError } from "/__admin/ui/api.js";
import { badge, checkbox, field, formValues, h, select, table } from "/__admin/ui/dom.js";

const PAGE = 50;
const SERVICES = ["", "sts", "etkdepot", "etar", "memberdata", "eattest", "mediprima", "uma",
  "tarification-mediprima", "genasync"];
const OUTCOMES = ["", "ok", "business-error", "fault"];

// Kept while the page is open: coming back from an exchange finds the same filters.
const state = { filters: {}, offset: 0, live: true };

function row(entry, fresh) {
  const verdict = (entry.security && entry.security.verdict) || "";
  return h(
    "tr",
    { class: fresh ? "new" : null, "data-id": entry.id },
    h("td", {}, h("a", { href: `#/exchange/${entry.id}`, "aria-label": `Open exchange ${entry.id}` }, `#${entry.id}`)),
    h("td", {}, entry.at.replace("T", " ").slice(0, 19)),
    h("td", {}, `${entry.service}.${entry.operation}`),
    h("td", {}, badge(entry.outcome)),
    h("td", { class: "code" }, entry.code || ""),
    h("td", {}, entry.provider_nihii || ""),
    h("td", {}, entry.patient_ssin || ""),
    h("td", {}, entry.reference || ""),
    h("td", {}, verdict),
    h("td", {}, `${Math.round(entry.duration_ms)} ms`),
  );
}

function filterForm(onChange) {
  const f = state.filters;
  const service = h("input", { name: "service", list: "services", value: f.service || "", size: 12 });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Journal filters" },
    h("datalist", { id: "services" }, SERVICES.slice(1).map((name) => h("option", { value: name }))),
    field("Service", service),
    field("Operation", h("input", { name: "operation", value: f.operation || "", size: 16 })),
    field("Outcome", select("outcome", OUTCOMES, f.outcome || "")),
    field("Code", h("input", { name: "code", value: f.code || "", size: 10 })),
    field("Provider (NIHII)", h("input", { name: "provider", value: f.provider || "", size: 11, inputmode: "numeric" })),
    field("Patient (NISS)", h("input", { name: "patient", value: f.patient || "", size: 11, inputmode: "numeric" })),
    field("Since", h("input", { name: "since", type: "datetime-local", step: 1, value: f.since || "" })),
    field("Until", h("input", { name: "until", type: "datetime-local", step: 1, value: f.until || "" })),
    field("Reference", h("input", { name: "reference", type: "search", value: f.reference || "", size: 14 })),
    h("button", { type: "submit" }, "Apply filters"),
    h("button", { type: "reset", class: "secondary" }, "Clear"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = formValues(form);
    state.offset = 0;
    onChange();
  });
  form.addEventListener("reset", () => {
    setTimeout(() => {
      state.filters = {};
      state.offset = 0;
      onChange();
    });
  });
  return form;
}

export async function renderJournal(view) {
  const tbody = h("tbody");
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  const previous = h("button", { type: "button", class: "secondary" }, "Newer");
  const next = h("button", { type: "button", class: "secondary" }, "Older");
  const live = checkbox("Live: show new exchanges as they come", { checked: state.live });
  const liveBox = live.querySelector("input");
  const reset = h("button", { type: "button", class: "danger" }, "Forget the journal");
  let source = null;
  let total = 0;
  let newest = null; // the newest id on the first page: the stream goes on from there

  async function load() {
    showError(null);
    const page = await api.get(`/__admin/journal${query({
      ...state.filters, order: "newest", limit: PAGE, offset: state.offset, bodies: "false",
    })}`);
    total = page.total;
    newest = state.offset === 0 ? (page.entries.length ? page.entries[0].id : 0) : null;
    tbody.replaceChildren(...page.entries.map((entry) => row(entry, false)));
    if (!page.entries.length) {
      tbody.append(h("tr", {}, h("td", { colspan: 10 }, "No exchange matches.")));
    }
    describe(page.entries.length);
    previous.disabled = page.prev === null;
    next.disabled = page.next === null;
  }

  function describe(shown) {
    const first = shown ? state.offset + 1 : 0;
    summary.textContent = `${first}–${state.offset + shown} of ${total} exchanges, newest first`;
  }

  function stream() {
    if (source) source.close();
    source = null;
    if (!state.live) return;
    // From the newest entry shown: nothing written between the page and the stream is lost.
    source = new EventSource(`/__admin/journal/stream${query({ ...state.filters, after: newest })}`);
    source.addEventListener("entry", (event) => {
      const entry = JSON.parse(event.data);
      total += 1;
      if (state.offset !== 0) {
        describe(tbody.rows.length);
        return;
      }
      const empty = tbody.querySelector("td[colspan]");
      if (empty) empty.parentElement.remove();
      tbody.prepend(row(entry, true));
      while (tbody.rows.length > PAGE) tbody.lastElementChild.remove();
      describe(tbody.rows.length);
    });
  }

  async function refresh() {
    try {
      await load();
      stream();
    } catch (error) {
      showError(error);
    }
  }

  previous.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE);
    refresh();
  });
  next.addEventListener("click", () => {
    state.offset += PAGE;
    refresh();
  });
  liveBox.addEventListener("change", () => {
    state.live = liveBox.checked;
    stream();
  });
  reset.addEventListener("click", async () => {
    if (!confirm("Forget every exchange of the journal? Records, scenario and clock stay.")) return;
    await api.del("/__admin/journal");
    state.offset = 0;
    refresh();
  });

  view.append(
    h("h2", {}, "Journal"),
    filterForm(refresh),
    h("div", { class: "row" }, live, reset),
    summary,
    table("Exchanges, newest first", ["#", "at (UTC)", "operation", "outcome", "code",
      "provider", "patient", "reference", "security", "time"], tbody),
    h("div", { class: "pager" }, previous, next),
  );
  await refresh();
  return () => {
    if (source) source.close();
  };
}
