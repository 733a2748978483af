// Group mapping: the SCIM endpoint and its token, what the IdP has pushed (activity, catalog,
// conflicts) and how its identities meet the platform's (matching settings).

import { api, orgPath } from "./api.js";
import { badge, confirm, copyButton, dialog, empty, field, fill, h, notice, section, table, toast, when } from "./dom.js";

const READ_ONLY = "Your token grants read access only to this organization.";

export async function groupsPage(ctx) {
  const { root, org } = ctx;
  const [config, catalog] = await Promise.all([
    api("GET", orgPath(org.id, "/scim/config")),
    api("GET", orgPath(org.id, "/idp-groups")),
  ]);
  const activity = h("div", {}, h("p", { class: "muted" }, "Loading SCIM activity…"));
  fill(
    root,
    h("h1", { tabindex: -1 }, "Group mapping"),
    h("p", { class: "lead" }, `Organization ${org.name}: groups pushed by your IdP, and the SCIM endpoint it pushes to.`),
    !org.canWrite && notice("info", READ_ONLY),
    endpointSection(ctx, config),
    catalogSection(ctx, config, catalog.groups),
    conflictsSection(org, config.openConflicts),
    section("SCIM activity", activity),
    settingsSection(ctx, config),
  );
  // The activity is the slowest read and the least needed at first sight: it fills in after.
  try {
    fill(activity, activityView(ctx, await api("GET", orgPath(org.id, "/scim/activity"))));
  } catch (e) {
    if (e.status !== 401) fill(activity, notice("error", `The activity could not be read: ${e.message}`));
  }
}

function endpointSection(ctx, config) {
  const { org } = ctx;
  const url = h("input", { readonly: true, value: config.endpointUrl, class: "mono", "data-key": "endpoint" });
  const token = config.hasActiveToken
    ? h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Token"),
        h("dd", {}, h("code", { "data-testid": "masked-token" }, config.maskedToken)),
        h("dt", {}, "Created"),
        h("dd", {}, when(config.tokenCreatedAt)),
        h("dt", {}, "Last used"),
        h("dd", {}, when(config.tokenLastUsed, "not yet used by your IdP")),
      )
    : empty(h("p", {}, "No active token: generate one and paste it into your IdP's SCIM settings."));
  const button = (label, key, action, kind = "secondary") =>
    h("button", { type: "button", class: kind, "data-key": key, disabled: !org.canWrite, onclick: action }, label);
  const actions = config.hasActiveToken
    ? [
        button("Rotate token", "rotate", () => issue(ctx, "rotate")),
        button("Revoke token", "revoke", () => revoke(ctx), "danger"),
      ]
    : [button("Generate token", "generate", () => issue(ctx, "generate"), "primary")];
  return section(
    "SCIM endpoint",
    h(
      "div",
      { class: "inline" },
      field("SCIM base URL", url),
      copyButton(config.endpointUrl, "Copy URL"),
    ),
    h("p", { class: "hint" }, "Okta: SCIM connector base URL. Entra ID: Tenant URL."),
    h("h3", {}, "Bearer token"),
    token,
    h("div", { class: "actions" }, actions),
  );
}

/** Generates or rotates the token, then shows it once. */
async function issue(ctx, mode) {
  const rotate = mode === "rotate";
  const ok = await confirm(
    rotate ? "Rotate the SCIM token?" : "Generate a SCIM token?",
    rotate
      ? "The current token stops working at once. Your IdP's pushes fail until you paste the new token into it."
      : "A new bearer token for your IdP. Any active token stops working.",
    rotate ? "Rotate" : "Generate",
  );
  if (!ok) return;
  let answer;
  try {
    answer = await api("POST", orgPath(ctx.org.id, rotate ? "/scim/token/rotate" : "/scim/token"));
  } catch (e) {
    if (e.status !== 401) toast(e.message);
    return;
  }
  const secret = h("input", { readonly: true, value: answer.token, class: "mono", "data-testid": "new-token" });
  await dialog(
    "Your new SCIM token",
    h(
      "div",
      {},
      notice("warning", "This is the only time the token is shown. Copy it into your IdP now; it cannot be shown again."),
      h("div", { class: "inline" }, field("Token", secret), copyButton(answer.token, "Copy token")),
    ),
    [["Done", "done", "primary"]],
  );
  ctx.reload(rotate ? "rotate" : "generate");
}

async function revoke(ctx) {
  const ok = await confirm(
    "Revoke the SCIM token?",
    "Your IdP can no longer push until you generate a new token. Groups already pushed stay.",
    "Revoke",
  );
  if (!ok) return;
  try {
    await api("DELETE", orgPath(ctx.org.id, "/scim/token"));
    toast("The token was revoked.");
  } catch (e) {
    if (e.status !== 401) toast(e.message);
  }
  ctx.reload("generate");
}

function catalogSection(ctx, config, groups) {
  const { org } = ctx;
  const rows = groups.map((g) =>
    h(
      "tr",
      { "data-name": g.displayName.toLowerCase() },
      h("td", {}, g.displayName),
      h("td", {}, g.source === "SCIM" ? badge("SCIM") : badge("Manual", "manual")),
      h("td", {}, g.linkedTeam ? h("a", { href: `#/orgs/${org.id}/teams/${g.linkedTeam.id}` }, g.linkedTeam.name) : h("span", { class: "muted" }, "none")),
      h(
        "td",
        {},
        g.source === "MANUAL"
          ? h(
              "button",
              {
                type: "button",
                class: "danger small",
                disabled: !org.canWrite,
                "aria-label": `Delete ${g.displayName}`,
                onclick: () => removeGroup(ctx, g),
              },
              "Delete",
            )
          : h("span", { class: "muted" }, "managed by your IdP"),
      ),
    ),
  );
  const count = h("p", { class: "muted", "aria-live": "polite" }, counted(groups.length, "group"));
  const search = h("input", { type: "search", placeholder: "Filter by name", "data-key": "search" });
  search.addEventListener("input", () => {
    const term = search.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      row.hidden = !row.dataset.name.includes(term);
      if (!row.hidden) shown += 1;
    }
    fill(count, term ? `${shown} of ${counted(groups.length, "group")} match` : counted(groups.length, "group"));
  });
  const list =
    groups.length === 0
      ? empty(
          h("p", {}, h("strong", {}, "No IdP groups yet: point your IdP at this endpoint.")),
          h("p", {}, h("code", {}, config.endpointUrl)),
          h("p", { class: "muted" }, "Groups your IdP pushes appear here with a SCIM badge. You can also add a group by hand below."),
        )
      : [field("Search groups", search), count, table("IdP groups", ["Name", "Source", "Linked team", ""], rows)];
  return section("IdP groups", list, addGroupForm(ctx));
}

function addGroupForm(ctx) {
  const name = h("input", { required: true, maxlength: 256, "data-key": "add-group", autocomplete: "off" });
  const problem = h("div", { "aria-live": "assertive" });
  const form = h(
    "form",
    { class: "inline" },
    field("Add a group by hand", name, "For a group your IdP does not push (a manual entry)."),
    h("button", { class: "primary", disabled: !ctx.org.canWrite }, "Add group"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const group = await api("POST", orgPath(ctx.org.id, "/idp-groups"), { displayName: name.value });
      toast(`Added ${group.displayName}.`);
      ctx.reload("add-group");
    } catch (e) {
      if (e.status !== 401) fill(problem, notice("error", e.message));
    }
  });
  return h("div", {}, form, problem);
}

async function removeGroup(ctx, group) {
  const ok = await confirm(
    "Delete this group?",
    `“${group.displayName}” is removed from the catalog. A team linked to it becomes orphaned and loses its delegated members.`,
    "Delete",
  );
  if (!ok) return;
  try {
    await api("DELETE", orgPath(ctx.org.id, `/idp-groups/${encodeURIComponent(group.id)}`));
    toast(`Deleted ${group.displayName}.`);
  } catch (e) {
    if (e.status !== 401) toast(e.message);
  }
  ctx.reload("search");
}

function conflictsSection(org, conflicts) {
  if (conflicts.length === 0) return section("Open conflicts", h("p", { class: "muted" }, "No open conflicts: every group your IdP pushed has a name of its own."));
  const holder = (heldBy) => (typeof heldBy === "string" ? heldBy : heldBy.name);
  return section(
    "Open conflicts",
    notice(
      "warning",
      "Your IdP pushed groups whose names are already taken on this instance, so they were refused. Rename each in your IdP (for example as suggested) and push again.",
    ),
    table(
      "Open uniqueness conflicts",
      ["Group name", "Held by", "Attempts", "Last seen", "Suggested rename"],
      conflicts.map((c) =>
        h(
          "tr",
          {},
          h("td", {}, c.displayName),
          h("td", {}, holder(c.heldBy)),
          h("td", {}, String(c.count)),
          h("td", {}, when(c.lastSeen)),
          h("td", {}, h("code", {}, `${c.displayName} (${org.name})`)),
        ),
      ),
    ),
  );
}

/** `1 request`, `2 requests`. */
function counted(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function activityView(ctx, activity) {
  const { org } = ctx;
  const totals = activity.hours.reduce((t, hour) => ({ requests: t.requests + hour.requests, errors: t.errors + hour.errors }), { requests: 0, errors: 0 });
  const peak = Math.max(1, ...activity.hours.map((hour) => hour.requests));
  const hours = h(
    "ol",
    { class: "hours", "aria-label": "Requests per hour, last 24 hours" },
    activity.hours.map((hour) => {
      const label = `${new Date(hour.hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ${counted(hour.requests, "request")}, ${counted(hour.errors, "error")}`;
      const bar = h("span", { class: "bar" });
      bar.style.height = `${(100 * hour.requests) / peak}%`;
      const errors = h("span", { class: "bar errors" });
      errors.style.height = `${(100 * hour.errors) / peak}%`;
      return h("li", { title: label, "aria-label": label }, bar, errors);
    }),
  );
  const errors =
    activity.errors.length === 0
      ? empty(h("p", {}, "No SCIM errors recorded."))
      : table(
          "Last SCIM errors",
          ["When", "Request", "Status", "Detail", "Correlation id"],
          activity.errors.map((e) =>
            h(
              "tr",
              {},
              h("td", {}, when(e.at)),
              h("td", {}, h("code", {}, `${e.method} ${e.path}`)),
              h("td", {}, String(e.status), e.scimType && [" ", badge(e.scimType, "error")]),
              h("td", { class: "detail" }, e.detail),
              h("td", {}, h("a", { href: `#/orgs/${org.id}/audit?correlationId=${encodeURIComponent(e.correlationId)}`, class: "mono" }, e.correlationId)),
            ),
          ),
        );
  return h(
    "div",
    {},
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Last push"),
      h("dd", { "data-testid": "last-push" }, when(activity.lastPushAt, "your IdP has not pushed yet")),
      h("dt", {}, "Last request"),
      h("dd", {}, when(activity.lastRequestAt, "none yet")),
      h("dt", {}, "Last 24 hours"),
      h("dd", {}, `${counted(totals.requests, "request")}, ${counted(totals.errors, "error")}`),
    ),
    hours,
    h(
      "div",
      { class: "axis", "aria-hidden": "true" },
      h("span", {}, "24 hours ago"),
      h("span", {}, h("span", { class: "key" }, "requests"), h("span", { class: "key errors" }, "errors")),
      h("span", {}, "now"),
    ),
    h("h3", {}, "Last SCIM errors"),
    errors,
  );
}

function settingsSection(ctx, config) {
  const { org } = ctx;
  const select = (key, value, options) =>
    h("select", { "data-key": key, disabled: !org.canWrite }, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  const claimMatch = select("claimMatch", config.claimMatch, [
    ["displayName", "Group name (displayName)"],
    ["externalId", "IdP group id (externalId)"],
  ]);
  const accountMatch = select("accountMatch", config.accountMatch, [
    ["email", "E-mail address"],
    ["externalId", "IdP user id (externalId)"],
  ]);
  const deprovision = h("input", { type: "checkbox", checked: config.pushDeprovisioning, disabled: !org.canWrite, "data-key": "pushDeprovisioning" });
  deprovision.id = "push-deprovisioning";
  const form = h(
    "form",
    {},
    field("Match login groups by", claimMatch, "What a login's groups claim is compared with. Entra ID sends group ids (externalId)."),
    field("Match SCIM users to accounts by", accountMatch, "How a user your IdP pushes is found among the platform's accounts."),
    h(
      "div",
      { class: "field check" },
      deprovision,
      h("label", { for: deprovision.id }, "Remove delegated team members as soon as the IdP pushes that they left a group or were deactivated"),
    ),
    h("div", { class: "actions" }, h("button", { class: "primary", disabled: !org.canWrite, "data-key": "save-settings" }, "Save settings")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("PATCH", orgPath(org.id, "/scim/config"), {
        claimMatch: claimMatch.value,
        accountMatch: accountMatch.value,
        pushDeprovisioning: deprovision.checked,
      });
      toast("Settings saved.");
      ctx.reload("save-settings");
    } catch (e) {
      if (e.status !== 401) toast(e.message);
    }
  });
  return section("Matching", form);
}
