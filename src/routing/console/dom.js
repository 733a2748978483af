// Building the page. Every string reaches the DOM as a text node or an attribute value, never as
// markup: group and user names come from IdPs and must show literally (design §2).

/** An element: `h("button", {class: "primary", onclick: f}, "Save")`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    // Links stay inside the console: a URL built from IdP data could otherwise be `javascript:`.
    if ((name === "href" || name === "src") && !/^[#/]/.test(String(value))) {
      throw new Error(`refused ${name} outside the console: ${value}`);
    }
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "value") el.value = value;
    else if (name === "checked") el.checked = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
/** A fresh id for pairing a label with its control. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled control: `field("Name", h("input", {...}))`, optionally with a hint below it. */
export function field(label, control, hint) {
  control.id ||= uid("f");
  const hintEl = hint && h("p", { class: "hint", id: uid("hint") }, hint);
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl);
}

/** A page section with a heading. */
export function section(title, ...children) {
  const heading = h("h2", { id: uid("s") }, title);
  return h("section", { "aria-labelledby": heading.id }, heading, ...children);
}

/** A small coloured label: SCIM, MANUAL, DELEGATED, ORPHANED … */
export function badge(text, kind = text.toLowerCase()) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

/** What a list shows when it has nothing, saying what to do next. */
export function empty(...children) {
  return h("div", { class: "empty" }, ...children);
}

/** A warning or error box; `role=alert` makes screen readers announce it. */
export function notice(kind, ...children) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "note" }, ...children);
}

/** A table with a caption (for assistive technology) and a header row. */
export function table(caption, headers, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, rows),
    ),
  );
}

/** An ISO time for people, with the exact value on hover; "never" for none. */
export function when(iso, never = "never") {
  if (!iso) return h("span", { class: "muted" }, never);
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, date.toLocaleString());
}

/** A button that copies `text` and says so. */
export function copyButton(text, label = "Copy") {
  const button = h("button", { type: "button", class: "secondary" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      toast("Copied to the clipboard");
    } catch {
      toast("Copying was refused by the browser: select the text and copy it");
    }
  });
  return button;
}

/** A short message in the live region, gone after a while. */
export function toast(message) {
  const region = document.getElementById("toast");
  fill(region, message);
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => fill(region), 6000);
}

/**
 * A modal dialog; resolves with the value of the button that closed it ("" for Escape).
 * `<dialog>` keeps focus inside while open and gives it back to the opener when closed.
 */
export function dialog(title, body, buttons) {
  const heading = h("h2", { id: uid("d") }, title);
  const el = h(
    "dialog",
    { "aria-labelledby": heading.id },
    h(
      "form",
      { method: "dialog" },
      heading,
      body,
      h(
        "div",
        { class: "actions" },
        buttons.map(([label, value, kind]) => h("button", { value, class: kind ?? "secondary" }, label)),
      ),
    ),
  );
  document.body.append(el);
  return new Promise((resolve) => {
    el.addEventListener("close", () => {
      el.remove();
      resolve(el.returnValue);
    });
    el.showModal();
  });
}

/** Asks before a change that cannot be undone; true when confirmed. */
export async function confirm(title, message, action) {
  const answer = await dialog(title, h("p", {}, message), [
    ["Cancel", "cancel"],
    [action, "confirm", "danger"],
  ]);
  return answer === "confirm";
}
