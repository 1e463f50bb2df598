// The page's router: the address after # names the view (#/journal, #/exchange/12,
// #/scenario, #/population, #/population/<NISS>, #/conformance, #/conformance/<run>).

import { api, showError } from "/__admin/ui/api.js";
import { renderConformance } from "/__admin/ui/conformance.js";
import { renderExchange } from "/__admin/ui/exchange.js";
import { renderJournal } from "/__admin/ui/journal.js";
import { renderPopulation } from "/__admin/ui/population.js";
import { renderScenario } from "/__admin/ui/scenario.js";

const views = [
  [/^#\/journal$/, "journal", (view) => renderJournal(view)],
  [/^#\/exchange\/(\d+)$/, "journal", (view, id) => renderExchange(view, id)],
  [/^#\/scenario$/, "scenario", (view) => renderScenario(view, refreshClock)],
  [/^#\/population(?:\/(\d{11}))?$/, "population", (view, id) => renderPopulation(view, id)],
  [/^#\/conformance(?:\/([A-Za-z0-9._-]+))?$/, "conformance", (view, id) => renderConformance(view, id)],
];

let cleanup = null;

async function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  showError(null);
  const hash = location.hash || "#/journal";
  const found = views.find(([pattern]) => pattern.test(hash)) || views[0];
  const [pattern, tab, render] = found;
  const match = hash.match(pattern) || [];
  for (const link of document.querySelectorAll(".tabs a")) {
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const view = document.getElementById("view");
  view.replaceChildren();
  try {
    cleanup = (await render(view, match[1])) || null;
  } catch (error) {
    showError(error);
  }
  const heading = view.querySelector("h2");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

export async function refreshClock() {
  try {
    const clock = await api.get("/__admin/clock");
    const state = clock.frozen ? "frozen" : "running";
    document.getElementById("clock-status").textContent =
      `Business date ${clock.today} · ${clock.now} UTC · ${state}`;
  } catch (error) {
    document.getElementById("clock-status").textContent = `clock: ${error.message}`;
  }
}

window.addEventListener("hashchange", route);
route();
refreshClock();
setInterval(refreshClock, 10000);
