// Building the page without innerHTML: every value from the server goes in as text.

let uid = 0;

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A labelled control: <div class="field"><label for=id>text</label>control</div>.
export function field(text, control) {
  if (!control.id) control.id = newId("f");
  return h("div", { class: "field" }, h("label", { for: control.id }, text), control);
}

export function checkbox(text, attrs = {}) {
  const input = h("input", { type: "checkbox", id: newId("c"), ...attrs });
  return h("div", { class: "check" }, input, h("label", { for: input.id }, text));
}

export function select(name, options, value = "", attrs = {}) {
  const element = h("select", { name, ...attrs });
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option || "any"];
    element.append(h("option", { value: optionValue, selected: optionValue === value }, text));
  }
  return element;
}

export function badge(value) {
  return h("span", { class: `badge ${value}` }, value);
}

export function table(caption, headers, rows) {
  return h(
    "table",
    {},
    h("caption", { class: "muted" }, caption),
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    rows instanceof HTMLTableSectionElement ? rows : h("tbody", {}, rows),
  );
}

export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => [h("dt", {}, name), h("dd", {}, value ?? "–")]),
  );
}

export function pre(text, label) {
  return h("pre", { tabindex: "0", "aria-label": label }, text);
}

export function replaceChildren(target, ...children) {
  target.replaceChildren();
  append(target, children);
}

export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form).entries()) {
    if (value === "") continue;
    values[name] = values[name] ? `${values[name]},${value}` : String(value);
  }
  return values;
}
