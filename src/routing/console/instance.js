// Instance: organizations (create, SSO on or off), how logins are routed, and every open conflict.
// Only for tokens with `instance_admin`.

import { api } from "./api.js";
import { badge, confirm, empty, field, fill, h, notice, section, table, toast, when } from "./dom.js";

export async function instancePage(ctx) {
  const { root } = ctx;
  const [{ organizations }, topology, { conflicts, claimConflicts }] = await Promise.all([
    api("GET", "/api/instance/orgs"),
    api("GET", "/api/instance/topology"),
    api("GET", "/api/instance/conflicts"),
  ]);
  fill(
    root,
    h("h1", { tabindex: -1 }, "Instance"),
    section(
      "Login routing",
      h(
        "p",
        {},
        "Topology ",
        badge(topology.topology, "info"),
        `: ${topology.ssoOrganizations} of ${topology.organizations} organizations have SSO active.`,
      ),
    ),
    section("Organizations", organizationsView(ctx, organizations), createForm(ctx)),
    section("Open conflicts", conflictsView(conflicts, claimConflicts)),
  );
}

function organizationsView(ctx, organizations) {
  if (organizations.length === 0) return empty(h("p", {}, "No organizations yet: create the first one below."));
  return table(
    "Organizations",
    ["Id", "Name", "SSO", ""],
    organizations.map((o) =>
      h(
        "tr",
        {},
        h("td", {}, String(o.id)),
        h("td", {}, h("a", { href: `#/orgs/${o.id}/groups` }, o.name)),
        h("td", {}, o.ssoActive ? badge("active", "scim") : badge("off", "manual")),
        h(
          "td",
          {},
          h(
            "button",
            {
              type: "button",
              class: o.ssoActive ? "danger small" : "secondary small",
              "data-key": `sso-${o.id}`,
              "aria-label": `${o.ssoActive ? "Turn off" : "Turn on"} SSO for ${o.name}`,
              onclick: () => toggleSso(ctx, o),
            },
            o.ssoActive ? "Turn SSO off" : "Turn SSO on",
          ),
        ),
      ),
    ),
  );
}

async function toggleSso(ctx, org) {
  if (
    org.ssoActive &&
    !(await confirm("Turn SSO off?", `${org.name}'s IdP can no longer push and its logins are no longer routed.`, "Turn off"))
  )
    return;
  try {
    await api("PATCH", `/api/instance/orgs/${org.id}`, { ssoActive: !org.ssoActive });
    toast(`SSO is now ${org.ssoActive ? "off" : "on"} for ${org.name}.`);
  } catch (e) {
    if (e.status !== 401) toast(e.message);
  }
  ctx.reload(`sso-${org.id}`);
}

function createForm(ctx) {
  const name = h("input", { required: true, maxlength: 256, "data-key": "org-name", autocomplete: "off" });
  const sso = h("input", { type: "checkbox", checked: true, id: "new-org-sso" });
  const problem = h("div", { "aria-live": "assertive" });
  const form = h(
    "form",
    {},
    field("New organization's name", name),
    h("div", { class: "field check" }, sso, h("label", { for: sso.id }, "SSO active (its IdP may push and its logins are routed)")),
    problem,
    h("div", { class: "actions" }, h("button", { class: "primary" }, "Create organization")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const org = await api("POST", "/api/instance/orgs", { name: name.value, ssoActive: sso.checked });
      toast(`Created ${org.name} (id ${org.id}).`);
      ctx.reload("org-name");
    } catch (e) {
      if (e.status !== 401) fill(problem, notice("error", e.message));
    }
  });
  return form;
}

function conflictsView(conflicts, claimConflicts) {
  if (conflicts.length === 0 && claimConflicts.length === 0) return empty(h("p", {}, "No open conflicts on this instance."));
  return [
    conflicts.length > 0 &&
      table(
        "Open uniqueness conflicts",
        ["Group name", "Pushed by", "Held by", "Attempts", "Last seen"],
        conflicts.map((c) =>
          h("tr", {}, h("td", {}, c.displayName), h("td", {}, c.organization.name), h("td", {}, c.heldBy.name), h("td", {}, String(c.count)), h("td", {}, when(c.lastSeen))),
        ),
      ),
    claimConflicts.length > 0 && [
      h("h3", {}, "Ambiguous login claims"),
      table(
        "Claim values that match groups in several organizations",
        ["Claim value", "Organizations", "Seen", "Last seen"],
        claimConflicts.map((c) =>
          h("tr", {}, h("td", {}, c.claimValue), h("td", {}, c.organizations.map((o) => o.name).join(", ")), h("td", {}, String(c.count)), h("td", {}, when(c.lastSeen))),
        ),
      ),
    ],
  ];
}
