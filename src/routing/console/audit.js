// Audit: the organization's events, newest first, filtered by type and correlation id, paged with
// the API's `before` cursor kept in the URL (so Back returns to the newer page).

import { api, orgPath } from "./api.js";
import { empty, field, fill, h, section, table, when } from "./dom.js";

const TYPES = [
  "scim_token_created",
  "scim_token_updated",
  "idp_group_created",
  "idp_group_updated",
  "idp_group_deleted",
  "team_created",
  "team_updated",
  "team_deleted",
  "team_member_created",
  "team_member_deleted",
  "org_member_created",
  "account_created",
  "account_bound",
];
const PAGE = 50;

export async function auditPage(ctx) {
  const { root, org, params } = ctx;
  const type = params.get("type") ?? "";
  const correlationId = params.get("correlationId") ?? "";
  const before = params.get("before") ?? "";
  const hash = (changes) => {
    const next = new URLSearchParams({ type, correlationId, before, ...changes });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    const query = next.toString();
    return `#/orgs/${org.id}/audit${query ? `?${query}` : ""}`;
  };
  const query = new URLSearchParams({ limit: PAGE });
  if (type) query.set("type", type);
  if (correlationId) query.set("correlationId", correlationId);
  if (before) query.set("before", before);
  const { events, nextBefore } = await api("GET", orgPath(org.id, `/audit-events?${query}`));

  const typeSelect = h(
    "select",
    { "data-key": "type" },
    h("option", { value: "" }, "Any type"),
    TYPES.map((t) => h("option", { value: t, selected: t === type }, t)),
  );
  const correlation = h("input", { value: correlationId, class: "mono", "data-key": "correlation", autocomplete: "off" });
  const filters = h(
    "form",
    { class: "inline filters" },
    field("Event type", typeSelect),
    field("Correlation id", correlation),
    h("button", { class: "primary" }, "Filter"),
    (type || correlationId) && h("a", { href: hash({ type: "", correlationId: "", before: "" }), class: "button secondary" }, "Clear filters"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.go(hash({ type: typeSelect.value, correlationId: correlation.value.trim(), before: "" }));
  });

  const rows = events.map((e) =>
    h(
      "tr",
      {},
      h("td", {}, when(e.at)),
      h("td", {}, h("code", {}, e.type)),
      h("td", {}, e.actor),
      h("td", {}, e.targetEmail ? `${e.targetEmail}` : e.target),
      h("td", {}, h("a", { href: hash({ correlationId: e.correlationId, type: "", before: "" }), class: "mono", title: "Show every event of this request" }, e.correlationId)),
      h("td", { class: "detail" }, e.data ? h("code", {}, JSON.stringify(e.data)) : ""),
    ),
  );
  const pager = h(
    "nav",
    { class: "actions", "aria-label": "Pages" },
    before && h("a", { href: hash({ before: "" }), class: "button secondary" }, "Newest"),
    nextBefore && h("a", { href: hash({ before: String(nextBefore) }), class: "button secondary", "data-key": "older" }, "Older events"),
  );
  fill(
    root,
    h("h1", { tabindex: -1 }, "Audit"),
    h("p", { class: "lead" }, "Every change to this organization's catalog, teams and tokens, newest first. Events of one request share a correlation id."),
    filters,
    section(
      correlationId ? `Events of request ${correlationId}` : "Events",
      events.length === 0
        ? empty(h("p", {}, type || correlationId ? "No event matches these filters." : "No events yet."))
        : table("Audit events, newest first", ["When", "Event", "Actor", "Target", "Correlation id", "Details"], rows),
      pager,
    ),
  );
}
