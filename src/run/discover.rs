//! Discovery: what the target is and holds, before any check runs: its ONTAP version, every
//! record of each selected family (nested collections under a few of their parents' records),
//! and the sample of records the per-record checks touch.

use super::events::Events;
use crate::checks::{self, ctx::Ctx, records::Records};
use crate::client::{Client, PAGE_RECORDS, Request};
use crate::error::{Error, Result};
use crate::spec::model::{Kind, Method};
use crate::spec::{Endpoint, OntapVersion};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Reads the ONTAP version from /api/cluster; anything else ends the run with exit 3 (or 2 for
/// refused credentials). A transport failure is one line, with a hint when the cause is common:
/// an untrusted certificate, or a URL whose scheme does not match what the port speaks.
pub async fn discover_version(client: &Client) -> Result<OntapVersion> {
    let x = match client
        .send(Request::get("/api/cluster?fields=version,name,uuid"))
        .await
    {
        Ok(x) => x,
        Err(e) => {
            let m = &e.0;
            let https = client.base_url().starts_with("https://");
            let hint = if m.contains("certificate") || m.contains("UnknownIssuer") {
                " (the certificate is not trusted: use --ca-cert FILE, or --insecure)"
            } else if https && (m.contains("InvalidContentType") || m.contains("corrupt message")) {
                " (this port speaks plain HTTP: use http://)"
            } else if !https
                && !m.starts_with("timed out")
                && !m.contains("Connection refused")
                && client.port_speaks_tls().await
            {
                " (this port speaks TLS: use https://)"
            } else {
                ""
            };
            return Err(Error::Unreachable(format!(
                "{}: {m}{hint}",
                client.base_url()
            )));
        }
    };
    let r = &x.response;
    if r.status == 401 || r.status == 403 {
        return Err(Error::Usage(format!(
            "{} refused the credentials of {} ({})",
            client.base_url(),
            client.admin_user(),
            r.status
        )));
    }
    let json = r.json.as_ref().filter(|_| r.is_success()).ok_or_else(|| {
        Error::Unreachable(format!(
            "{} answered GET /api/cluster with {} {}, not ONTAP JSON",
            client.base_url(),
            r.status,
            r.content_type.as_deref().unwrap_or("(no content type)")
        ))
    })?;
    let v = json.get("version").ok_or_else(|| {
        Error::Unreachable(format!(
            "{}: GET /api/cluster has no version; not ONTAP-like",
            client.base_url()
        ))
    })?;
    let num = |k: &str| v.get(k).and_then(Value::as_u64).map(|n| n as u32);
    if let (Some(g), Some(m)) = (num("generation"), num("major")) {
        return Ok(OntapVersion::new(g, m, num("minor").unwrap_or(0)));
    }
    let full = v.get("full").and_then(Value::as_str).unwrap_or("");
    full.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find_map(|w| w.parse::<OntapVersion>().ok())
        .ok_or_else(|| {
            Error::Unreachable(format!(
                "{}: cannot read an ONTAP version from {v}",
                client.base_url()
            ))
        })
}

/// What discovery read: every family's records, and for each nested collection the parent path
/// its collection checks run at with the records under it.
#[derive(Default)]
pub(super) struct Discovered {
    pub records: BTreeMap<String, Arc<checks::records::Records>>,
    pub nested: BTreeMap<String, (String, Arc<checks::records::Records>)>,
}

/// Reads every record of each family: GET collection?fields=** (all fields, the costly ones
/// too), following next links, or the one record of a singleton family. Instance-only families
/// have no list to read. A nested collection is read under up to [`NESTED_PARENTS`] parents; the
/// one with the most records under it is where its collection checks run.
pub(super) async fn discover_records(
    ctx: &Ctx,
    endpoints: &[&'static Endpoint],
    progress: &Events,
) -> Discovered {
    let mut out = Discovered::default();
    let mut eps: Vec<&'static Endpoint> = endpoints
        .iter()
        .copied()
        .filter(|e| {
            matches!(e.kind(), Kind::Collection | Kind::Singleton)
                && e.has(Method::GET)
                && e.available_in(ctx.version)
        })
        .collect();
    // Parents before the collections nested under them.
    eps.sort_by_key(|e| e.path_keys().len());
    for ep in eps {
        let mut records = checks::records::Records::default();
        let nested = ep.kind() == Kind::Collection && !ep.path_keys().is_empty();
        for base in collection_paths(ctx, ep, &out.records) {
            if nested {
                let mut under = checks::records::Records::default();
                read_all(ctx, ep, &base, &mut under, progress).await;
                under.shrink_to_fit();
                for (id, r) in under.ids().zip(under.iter()) {
                    records.push(id.to_string(), &r);
                }
                let most = out.nested.get(&ep.family).map_or(0, |(_, r)| r.len());
                if most == 0 || under.len() > most {
                    out.nested
                        .insert(ep.family.clone(), (base, Arc::new(under)));
                }
            } else {
                read_all(ctx, ep, &base, &mut records, progress).await;
            }
        }
        records.shrink_to_fit();
        out.records.insert(ep.family.clone(), Arc::new(records));
    }
    out
}

/// How many records of a parent family a nested collection is read under.
const NESTED_PARENTS: usize = 3;

/// The paths a collection is read at: its own, or for a nested one
/// (`/api/storage/volumes/{volume.uuid}/snapshots`) one per record of its parent read so far,
/// up to [`NESTED_PARENTS`]; none when the parent has no record.
fn collection_paths(
    ctx: &Ctx,
    ep: &Endpoint,
    read: &BTreeMap<String, Arc<checks::records::Records>>,
) -> Vec<String> {
    if ep.kind() != Kind::Collection || ep.path_keys().is_empty() {
        return vec![ep.path().to_string()];
    }
    let Some((parent, pairs)) = ctx.spec.parent_of(ep) else {
        return Vec::new();
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    read.get(&parent.family)
        .map(|recs| {
            recs.iter()
                .filter_map(|r| {
                    let vals: Vec<(&str, String)> = pairs
                        .iter()
                        .map(|(theirs, mine)| {
                            Some((
                                mine.as_str(),
                                text(crate::spec::resource::get_path(&r, theirs)?)?,
                            ))
                        })
                        .collect::<Option<_>>()?;
                    let refs: Vec<(&str, &str)> =
                        vals.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    Some(ep.render(&refs))
                })
                .take(NESTED_PARENTS)
                .collect()
        })
        .unwrap_or_default()
}

/// Reads every record at one collection path (following next links), or a singleton's one.
async fn read_all(
    ctx: &Ctx,
    ep: &'static Endpoint,
    base: &str,
    records: &mut checks::records::Records,
    progress: &Events,
) {
    {
        let mut path = match ep.kind() {
            Kind::Collection => format!("{base}?fields=**&max_records={PAGE_RECORDS}"),
            _ => format!("{base}?fields=**"),
        };
        for _ in 0..100_000 {
            progress.reading(&format!(
                "the records of {}, {} so far",
                ep.family,
                records.len()
            ));
            let Some(x) = ctx
                .send("response-schema", ep, Request::get(path.clone()))
                .await
            else {
                break;
            };
            let found: Vec<&Value> = match ep.kind() {
                Kind::Singleton => x
                    .response
                    .json
                    .as_deref()
                    .filter(|_| x.response.is_success())
                    .into_iter()
                    .collect(),
                _ => x.response.records().into_iter().flatten().collect(),
            };
            for r in found {
                records.push(checks::read::identity(ep, ctx, r), r);
            }
            match x.response.next_path() {
                Some(next) => path = next,
                None => break,
            }
        }
    }
}

/// Of a family larger than the sample, the records of the rarest shapes ([`Records::rare_shapes`])
/// the sample takes first: one in eight of it (2 of the default 16; none of a sample under 8).
const RARE_IN_SAMPLE: usize = 8;

/// The records of a family the per-record checks touch, by their place: up to `sample / 8` of
/// the rarest shapes (a record that lacks a value the others have: what a filter on an unset
/// field is judged against, which 16 records drawn by the seed of a family of 1,000 where two
/// differ would miss), then as many more as the sample holds, by the seed. A family of `sample`
/// records or fewer is taken whole.
pub(crate) fn sample_of(records: &Records, ids: &[&str], seed: u64, sample: usize) -> Vec<usize> {
    let rare = match ids.len() > sample {
        true => records.rare_shapes(sample / RARE_IN_SAMPLE),
        false => Vec::new(),
    };
    checks::read::choose_sample(seed, sample, ids, &rare)
}

/// The records of each family the per-record checks touch: `--sample` of them ([`sample_of`]).
pub(super) fn sample_records(ctx: &Ctx) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    for (family, records) in &ctx.records {
        // A family without a collection (a singleton) is taken whole.
        if !ctx
            .spec
            .endpoints
            .iter()
            .any(|e| &e.family == family && e.kind() == Kind::Collection)
        {
            out.insert(family.clone(), records.iter().collect());
            continue;
        }
        let ids: Vec<&str> = records.ids().collect();
        let picked = sample_of(records, &ids, ctx.settings.seed, ctx.settings.sample);
        out.insert(family.clone(), records.pick(&picked));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A family larger than the sample gives it its rarest records first (one in eight of the
    /// sample), then the seed's; a family within the sample is taken whole; a sample under 8
    /// is the seed's alone.
    #[test]
    fn the_sample_takes_the_rarest_records_then_the_seeds() {
        let mut r = Records::default();
        for i in 0..1000 {
            let rec = match i {
                700 => json!({"uuid": "700"}),
                900 => json!({"uuid": "900", "extra": true, "message": "m"}),
                _ => json!({"uuid": i.to_string(), "message": "m"}),
            };
            r.push(i.to_string(), &rec);
        }
        let ids: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let picked = sample_of(&r, &ids, 1, 16);
        assert_eq!(picked.len(), 16);
        assert!(picked.contains(&700) && picked.contains(&900), "{picked:?}");
        assert!(picked.windows(2).all(|w| w[0] < w[1]), "in discovery order");
        let by_seed = checks::read::choose_sample(1, 14, &ids, &[]);
        assert!(by_seed.iter().all(|i| picked.contains(i)));
        assert_eq!(
            sample_of(&r, &ids, 1, 7),
            checks::read::choose_sample(1, 7, &ids, &[])
        );
        assert_eq!(
            sample_of(&r, &ids[..10], 1, 16),
            (0..10).collect::<Vec<_>>()
        );
        // The same records for the same seed.
        assert_eq!(sample_of(&r, &ids, 1, 16), picked);
        // A rare record the seed draws too: the sample is still whole, with one more of the
        // seed's.
        let drawn = checks::read::choose_sample(1, 14, &ids, &[])[0];
        let mut r = Records::default();
        for i in 0..1000 {
            let rec = match i == drawn {
                true => json!({"uuid": i.to_string()}),
                false => json!({"uuid": i.to_string(), "message": "m"}),
            };
            r.push(i.to_string(), &rec);
        }
        let picked = sample_of(&r, &ids, 1, 16);
        assert_eq!(picked.len(), 16);
        assert!(picked.contains(&drawn));
        // The one rare shape's record is among the seed's first 15, so the seed's 16th joins.
        assert_eq!(picked, checks::read::choose_sample(1, 16, &ids, &[]));
    }
}
