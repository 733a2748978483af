// The console's shell: sign-in, navigation and the hash routes of its pages.
//   #/orgs/{orgId}/groups  #/orgs/{orgId}/teams  #/orgs/{orgId}/teams/{teamId}
//   #/orgs/{orgId}/audit?type=&correlationId=&before=  #/instance  #/signin

import { api, expiry, signIn, signOut, signOutExpired, token } from "./api.js";
import { fill, field, h, notice } from "./dom.js";
import { groupsPage } from "./groups.js";
import { instancePage } from "./instance.js";
import { auditPage } from "./audit.js";
import { teamPage, teamsPage } from "./teams.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");

/** `GET /api/me` for the signed-in token; null while signed out. */
let me = null;
/** Why the last session ended, shown on the sign-in page once. */
let reason = null;
let expiryTimer = null;
/** Bumped by every render, so a slow page never draws over a newer one. */
let generation = 0;

window.addEventListener("signed-out", (event) => {
  me = null;
  reason = event.detail;
  clearTimeout(expiryTimer);
  if (location.hash !== "#/signin") location.hash = "#/signin";
  else render();
});
window.addEventListener("hashchange", () => render());
document.getElementById("skip").addEventListener("click", () => main.focus());
render();

function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query) };
}

/** Draws the page the hash names; `focusKey` puts focus back on the control that acted. */
async function render(focusKey) {
  const mine = ++generation;
  if (!token()) return signInPage();
  if (!me) {
    try {
      me = await api("GET", "/api/me");
    } catch (e) {
      if (e.status !== 401) fill(main, notice("error", e.message));
      return;
    }
    watchExpiry();
  }
  const { parts, params } = route();
  const [top, orgId, page = "groups", teamId] = parts;
  if (top === "instance" && me.instanceAdmin) return show(mine, "instance", null, instancePage, { params }, focusKey);
  if (top !== "orgs" || !orgId) return location.replace(home());
  const org = me.organizations.find((o) => String(o.id) === orgId) ?? { id: orgId, name: `#${orgId}`, canWrite: false };
  const pages = { groups: groupsPage, teams: teamId ? teamPage : teamsPage, audit: auditPage };
  if (!pages[page]) return location.replace(`#/orgs/${orgId}/groups`);
  show(mine, page, org, pages[page], { org, teamId, params }, focusKey);
}

async function show(mine, page, org, draw, ctx, focusKey) {
  drawNav(page, org);
  const root = h("div", { class: "page" });
  fill(main, root);
  try {
    await draw({ ...ctx, root, reload: (key) => render(key), go: (hash) => (location.hash = hash) });
  } catch (e) {
    if (e.status === 401 || mine !== generation) return;
    fill(root, h("h1", { tabindex: -1 }, "Something went wrong"), notice("error", e.message));
  }
  if (mine !== generation) return;
  const again = focusKey && root.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
  (again ?? root.querySelector("h1"))?.focus();
}

function home() {
  const first = me.organizations[0];
  if (first) return `#/orgs/${first.id}/groups`;
  return me.instanceAdmin ? "#/instance" : "#/signin";
}

function drawNav(page, org) {
  const link = (hash, label, current) =>
    h("a", { href: hash, "aria-current": current ? "page" : null }, label);
  const picker = h(
    "select",
    {
      id: "org-picker",
      onchange: (e) => (location.hash = `#/orgs/${e.target.value}/${page === "instance" ? "groups" : page}`),
    },
    me.organizations.map((o) => h("option", { value: o.id, selected: org && String(o.id) === String(org.id) }, o.name)),
  );
  fill(
    nav,
    me.organizations.length > 0 && h("div", { class: "org" }, h("label", { for: "org-picker" }, "Organization"), picker),
    org &&
      h(
        "div",
        { class: "links" },
        link(`#/orgs/${org.id}/groups`, "Group mapping", page === "groups"),
        link(`#/orgs/${org.id}/teams`, "Teams", page === "teams"),
        link(`#/orgs/${org.id}/audit`, "Audit", page === "audit"),
      ),
    me.instanceAdmin && h("div", { class: "links" }, link("#/instance", "Instance", page === "instance")),
    h(
      "div",
      { class: "who" },
      h("span", { class: "muted" }, "Signed in as ", h("strong", {}, me.subject)),
      h("button", { type: "button", class: "secondary", onclick: () => signOut("You signed out.") }, "Sign out"),
    ),
  );
}

/** Signs out when the token lapses, so a stale tab does not look signed in. */
function watchExpiry() {
  clearTimeout(expiryTimer);
  const at = expiry(token());
  if (!at) return;
  const left = at - Date.now();
  const lapse = () => signOutExpired(at);
  if (left <= 0) lapse();
  // setTimeout holds at most ~24.8 days.
  else if (left < 2 ** 31) expiryTimer = setTimeout(lapse, left);
}

function signInPage() {
  generation += 1;
  fill(nav);
  const input = h("textarea", { rows: 5, required: true, autocomplete: "off", spellcheck: "false", class: "mono" });
  const problem = h("div", { "aria-live": "assertive" });
  const form = h(
    "form",
    { class: "card signin" },
    h("h1", { tabindex: -1 }, "Sign in to the scimgate console"),
    reason && notice("warning", reason),
    field(
      "Admin token (JWT)",
      input,
      "Paste the token your platform issued. Locally: scimgate admin-jwt --sub you --org ORG_ID=read,write. " +
        "It is kept in this browser tab only and sent only to this gateway.",
    ),
    problem,
    h("div", { class: "actions" }, h("button", { class: "primary" }, "Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const jwt = input.value.trim();
    if (jwt.split(".").length !== 3) {
      fill(problem, notice("error", "That is not a JWT: it should be three parts separated by dots."));
      return input.focus();
    }
    reason = null;
    signIn(jwt);
    try {
      me = await api("GET", "/api/me");
    } catch (e) {
      if (e.status !== 401) fill(problem, notice("error", e.message));
      return;
    }
    watchExpiry();
    if (me.organizations.length === 0 && !me.instanceAdmin) {
      signOut("Signed out: this token grants no organization on this gateway.");
      return;
    }
    // Back to the page the tab was on before the sign-in, if any.
    const target = ["", "#/signin"].includes(location.hash) ? home() : location.hash;
    if (location.hash === target) render();
    else location.hash = target;
  });
  fill(main, form);
  form.querySelector("h1").focus();
}
