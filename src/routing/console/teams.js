// Teams: their delegation to IdP groups, the orphaned-team warning, members with provenance, and
// the removals the audit trail recorded (push-time deprovisioning among them).

import { api, orgPath } from "./api.js";
import { badge, confirm, empty, field, fill, h, notice, section, table, toast, when } from "./dom.js";

/** Why a membership went, as the audit event's `reason` says. */
const REASONS = {
  idp_membership_removed: "IdP push: removed from the group",
  idp_user_deactivated: "IdP push: user deactivated",
  idp_user_deleted: "IdP push: user deleted",
  idp_group_deleted: "IdP group deleted",
  login_claim: "Login: no longer in the group",
};

function stateBadge(team) {
  return badge(team.delegationState, team.delegationState.toLowerCase());
}

function orphanWarning(team) {
  return notice(
    "warning",
    h("strong", {}, "Orphaned team. "),
    `The IdP group “${team.orphanedGroupName ?? ""}” this team was linked to was deleted`,
    team.orphanedAt ? [" on ", when(team.orphanedAt)] : "",
    ", and its delegated members were removed. Link another group, or leave it unlinked to manage members by hand.",
  );
}

/** A select of the catalog's groups, `current` chosen; the empty value means no link. */
function groupPicker(groups, current, disabled) {
  return h(
    "select",
    { disabled, "data-key": "idp-group" },
    h("option", { value: "", selected: !current }, "No IdP group (members managed by hand)"),
    groups.map((g) => h("option", { value: g.id, selected: g.id === current }, `${g.displayName} (${g.source === "SCIM" ? "SCIM" : "manual"})`)),
  );
}

export async function teamsPage(ctx) {
  const { root, org } = ctx;
  const [{ teams }, { groups }] = await Promise.all([
    api("GET", orgPath(org.id, "/teams")),
    api("GET", orgPath(org.id, "/idp-groups")),
  ]);
  const orphaned = teams.filter((t) => t.delegationState === "ORPHANED");
  const list =
    teams.length === 0
      ? empty(h("p", {}, "No teams yet. Create one below and link it to an IdP group: its members then follow the group in your IdP."))
      : table(
          "Teams",
          ["Team", "Delegation", "IdP group"],
          teams.map((t) =>
            h(
              "tr",
              {},
              h("td", {}, h("a", { href: `#/orgs/${org.id}/teams/${t.id}` }, t.name)),
              h("td", {}, stateBadge(t)),
              h(
                "td",
                {},
                t.delegationState === "ORPHANED"
                  ? h("span", { class: "warning-text" }, `“${t.orphanedGroupName ?? ""}” was deleted`)
                  : (t.idpGroupName ?? h("span", { class: "muted" }, "none")),
              ),
            ),
          ),
        );
  fill(
    root,
    h("h1", { tabindex: -1 }, "Teams"),
    orphaned.map(orphanWarningWithLink(org)),
    section("All teams", list),
    section("Create a team", teamForm(ctx, groups, null)),
  );
}

function orphanWarningWithLink(org) {
  return (team) => h("div", { class: "orphan" }, orphanWarning(team), h("p", {}, h("a", { href: `#/orgs/${org.id}/teams/${team.id}` }, `Open ${team.name}`)));
}

/** The create form (`team` null) or the edit form of `team`. */
function teamForm(ctx, groups, team) {
  const { org } = ctx;
  const key = team ? "edit" : "create";
  const name = h("input", { required: true, maxlength: 256, value: team?.name ?? "", "data-key": `${key}-name`, autocomplete: "off" });
  const description = h("input", { value: team?.description ?? "", "data-key": `${key}-description`, autocomplete: "off" });
  const picker = groupPicker(groups, team?.idpGroupId ?? null, !org.canWrite);
  const problem = h("div", { "aria-live": "assertive" });
  const form = h(
    "form",
    {},
    field("Team name", name),
    field("Description", description),
    field("Linked IdP group", picker, "A linked team's members are the group's members who sign in; you cannot add or remove them here."),
    problem,
    h("div", { class: "actions" }, h("button", { class: "primary", disabled: !org.canWrite, "data-key": `${key}-save` }, team ? "Save team" : "Create team")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: name.value, description: description.value, idpGroupId: picker.value || null };
    try {
      if (team) {
        await api("PUT", orgPath(org.id, `/teams/${team.id}`), body);
        toast("Team saved.");
        ctx.reload("edit-save");
      } else {
        const created = await api("POST", orgPath(org.id, "/teams"), body);
        toast(`Created ${created.name}.`);
        ctx.go(`#/orgs/${org.id}/teams/${created.id}`);
      }
    } catch (e) {
      if (e.status !== 401) fill(problem, notice("error", e.message));
    }
  });
  return form;
}

export async function teamPage(ctx) {
  const { root, org, teamId } = ctx;
  const path = orgPath(org.id, `/teams/${encodeURIComponent(teamId)}`);
  const [team, { members }, { groups }, { events }] = await Promise.all([
    api("GET", path),
    api("GET", `${path}/members`),
    api("GET", orgPath(org.id, "/idp-groups")),
    api("GET", orgPath(org.id, `/audit-events?type=team_member_deleted&teamId=${encodeURIComponent(teamId)}&limit=50`)),
  ]);
  const delegated = team.delegationState === "DELEGATED";
  const why = delegated ? `Members of this team come from the IdP group “${team.idpGroupName}”: add or remove them in your IdP.` : null;
  fill(
    root,
    h("p", {}, h("a", { href: `#/orgs/${org.id}/teams` }, "← All teams")),
    h("h1", { tabindex: -1 }, team.name, " ", stateBadge(team)),
    team.description && h("p", { class: "lead" }, team.description),
    team.delegationState === "ORPHANED" && orphanWarning(team),
    section("Members", membersView(ctx, team, members, why), addMemberForm(ctx, team, why)),
    section("Recent removals", removalsView(events)),
    section("Settings", teamForm(ctx, groups, team), deleteTeam(ctx, team)),
  );
}

function membersView(ctx, team, members, why) {
  const { org } = ctx;
  if (members.length === 0) {
    return empty(
      h(
        "p",
        {},
        team.delegationState === "DELEGATED"
          ? `No members yet: members of “${team.idpGroupName}” join this team when they next sign in.`
          : "No members yet: add one by e-mail below.",
      ),
    );
  }
  return table(
    "Team members",
    ["E-mail", "Provenance", ""],
    members.map((m) =>
      h(
        "tr",
        {},
        h("td", {}, m.email ?? h("span", { class: "muted" }, m.userId)),
        h("td", {}, badge(m.provenance, m.provenance.toLowerCase())),
        h(
          "td",
          {},
          m.provenance === "MANUAL"
            ? h(
                "button",
                {
                  type: "button",
                  class: "danger small",
                  disabled: !org.canWrite,
                  "aria-label": `Remove ${m.email ?? m.userId}`,
                  onclick: () => removeMember(ctx, team, m),
                },
                "Remove",
              )
            : h("span", { class: "muted", title: why ?? "" }, "from the IdP"),
        ),
      ),
    ),
  );
}

function addMemberForm(ctx, team, why) {
  const { org } = ctx;
  const blocked = why ?? (!org.canWrite ? "Your token grants read access only to this organization." : null);
  const email = h("input", { type: "email", required: true, disabled: !!blocked, "data-key": "add-member", autocomplete: "off" });
  const problem = h("div", { "aria-live": "assertive" });
  const form = h(
    "form",
    { class: "inline" },
    field("Add a member by e-mail", email, blocked ?? "Someone without an account yet gets one when they first sign in."),
    h("button", { class: "primary", disabled: !!blocked }, "Add member"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", orgPath(org.id, `/teams/${team.id}/members`), { email: email.value });
      toast(`Added ${email.value}.`);
      ctx.reload("add-member");
    } catch (e) {
      if (e.status !== 401) fill(problem, notice("error", e.message));
    }
  });
  return h("div", {}, form, problem);
}

async function removeMember(ctx, team, member) {
  const who = member.email ?? member.userId;
  if (!(await confirm("Remove this member?", `${who} leaves ${team.name}.`, "Remove"))) return;
  try {
    await api("DELETE", orgPath(ctx.org.id, `/teams/${team.id}/members/${encodeURIComponent(member.userId)}`));
    toast(`Removed ${who}.`);
  } catch (e) {
    if (e.status !== 401) toast(e.message);
  }
  ctx.reload("add-member");
}

function removalsView(events) {
  if (events.length === 0) return empty(h("p", {}, "No one has been removed from this team."));
  return table(
    "Removals from this team, newest first",
    ["When", "Who", "Why", "By"],
    events.map((e) =>
      h(
        "tr",
        {},
        h("td", {}, when(e.at)),
        h("td", {}, e.targetEmail ?? e.target),
        h("td", {}, REASONS[e.data?.reason] ?? (e.data?.provenance === "MANUAL" ? "Removed by an owner" : (e.data?.reason ?? ""))),
        h("td", {}, e.actor),
      ),
    ),
  );
}

function deleteTeam(ctx, team) {
  const { org } = ctx;
  return h(
    "div",
    { class: "actions" },
    h(
      "button",
      {
        type: "button",
        class: "danger",
        disabled: !org.canWrite,
        onclick: async () => {
          if (!(await confirm("Delete this team?", `${team.name} and its memberships are deleted. This cannot be undone.`, "Delete team"))) return;
          try {
            await api("DELETE", orgPath(org.id, `/teams/${team.id}`));
            toast(`Deleted ${team.name}.`);
            ctx.go(`#/orgs/${org.id}/teams`);
          } catch (e) {
            if (e.status !== 401) toast(e.message);
          }
        },
      },
      "Delete team",
    ),
  );
}
