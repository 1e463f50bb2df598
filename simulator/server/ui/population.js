// `world find` in the page: patients by situation, insurer, flags and age on the business
// date, and one patient's periods, facets and decisions.

import { api, query, showError } from "/__admin/ui/api.js";
import { facts, field, formValues, h, pre, select, table } from "/__admin/ui/dom.js";

const state = { filters: {} };

function flagBoxes(name, legend, flags, chosen) {
  const picked = new Set((chosen || "").split(",").filter(Boolean));
  return h("fieldset", { class: "row" }, h("legend", {}, legend),
    Object.entries(flags).map(([flag, meaning]) => {
      const input = h("input", { type: "checkbox", name, value: flag, checked: picked.has(flag), id: `${name}-${flag}` });
      return h("div", { class: "check" }, input, h("label", { for: input.id, title: meaning }, flag));
    }));
}

function findForm(choices, onFind) {
  const f = state.filters;
  const form = h("form", { class: "stack", role: "search", "aria-label": "Find patients" },
    h("div", { class: "row" },
      field("Situation", select("situation", ["", ...choices.situations], f.situation || "")),
      field("Insurer (union)", select("insurer", ["", ...choices.insurers], f.insurer || "")),
      field("Mutuality", h("input", { name: "mutuality", size: 4, value: f.mutuality || "", inputmode: "numeric" })),
      field("DMG holder (NIHII)", h("input", { name: "dmg_holder", size: 11, value: f.dmg_holder || "", inputmode: "numeric" })),
      field("Age at least", h("input", { name: "min_age", type: "number", min: 0, max: 200, value: f.min_age || "" })),
      field("Age at most", h("input", { name: "max_age", type: "number", min: 0, max: 200, value: f.max_age || "" }))),
    flagBoxes("flags", "With every flag", choices.flags, f.flags),
    flagBoxes("without", "Without any of", choices.flags, f.without),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Find patients")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = formValues(form);
    onFind();
  });
  return form;
}

function patientsTable(found) {
  return table(
    `${found.total} patients on ${found.date}${found.total > found.patients.length ? ` (the first ${found.patients.length} shown)` : ""}`,
    ["NISS", "name", "age", "insurer", "mutuality", "situation", "flags"],
    found.patients.map((p) => h("tr", {},
      h("td", {}, h("a", { href: `#/population/${p.ssin}` }, p.ssin)), h("td", {}, p.name), h("td", {}, String(p.age)),
      h("td", {}, p.insurer), h("td", {}, p.mutuality), h("td", {}, p.situation), h("td", {}, p.flags.join(" ")))),
  );
}

function periodsTable(periods) {
  if (!periods || !periods.length) return h("p", { class: "muted" }, "No insurability period.");
  const names = Object.keys(periods[0]);
  return table("Insurability periods", names, periods.map((period) =>
    h("tr", {}, names.map((name) => h("td", {}, JSON.stringify(period[name]) ?? "")))));
}

async function renderPatient(view, ssin) {
  const data = await api.get(`/__admin/population/${ssin}`);
  const record = data.patient;
  if (!record) {
    view.append(h("h2", {}, `Provider ${ssin}`), pre(JSON.stringify(data.provider, null, 2), "Provider"));
    return;
  }
  const { insurability, cpas_decisions: decisions, ...rest } = record;
  const simple = Object.entries(rest).filter(([, value]) => value === null || typeof value !== "object" || Array.isArray(value));
  const nested = Object.entries(rest).filter(([, value]) => value !== null && typeof value === "object" && !Array.isArray(value));
  view.append(
    h("p", {}, h("a", { href: "#/population" }, "← Population")),
    h("h2", {}, `${record.name} (${record.ssin})`),
    facts(simple.map(([name, value]) => [name, Array.isArray(value) ? value.join(" ") : String(value ?? "–")])),
    h("h3", {}, "Insurability"),
    periodsTable(insurability.periods),
    h("h3", {}, "Facets"),
    nested.map(([name, value]) => [h("h4", {}, name), pre(JSON.stringify(value, null, 2), name)]),
    h("h3", {}, "CPAS decisions"),
    decisions && decisions.length ? pre(JSON.stringify(decisions, null, 2), "CPAS decisions") : h("p", { class: "muted" }, "None."),
  );
}

export async function renderPopulation(view, ssin) {
  if (ssin) return renderPatient(view, ssin);
  const results = h("div", { "aria-live": "polite" });
  async function find() {
    try {
      const found = await api.get(`/__admin/population/find${query({ ...state.filters, limit: 200 })}`);
      results.replaceChildren(patientsTable(found));
    } catch (error) {
      showError(error);
    }
  }
  const first = await api.get("/__admin/population/find?limit=0");
  view.append(h("h2", {}, "Population"), findForm(first.choices, find), results);
  await find();
  return null;
}
