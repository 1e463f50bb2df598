// Conformance: start `conformance run` for a suite with the example client (a subprocess with
// simulators of its own), follow its progress, read the reports in the data dir: failures
// first, each verdict with the exchanges it was judged on.

import { api, showError } from "/__admin/ui/api.js";
import { badge, facts, field, h, pre, select, table } from "/__admin/ui/dom.js";

const ORDER = { error: 0, fail: 1, pass: 2 };

// A suite select and a case select that follows it.
function suiteAndCase(data) {
  const suite = select("suite", data.suites.map((s) => [s.id, `${s.id}: ${s.title}`]));
  const cases = select("case", [["", "every case"]]);
  function fillCases() {
    const chosen = data.suites.find((s) => s.id === suite.value);
    cases.replaceChildren(h("option", { value: "" }, "every case"),
      ...(chosen ? chosen.cases : []).map((c) => h("option", { value: c.id }, `${c.id}: ${c.title}`)));
  }
  suite.addEventListener("change", fillCases);
  fillCases();
  return [suite, cases];
}

function evaluateForm(data) {
  const [suite, cases] = suiteAndCase(data);
  const go = h("button", { type: "submit" }, "Evaluate this journal");
  const form = h("form", { class: "row", "aria-label": "Evaluate this simulator's journal" },
    field("Suite to judge", suite), field("Case to judge", cases), go);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    go.disabled = true;
    try {
      const body = { suite: suite.value };
      if (cases.value) body.case = cases.value;
      const written = await api.post("/__admin/conformance/evaluations", body);
      location.hash = `#/conformance/${written.id}`;
    } catch (error) {
      showError(error);
    } finally {
      go.disabled = false;
    }
  });
  return form;
}

function startForm(data, onStarted) {
  const [suite, cases] = suiteAndCase(data);
  const client = select("client", [["", "reference client (conforming)"],
    ...Object.entries(data.faults).map(([name, what]) => [name, `broken client: ${name} – ${what}`])]);
  const start = h("button", { type: "submit" }, "Start run");
  const form = h("form", { class: "row", "aria-label": "Start a conformance run" },
    field("Suite", suite), field("Case", cases), field("Client", client), start);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    start.disabled = true;
    try {
      const body = { suite: suite.value };
      if (cases.value) body.case = cases.value;
      if (client.value) body.fault = client.value;
      onStarted(await api.post("/__admin/conformance/runs", body));
    } catch (error) {
      showError(error);
    } finally {
      start.disabled = false;
    }
  });
  return form;
}

function reportsTable(reports) {
  if (!reports.length) return h("p", { class: "muted" }, "No report yet in the data dir (conformance-reports/).");
  return table("Reports in the data dir, newest first", ["run", "source", "written", "verdict", "passed", "failed", "errors", "suites", "HTML"],
    reports.map((r) => h("tr", {},
      h("td", {}, h("a", { href: `#/conformance/${r.id}` }, r.id)),
      h("td", {}, r.live ? "this journal" : "conformance run"), h("td", {}, r.written),
      h("td", {}, badge(r.passed ? "pass" : "fail")), h("td", {}, String(r.totals.pass ?? 0)),
      h("td", {}, String(r.totals.fail ?? 0)), h("td", {}, String(r.totals.error ?? 0)), h("td", {}, r.suites.join(", ")),
      h("td", {}, r.html ? h("a", { href: `/__admin/conformance/reports/${r.id}/html` }, "report.html") : "–"))));
}

function messageView(message, live) {
  const blocks = [
    ["Answer in clear (before it was sealed)", message.answer_content],
    ["Request business content (unsealed)", message.content],
    ["Request envelope", message.request],
    ["Answer envelope", message.response],
  ].filter(([, text]) => text);
  return h("details", { class: "message", "data-entry": message.entry_id },
    h("summary", {}, `journal #${message.entry_id} ${message.service}.${message.operation} → `, badge(message.outcome),
      message.code ? h("span", { class: "code" }, ` ${message.code}`) : ""),
    facts([["at", message.at], ["HTTP", String(message.http_status)], ["security", message.security]]),
    live ? h("p", {}, h("a", { href: `#/exchange/${message.entry_id}` }, `Open journal #${message.entry_id} in the journal`)) : null,
    blocks.map(([title, text]) => [h("h5", {}, title), pre(text, `${title} of journal #${message.entry_id}`)]));
}

// Buttons that open the exchanges an explanation names ("after #5 ...", "[journal #6]").
function exchangeLinks(text, section, known) {
  const numbers = [...new Set([...text.matchAll(/#(\d+)/g)].map((m) => Number(m[1])))].filter((n) => known.has(n));
  return numbers.map((number) => {
    const open = h("button", { type: "button", class: "secondary" }, `journal #${number}`);
    open.addEventListener("click", () => {
      const target = section.querySelector(`details.message[data-entry="${number}"]`);
      target.parentElement.open = true;
      target.open = true;
      target.querySelector("summary").focus();
      target.scrollIntoView({ block: "start" });
    });
    return [" ", open];
  });
}

function caseView(c, live) {
  const failing = c.verdict !== "pass";
  const known = new Set(c.messages.map((m) => m.entry_id));
  const section = h("section", { class: `case ${c.verdict}`, "data-verdict": c.verdict, "aria-label": `${c.suite}/${c.case}` });
  section.append(
    h("h3", {}, badge(c.verdict), ` ${c.suite}/${c.case}: ${c.title}`),
    c.error ? h("p", { class: "error" }, c.error) : "",
    c.instructions ? h("div", { class: "todo" }, h("h4", {}, "What to do"), h("p", {}, c.instructions),
      h("p", { class: "muted" }, `Then run it again: mycarenet-sim conformance run --suite ${c.suite} --case ${c.case} -- YOUR-COMMAND`)) : "",
    h("ul", {}, c.checks.map((check) => h("li", {}, badge(check.passed ? "pass" : "fail"), ` ${check.says}`,
      check.failures.length ? h("ul", {}, check.failures.map((f) => h("li", { class: "failure" }, f.explanation,
        exchangeLinks(f.explanation, section, known)))) : null))),
    h("details", { open: failing }, h("summary", {}, `Exchanges judged (${c.messages.length})`),
      c.messages.length ? c.messages.map((m) => messageView(m, live)) : h("p", { class: "muted" }, "No exchange reached the simulator.")),
  );
  return section;
}

async function renderReport(view, id) {
  const report = await api.get(`/__admin/conformance/reports/${id}`);
  const cases = [...report.cases].sort((a, b) => ORDER[a.verdict] - ORDER[b.verdict]);
  const list = h("div");
  const verdict = select("verdict", [["", "every case"], ["fail", "failed and errors"], ["pass", "passed"]]);
  const text = h("input", { type: "search", name: "text" });
  function show() {
    const words = text.value.toLowerCase();
    list.replaceChildren(...cases.filter((c) => {
      const wanted = !verdict.value || (verdict.value === "pass" ? c.verdict === "pass" : c.verdict !== "pass");
      return wanted && (!words || `${c.suite}/${c.case} ${c.title}`.toLowerCase().includes(words));
    }).map((c) => caseView(c, report.live)));
  }
  verdict.addEventListener("change", show);
  text.addEventListener("input", show);
  view.append(
    h("p", {}, h("a", { href: "#/conformance" }, "← Conformance")),
    h("h2", {}, `Run ${id}: `, badge(report.passed ? "pass" : "fail")),
    h("p", {}, `${report.totals.pass} passed, ${report.totals.fail} failed, ${report.totals.error} errors in ${report.duration_s} s. `,
      report.live ? "The exchanges are entries of this simulator's journal: each opens in the journal. "
        : "The exchanges are journal entries of the run's own simulator, kept in the report. ",
      h("a", { href: `/__admin/conformance/reports/${id}/html` }, "HTML report")),
    h("div", { class: "row" }, field("Show", verdict), field("Find a case", text)),
    list);
  show();
}

export async function renderConformance(view, id) {
  if (id) return renderReport(view, id);
  const progress = h("pre", { class: "progress", tabindex: "0", "aria-label": "Progress of the run", "aria-live": "polite" }, "");
  const status = h("p", { "aria-live": "polite" });
  const reports = h("div");
  let timer = null;
  async function refresh() {
    const data = await api.get("/__admin/conformance");
    reports.replaceChildren(reportsTable(data.reports));
    return data;
  }
  function follow(job) {
    status.replaceChildren(`Run ${job.id}: `, badge(job.state));
    progress.textContent = job.progress.join("\n") || "starting…";
    if (job.state === "running") {
      timer = setTimeout(async () => {
        try {
          follow(await api.get(`/__admin/conformance/runs/${job.id}`));
        } catch (error) {
          showError(error);
        }
      }, 1000);
    } else {
      status.append(" ", h("a", { href: `#/conformance/${job.id}` }, "Open its report"));
      refresh();
    }
  }
  const data = await refresh();
  view.append(
    h("h2", {}, "Conformance"),
    h("p", { class: "notice" }, "A run is `mycarenet-sim conformance run` with the package's example client, started here as a subprocess: "
      + "each suite gets simulators of its own (fresh state, the suite's clock and scenario), not this one. "
      + "Reports land in the data dir (conformance-reports/); runs from the CLI with --out there are listed too."),
    startForm(data, follow),
    status, progress,
    h("h3", {}, "Judge this simulator's journal"),
    h("p", { class: "muted" }, "For a client you drove by hand against this simulator: each case is judged on the entries "
      + "about its patient and provider (as `conformance evaluate --url` does), on the suite's date in this population."),
    evaluateForm(data),
    h("h3", {}, "Reports"), reports);
  const running = data.runs.find((job) => job.state === "running");
  if (running) follow(running);
  return () => clearTimeout(timer);
}
