// The running scenario (rule counters), loading a shipped one or a file (checked first,
// problems shown on their lines), the business clock, and the resets.

import { ApiError, api, showError } from "/__admin/ui/api.js";
import { badge, checkbox, facts, field, h, select, table } from "/__admin/ui/dom.js";

function rulesTable(active) {
  return table(
    `Rules of ${active.name}`,
    ["rule", "action", "matched", "fired", "description"],
    active.rules.map((rule) => h("tr", {}, h("td", { class: "code" }, rule.id), h("td", {}, rule.action),
      h("td", {}, String(rule.matched)), h("td", {}, String(rule.fired)), h("td", {}, rule.description))),
  );
}

// The file with its lines numbered, the lines with a problem marked, and the problems as a
// list whose items move the cursor to their line.
function problemsView(text, problems, editor) {
  const bad = new Set(problems.map((problem) => problem.line));
  const lines = text.split("\n").map((line, index) => h("span", {
    class: `line${bad.has(index + 1) ? " bad" : ""}`, "data-line": index + 1,
  }, line || " "));
  const list = h("ul", { class: "problems" }, problems.map((problem) => {
    const go = h("button", { type: "button" }, `line ${problem.line}`);
    go.addEventListener("click", () => {
      const offset = text.split("\n").slice(0, problem.line - 1).join("\n").length + (problem.line > 1 ? 1 : 0);
      editor.focus();
      editor.setSelectionRange(offset, offset);
    });
    return h("li", {}, go, `: ${problem.message}`);
  }));
  return h("div", { role: "group", "aria-label": "Problems of the scenario file" },
    h("p", { class: "error" }, `${problems.length} problem(s): the running scenario is unchanged.`),
    list, h("pre", { class: "lines", tabindex: "0", "aria-label": "The file, problem lines marked" }, lines));
}

function scenarioPanel(data, reload) {
  const shipped = select("shipped", data.shipped.map((s) => [s.name, `${s.name} (${s.rules} rules)`]), data.active.name);
  const load = h("button", { type: "submit" }, "Load shipped scenario");
  const shippedForm = h("form", { class: "row", "aria-label": "Load a shipped scenario" }, field("Shipped scenario", shipped), load);
  shippedForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api.put("/__admin/scenario", { shipped: shipped.value });
      reload();
    } catch (error) {
      showError(error);
    }
  });
  const editor = h("textarea", { name: "yaml", spellcheck: "false" },
    "name: my-scenario\nrules:\n  - id: refuse-eattest\n    match: {service: eattest, operation: SendAttestation}\n    action: {type: reject, code: \"196\"}\n");
  const outcome = h("div", { "aria-live": "polite" });
  async function submit(replace) {
    outcome.replaceChildren();
    const text = editor.value;
    try {
      if (replace) {
        await api.yaml("PUT", "/__admin/scenario", text);
        reload();
        return;
      }
      const checked = await api.yaml("POST", "/__admin/scenario/check", text);
      outcome.append(h("p", { class: "valid" }, `Valid: ${checked.name}, ${checked.rules} rule(s).`));
    } catch (error) {
      if (error instanceof ApiError && error.problems.length) outcome.append(problemsView(text, error.problems, editor));
      else showError(error);
    }
  }
  const check = h("button", { type: "button", class: "secondary" }, "Validate");
  const replace = h("button", { type: "button" }, "Validate and replace");
  check.addEventListener("click", () => submit(false));
  replace.addEventListener("click", () => submit(true));
  const restart = h("button", { type: "button", class: "secondary" }, "Restart scenario (counters to zero)");
  restart.addEventListener("click", async () => {
    await api.post("/__admin/scenario/restart");
    reload();
  });
  return h("section", { "aria-label": "Scenario" },
    h("h3", {}, `Running scenario: ${data.active.name}`),
    h("p", { class: "muted" }, data.active.description || ""),
    rulesTable(data.active), h("div", { class: "row" }, restart),
    shippedForm,
    h("h3", {}, "Scenario file (YAML)"),
    field("Scenario file", editor),
    h("div", { class: "row" }, check, replace), outcome);
}

// An instant as a datetime-local value in Brussels time (what the API reads without offset).
function brussels(instant) {
  const text = new Date(instant).toLocaleString("sv-SE", { timeZone: "Europe/Brussels" });
  return text.replace(" ", "T").slice(0, 19);
}

function clockPanel(clock, reload) {
  const at = h("input", { type: "datetime-local", step: 1, name: "at", value: brussels(clock.now) });
  const frozen = checkbox("Frozen", { name: "frozen", checked: clock.frozen });
  const set = h("button", { type: "submit" }, "Set clock");
  const setForm = h("form", { class: "row", "aria-label": "Set the clock" },
    field("Business instant (Brussels time)", at), frozen, set);
  setForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api.put("/__admin/clock", { at: at.value, frozen: frozen.querySelector("input").checked });
      reload();
    } catch (error) {
      showError(error);
    }
  });
  const days = h("input", { type: "number", name: "days", value: 1, step: "any" });
  const advanceForm = h("form", { class: "row", "aria-label": "Advance the clock" },
    field("Days (negative: back)", days), h("button", { type: "submit" }, "Advance"));
  advanceForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api.post("/__admin/clock/advance", { days: Number(days.value) });
      reload();
    } catch (error) {
      showError(error);
    }
  });
  const reset = h("button", { type: "button", class: "danger" }, "Reset everything (journal, records, scenario, clock)");
  reset.addEventListener("click", async () => {
    if (!confirm("Forget the journal and every record, restart the scenario, clock back to real time?")) return;
    await api.post("/__admin/reset", { clock: true });
    reload();
  });
  return h("section", { "aria-label": "Business clock" },
    h("h3", {}, "Business clock"),
    facts([["now (UTC)", clock.now], ["business date", clock.today], ["state", badge(clock.frozen ? "frozen" : "running")]]),
    setForm, advanceForm, h("div", { class: "row" }, reset));
}

export async function renderScenario(view, refreshClock) {
  const body = h("div", { class: "grid2" });
  async function reload() {
    try {
      const [scenarios, clock] = await Promise.all([api.get("/__admin/scenarios"), api.get("/__admin/clock")]);
      body.replaceChildren(scenarioPanel(scenarios, reload), clockPanel(clock, reload));
      refreshClock();
    } catch (error) {
      showError(error);
    }
  }
  view.append(h("h2", {}, "Scenario and clock"), body);
  await reload();
}
