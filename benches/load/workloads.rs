//! What the IdPs do, over HTTP: Okta's initial push, Entra's cycle, the steady state an instance
//! lives in afterwards, logins, and a flooding neighbour.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::Res;
use crate::client::{
    Cpu, Figure, Http, Samples, created_id, filter, group_body, one, run_for, run_jobs, user_body,
};

/// One organization under load: its clients' settings and what was created in it.
#[derive(Clone)]
pub struct Org {
    pub id: i64,
    pub http: Http,
    pub users: Vec<String>,
}

/// A group a workload created: which org (index into the orgs), its id and name.
#[derive(Clone, Debug)]
pub struct Group {
    pub org: usize,
    pub id: String,
    pub name: String,
}

/// A case's figures, plus what it measured beyond operations (groups/s, memory, …).
pub struct Case {
    pub name: String,
    pub figures: Vec<Figure>,
    pub notes: serde_json::Map<String, serde_json::Value>,
}

impl Case {
    pub fn new(name: &str, figures: Vec<Figure>) -> Case {
        Case {
            name: name.to_owned(),
            figures,
            notes: Default::default(),
        }
    }

    pub fn note(mut self, key: &str, value: serde_json::Value) -> Case {
        self.notes.insert(key.to_owned(), value);
        self
    }
}

/// A few users per organization, for membership changes (not measured).
pub async fn create_users(orgs: &mut [Org], per_org: usize, run: &str) -> Res<()> {
    for org in orgs.iter_mut() {
        for u in 0..per_org {
            let answer = org
                .http
                .post(
                    "/Users",
                    &user_body(&format!("u{u}-{run}-{}@load.example", org.id)),
                )
                .await?;
            org.users.push(created_id(&answer, "POST /Users")?);
        }
    }
    Ok(())
}

/// Okta's initial push of `groups` groups into each org: per group a `displayName eq` lookup
/// (empty), a create, a PATCH adding the org's users, and the rename PATCH Okta repeats on every
/// change (same name: the gateway must make it cheap). Groups interleave over the orgs, as several
/// tenants pushing at once would.
pub async fn okta_push(
    label: &str,
    orgs: &[Org],
    groups: usize,
    run: &str,
    clients: usize,
) -> Res<(Case, Vec<Group>)> {
    let created = Arc::new(Mutex::new(Vec::new()));
    let orgs = Arc::new(orgs.to_vec());
    let (run, sink) = (run.to_owned(), created.clone());
    let (samples, wall) = run_jobs(clients, orgs.len() * groups, move |job| {
        let (orgs, run, sink) = (orgs.clone(), run.clone(), sink.clone());
        async move {
            let o = job % orgs.len();
            let org = &orgs[o];
            let name = format!("okta-{run}-{}-{}", org.id, job / orgs.len());
            let mut s = Samples::default();
            let miss = org
                .http
                .get(&format!("/Groups?filter={}", filter("displayName", &name)))
                .await;
            s.record("okta: GET filter displayName eq (miss)", &miss);
            let post = org.http.post("/Groups", &group_body(&name, None)).await;
            s.record("okta: POST /Groups", &post);
            let Ok(id) = post.and_then(|a| created_id(&a, "okta create")) else {
                return s;
            };
            let members: Vec<_> = org.users.iter().map(|u| json!({"value": u})).collect();
            let path = format!("/Groups/{id}");
            let add = org
                .http
                .patch(&path, json!([{"op": "add", "path": "members", "value": members}]))
                .await;
            s.record("okta: PATCH add members", &add);
            let rename = org
                .http
                .patch(
                    &path,
                    json!([{"op": "replace", "value": {"id": id, "displayName": name}}]),
                )
                .await;
            s.record("okta: PATCH replace {id, displayName} (repeat)", &rename);
            sink.lock().expect("created").push(Group { org: o, id, name });
            s
        }
    })
    .await;
    let created = std::mem::take(&mut *created.lock().expect("created"));
    let case = Case::new(label, samples.figures(wall))
        .note("groups", json!(created.len()))
        .note("seconds", json!(wall.as_secs_f64()))
        .note(
            "groups_per_second",
            json!(created.len() as f64 / wall.as_secs_f64()),
        );
    Ok((case, created))
}

/// Entra's provisioning cycle per group: filter by `externalId` (miss), create with it, filter
/// again (hit), read without members, then the legacy PATCH dialect: `Replace` of `displayName`
/// by path, `Add` and `Remove` of one member with capitalised ops.
pub async fn entra_cycle(orgs: &[Org], groups: usize, run: &str, clients: usize) -> Res<Case> {
    let total = orgs.len() * groups;
    let orgs = Arc::new(orgs.to_vec());
    let run = run.to_owned();
    let (samples, wall) = run_jobs(clients, total, move |job| {
        let (orgs, run) = (orgs.clone(), run.clone());
        async move {
            let org = &orgs[job % orgs.len()];
            let n = job / orgs.len();
            let external = format!("ext-{run}-{}-{n}", org.id);
            let name = format!("entra-{run}-{}-{n}", org.id);
            let by_external = format!("/Groups?filter={}", filter("externalId", &external));
            let mut s = Samples::default();
            s.record(
                "entra: GET filter externalId eq (miss)",
                &org.http.get(&by_external).await,
            );
            let post = org
                .http
                .post("/Groups", &group_body(&name, Some(&external)))
                .await;
            s.record("entra: POST /Groups (externalId)", &post);
            let Ok(id) = post.and_then(|a| created_id(&a, "entra create")) else {
                return s;
            };
            s.record(
                "entra: GET filter externalId eq (hit)",
                &org.http.get(&by_external).await,
            );
            let path = format!("/Groups/{id}");
            let read = org.http.get(&format!("{path}?excludedAttributes=members")).await;
            s.record("entra: GET /Groups/{id}?excludedAttributes=members", &read);
            let ops = json!([{"op": "Replace", "path": "displayName", "value": format!("{name}-renamed")}]);
            s.record(
                "entra: PATCH Replace displayName",
                &org.http.patch(&path, ops).await,
            );
            let member = json!([{"value": org.users[n % org.users.len()]}]);
            let add = json!([{"op": "Add", "path": "members", "value": member}]);
            s.record("entra: PATCH Add member", &org.http.patch(&path, add).await);
            let remove = json!([{"op": "Remove", "path": "members", "value": member}]);
            s.record("entra: PATCH Remove member", &org.http.patch(&path, remove).await);
            s
        }
    })
    .await;
    Ok(Case::new("Entra cycle", samples.figures(wall))
        .note("groups", json!(total))
        .note("seconds", json!(wall.as_secs_f64())))
}

/// The operations names of the steady state, as the floor ratios refer to them.
pub const LOOKUP: &str = "GET /Groups?filter=displayName eq (hit)";
pub const GET: &str = "GET /Groups/{id}";
pub const GET_ROW: &str = "GET /Groups/{id}?excludedAttributes=members";
pub const CREATE: &str = "POST /Groups";

/// Each steady-state operation alone for `duration`, all clients on it (so each has a throughput
/// of its own to set against its floor). Client `w` works in org `w % orgs`, on that org's groups.
pub async fn steady_state(
    orgs: &[Org],
    groups: &[Group],
    run: &str,
    clients: usize,
    duration: Duration,
    pid: Option<u32>,
) -> Res<Case> {
    let orgs = Arc::new(orgs.to_vec());
    let mine: Arc<Vec<Vec<Group>>> = Arc::new(
        (0..orgs.len())
            .map(|o| groups.iter().filter(|g| g.org == o).cloned().collect())
            .collect(),
    );
    let pick = move |mine: &[Vec<Group>], w: usize, i: usize| -> Group {
        let list = &mine[w % mine.len()];
        list[(w / mine.len() + i * 7) % list.len()].clone()
    };
    let mut figures = Vec::new();
    let mut walls = serde_json::Map::new();
    macro_rules! case {
        ($name:expr, |$org:ident, $g:ident, $w:ident, $i:ident| $body:expr) => {{
            let (orgs, mine) = (orgs.clone(), mine.clone());
            let cpu = Cpu::start(pid);
            let (samples, wall) = run_for(clients, duration, move |$w, $i| {
                let $org = orgs[$w % orgs.len()].clone();
                let $g = pick(&mine, $w, $i);
                async move { $body }
            })
            .await;
            walls.insert($name.to_owned(), json!(wall.as_secs_f64()));
            figures.extend(cpu.attribute(samples.figures(wall)));
        }};
    }
    case!(LOOKUP, |org, g, _w, _i| {
        one(
            LOOKUP,
            &org.http
                .get(&format!("/Groups?filter={}", filter("displayName", &g.name)))
                .await,
        )
    });
    case!(GET, |org, g, _w, _i| one(
        GET,
        &org.http.get(&format!("/Groups/{}", g.id)).await
    ));
    case!(GET_ROW, |org, g, _w, _i| {
        one(
            GET_ROW,
            &org.http
                .get(&format!("/Groups/{}?excludedAttributes=members", g.id))
                .await,
        )
    });
    case!("PATCH add + remove one member", |org, g, _w, i| {
        let member = json!([{"value": org.users[i % org.users.len()]}]);
        let path = format!("/Groups/{}", g.id);
        // A user not yet in the group: the org's first users were all added by the push.
        let mut s = Samples::default();
        let remove = org
            .http
            .patch(
                &path,
                json!([{"op": "remove", "path": "members", "value": member}]),
            )
            .await;
        s.record("PATCH remove member", &remove);
        let add = org
            .http
            .patch(&path, json!([{"op": "add", "path": "members", "value": member}]))
            .await;
        s.record("PATCH add member", &add);
        s
    });
    case!("PATCH rename (Okta replace, new name)", |org, g, _w, i| {
        // Renamed away and back, so the population keeps its names for later cases.
        let name = if i % 2 == 0 {
            format!("{}-r", g.name)
        } else {
            g.name.clone()
        };
        let g2 = g.clone();
        let ops = json!([{"op": "replace", "value": {"id": g2.id, "displayName": name}}]);
        one(
            "PATCH rename (Okta replace, new name)",
            &org.http.patch(&format!("/Groups/{}", g.id), ops).await,
        )
    });
    let created = Arc::new(Mutex::new(Vec::<(usize, String)>::new()));
    let (sink, tag, workers) = (created.clone(), run.to_owned(), orgs.clone());
    let cpu = Cpu::start(pid);
    let (samples, wall) = run_for(clients, duration, move |w, i| {
        let (sink, org) = (sink.clone(), workers[w % workers.len()].clone());
        let name = format!("steady-{tag}-{w}-{i}");
        async move {
            let answer = org.http.post("/Groups", &group_body(&name, None)).await;
            if let Ok(a) = &answer
                && let Ok(id) = created_id(a, "create")
            {
                sink.lock().expect("created").push((w, id));
            }
            one(CREATE, &answer)
        }
    })
    .await;
    walls.insert(CREATE.into(), json!(wall.as_secs_f64()));
    figures.extend(cpu.attribute(samples.figures(wall)));
    // Deletes of what the creates added, so the population stays what it was.
    let doomed = Arc::new(std::mem::take(&mut *created.lock().expect("created")));
    let orgs2 = orgs.clone();
    let cpu = Cpu::start(pid);
    let (samples, wall) = run_jobs(clients, doomed.len(), move |job| {
        let (doomed, orgs) = (doomed.clone(), orgs2.clone());
        async move {
            let (w, id) = &doomed[job];
            let org = &orgs[w % orgs.len()];
            one(
                "DELETE /Groups/{id}",
                &org.http.send("DELETE", &format!("/Groups/{id}"), None).await,
            )
        }
    })
    .await;
    walls.insert("DELETE /Groups/{id}".into(), json!(wall.as_secs_f64()));
    figures.extend(cpu.attribute(samples.figures(wall)));
    let mut case = Case::new("Steady state (each operation alone)", figures);
    case.notes.insert("seconds".into(), json!(walls));
    Ok(case)
}

/// `POST /api/logins` with distinct users' ID tokens whose `groups` claim names catalog rows of
/// two organizations (each delegated to a team): each login adds the user to both teams.
pub async fn logins(http: &Http, tokens: Vec<String>, clients: usize) -> Res<Case> {
    let tokens = Arc::new(tokens);
    let http = http.clone();
    let (samples, wall) = run_jobs(clients, tokens.len(), move |job| {
        let (tokens, http) = (tokens.clone(), http.clone());
        async move {
            let answer = http.post("/api/logins", &json!({"id_token": tokens[job]})).await;
            one("POST /api/logins (first login, 2 orgs)", &answer)
        }
    })
    .await;
    Ok(Case::new("Logins", samples.figures(wall)))
}

/// A quiet organization's lookups (one client, paced at `rate` req/s, under its own limit) alone
/// for `duration`, then again while `flooders` clients of another organization send lookups as
/// fast as they can, far above that organization's rate limit.
pub async fn noisy_neighbour(
    quiet: &Org,
    quiet_name: &str,
    noisy: &Org,
    noisy_name: &str,
    flooders: usize,
    rate: f64,
    duration: Duration,
) -> Res<Case> {
    let alone = paced_lookups(quiet, quiet_name, rate, duration).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = Vec::new();
    for _ in 0..flooders {
        let (http, stop) = (noisy.http.clone(), stop.clone());
        let path = format!("/Groups?filter={}", filter("displayName", noisy_name));
        flood.push(tokio::spawn(async move {
            let mut s = Samples::default();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                s.record("flooding org: lookups", &http.get(&path).await);
            }
            s
        }));
    }
    let started = Instant::now();
    let during = paced_lookups(quiet, quiet_name, rate, duration).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut flooded = Samples::default();
    for f in flood {
        if let Ok(s) = f.await {
            flooded.merge(s);
        }
    }
    let wall = started.elapsed();
    let rename = |mut f: Vec<Figure>, name: &str| {
        for x in &mut f {
            x.operation = name.to_owned();
        }
        f
    };
    let mut figures = rename(alone.0.figures(alone.1), "quiet org: lookup, no flood");
    figures.extend(rename(
        during.0.figures(during.1),
        "quiet org: lookup, during flood",
    ));
    let flood_figures = flooded.figures(wall);
    let throttled: u64 = flood_figures
        .iter()
        .map(|f| f.errors.get(&429).copied().unwrap_or(0))
        .sum();
    let p99 = |i: usize| figures.get(i).map_or(f64::NAN, |f| f.p99_ms);
    let ratio = p99(1) / p99(0);
    figures.extend(flood_figures);
    Ok(
        Case::new("Noisy neighbour (per-org limits at their defaults)", figures)
            .note("quiet_p99_ratio_flood_over_alone", json!(ratio))
            .note("flood_throttled_429", json!(throttled)),
    )
}

async fn paced_lookups(org: &Org, name: &str, rate: f64, duration: Duration) -> (Samples, Duration) {
    let path = format!("/Groups?filter={}", filter("displayName", name));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let mut s = Samples::default();
    let mut next = started;
    while started.elapsed() < duration {
        s.record("quiet", &org.http.get(&path).await);
        next += interval;
        tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
    }
    (s, started.elapsed())
}

/// Lookups of existing groups alone for `duration` (the reference peer's steady state).
pub async fn lookups(org: &Org, groups: &[Group], clients: usize, duration: Duration) -> Res<Vec<Figure>> {
    let (org, groups) = (org.clone(), Arc::new(groups.to_vec()));
    let (samples, wall) = run_for(clients, duration, move |w, i| {
        let (org, groups) = (org.clone(), groups.clone());
        async move {
            let g = &groups[(w * 13 + i * 7) % groups.len()];
            one(
                LOOKUP,
                &org.http
                    .get(&format!("/Groups?filter={}", filter("displayName", &g.name)))
                    .await,
            )
        }
    })
    .await;
    Ok(samples.figures(wall))
}
