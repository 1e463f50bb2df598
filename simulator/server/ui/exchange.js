// One exchange: what the insurer answered in clear (sealed answers included), the security
// verdict, the pipeline stages, the scenario rule, envelopes, blobs, eFact zones, curl.

import { api } from "/__admin/ui/api.js";
import { badge, facts, h, pre, table } from "/__admin/ui/dom.js";

function section(title, ...children) {
  return h("section", { "aria-label": title }, h("h3", {}, title), children);
}

function contentBlock(title, content) {
  if (!content) return h("p", { class: "muted" }, `${title}: no business content (no Detail, or not kept).`);
  const codes = content.codes && content.codes.length
    ? h("p", { class: "codes" }, "Codes: ", content.codes.map((code) => [h("span", { class: "code" }, code), " "]))
    : null;
  return h("div", {}, h("h4", {}, title), codes, pre(content.text, title));
}

function securityFacts(security) {
  const caller = security.caller ? `NISS ${security.caller.ssin || "–"}, NIHII ${security.caller.nihii || "–"}` : undefined;
  return facts([
    ["verdict", security.verdict ? badge(security.verdict) : "–"],
    ["mode", security.mode],
    ["token", security.token],
    ["caller", caller],
    ["reason", security.reason],
    ["fault", security.fault],
    ["answer signed as", security.response],
  ]);
}

function stagesTable(stages) {
  const stagesTable_ = table(
    "Pipeline stages with their timings",
    ["stage", "ms", "note"],
    stages.map((stage) => h("tr", {}, h("td", {}, stage.name), h("td", {}, stage.ms.toFixed(3)), h("td", {}, stage.note || ""))),
  );
  stagesTable_.classList.add("compact");
  return stagesTable_;
}

function errorList(errors) {
  return h("ul", {}, errors.map((error) => h("li", {},
    h("span", { class: "code" }, `${error.letter || ""}${error.code}`), ` zone ${error.zone || "–"}: ${error.text || ""}`,
    error.detail ? h("span", { class: "muted" }, ` (${error.detail})`) : null)));
}

function recordView(record) {
  const rows = record.zones.map((zone) => h(
    "tr",
    { class: zone.errors.length ? "has-error" : null },
    h("td", {}, zone.zone),
    h("td", {}, zone.label),
    h("td", {}, `${zone.start}+${zone.length}`),
    h("td", { class: "value" }, zone.value),
    h("td", {}, zone.errors.length ? errorList(zone.errors) : ""),
  ));
  const failing = record.error_count > 0;
  return h(
    "details",
    { class: `record${failing ? " has-error" : ""}`, open: failing },
    h("summary", {}, `${record.index === "200" || record.index === "300" ? "" : "record "}${record.index} `,
      record.type ? `type ${record.type} ` : "", h("span", { class: "muted" }, record.name),
      failing ? h("span", { class: "fail" }, ` · ${record.error_count} error(s)`) : ""),
    record.errors && record.errors.length ? errorList(record.errors) : null,
    h("table", { class: "zones" },
      h("caption", { class: "muted" }, `Zones of ${record.name}`),
      h("thead", {}, h("tr", {}, ["zone", "label", "position", "value", "errors"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows)),
  );
}

function efactView(file) {
  return h(
    "div",
    {},
    h("h4", {}, `${file.direction}: ${file.message_type || "eFact"} file (${file.where})`),
    file.problem ? h("p", { class: "error" }, file.problem) : null,
    file.file_errors && file.file_errors.length ? errorList(file.file_errors) : null,
    h("p", { class: "muted" }, `${file.records.length} of ${file.total ?? file.records.length} records shown (records with errors first).`),
    (file.segments || []).map(recordView),
    file.records.map(recordView),
  );
}

function blobView(blob) {
  const title = `${blob.direction} ${blob.where}`;
  return h(
    "div",
    {},
    h("h4", {}, title),
    facts([["encoding", blob.encoding], ["encryption", blob.encryption], ["content type", blob.content_type], ["message name", blob.message_name]]),
    blob.note ? h("p", { class: "muted" }, blob.note) : null,
    blob.text ? pre(blob.text, `${title} decoded`) : null,
  );
}

function curlBlock(curl) {
  if (!curl) return h("p", { class: "muted" }, "The request body was not kept.");
  const status = h("span", { "aria-live": "polite", class: "muted" });
  const text = pre(curl, "The request as a curl command");
  const copy = h("button", { type: "button" }, "Copy as curl");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(curl);
      status.textContent = " Copied.";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(text);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      status.textContent = " Selected: press Ctrl+C to copy.";
    }
  });
  return h("div", {}, h("p", {}, copy, status,
    h("span", { class: "muted" }, " Sent again it is a replay (its WS-Security Timestamp is the original one): a scenario with allow_replay lets it in.")), text);
}

export async function renderExchange(view, id) {
  const data = await api.get(`/__admin/journal/${id}/decoded`);
  const s = data.summary;
  view.append(
    h("p", {}, h("a", { href: "#/journal" }, "← Journal")),
    h("h2", {}, `Exchange #${s.id}: ${s.service}.${s.operation}`),
    h("div", { class: "top-facts" }, facts([
      ["outcome", badge(s.outcome)],
      ["code", s.code ? h("span", { class: "code" }, s.code) : "–"],
      ["HTTP status", String(s.http_status)],
      ["at (UTC)", s.at],
      ["path", s.path],
      ["SOAPAction", s.soap_action],
      ["provider (NIHII)", s.provider_nihii],
      ["patient (NISS)", s.patient_ssin],
      ["reference", s.reference],
      ["duration", `${s.duration_ms} ms`],
    ]),
    h("div", {},
      section("Security verdict", securityFacts(data.security)),
      section("Scenario", h("p", {}, data.scenario ? `Rule fired: ${data.scenario}` : "No scenario rule fired.")),
      section("Pipeline stages", stagesTable(data.stages)))),
    section("What the insurer answered (in clear)", contentBlock("Answer, before it was sealed", data.response_content)),
    section("What the request carried (unsealed)", contentBlock("Request business content", data.request_content)),
    data.efact.length ? section("eFact files: records and zones", data.efact.map(efactView)) : null,
    data.blobs.length ? section("Blobs, decoded", data.blobs.map(blobView)) : null,
    section("Envelopes",
      h("details", { open: true }, h("summary", {}, "Request"), pre(data.request_xml || "(not kept)", "Request envelope")),
      h("details", { open: true }, h("summary", {}, "Answer"), pre(data.response_xml || "(not kept)", "Answer envelope"))),
    section("Copy as curl", curlBlock(data.curl)),
  );
}
