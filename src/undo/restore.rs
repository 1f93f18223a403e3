//! Putting the target back. Every record a check saved (see [`Undo::protect`],
//! [`Undo::protect_known`] and [`Undo::will_create`]) is read back; a changed record's patchable fields that differ are written
//! back in one PATCH and read again, a created record is deleted and must then answer 404. A
//! difference that remains is written again, a bounded number of times, then reported with the
//! field, its original value and a command that puts it back. Restoring is not judged by the
//! checks; it goes straight through the client. Only a read-back that proves the record equal marks
//! it restored (in the journal too).

use super::journal::Journal;
use super::{Change, Saved, Undo, Wrote, instance_path, record_endpoint};
use crate::client::{Client, Request, TransportError};
use crate::spec::Spec;
use crate::spec::model::Kind;
use crate::spec::resource::{Field, FieldType, Resource, get_path, set_path};
use crate::verdict::RestoreProblem;
use serde_json::{Map, Value};

/// Writes of one record before its difference is reported.
const ATTEMPTS: usize = 3;

/// Restores the saved records of `family` (all of them with None) and returns the problems
/// (for [`Undo::restore`], which keeps them).
pub(super) async fn saved(undo: &Undo, family: Option<&str>) -> Vec<RestoreProblem> {
    let mut problems = Vec::new();
    // Not those journaled in bulk that a read-back already proved, untouched since.
    let saved = undo.saved_to_restore(family);
    let settled = settled_by_collection(undo, &saved).await;
    let mut clean: Vec<String> = settled.iter().cloned().collect();
    if !clean.is_empty() {
        undo.verified_many(clean.iter().map(String::as_str));
    }
    for s in saved.iter().filter(|s| !settled.contains(&s.path)) {
        match restore_one(undo.spec, &undo.client, s, &undo.wrote_of(s)).await {
            Ok(()) => {
                undo.verified(&s.path);
                clean.push(s.path.clone());
            }
            Err(p) => problems.extend(p),
        }
    }
    undo.mark_clean(clean.iter().map(String::as_str));
    problems
}

/// Saved changed records of one family from which a collection read is cheaper than one read
/// each (a collection PATCH journals the whole family).
const BATCH: usize = 8;

/// The saved records that one paged read of their family's collection shows unchanged: they
/// need no read of their own. Families with few saved records are left to [`restore_one`].
async fn settled_by_collection(undo: &Undo, saved: &[Saved]) -> std::collections::HashSet<String> {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let mut by_family: BTreeMap<&str, Vec<&Saved>> = BTreeMap::new();
    for s in saved.iter().filter(|s| s.change == Change::Changed) {
        by_family.entry(s.family.as_str()).or_default().push(s);
    }
    let mut out = HashSet::new();
    // A family is listed when that takes fewer requests than a read of each record: a large
    // family's few records changed since a listing proved the rest are read one by one.
    let listed = |family: &str, n: usize| {
        n >= BATCH && n * crate::client::WALK_RECORDS >= undo.saved_of(family)
    };
    for (family, list) in by_family.into_iter().filter(|(f, l)| listed(f, l.len())) {
        let (Some(coll), Some(inst)) = (
            undo.spec.endpoints.iter().find(|e| {
                e.family == family
                    && e.kind() == Kind::Collection
                    && e.has(crate::spec::model::Method::GET)
            }),
            record_endpoint(undo.spec, family),
        ) else {
            continue;
        };
        let res = undo.spec.resource_of(inst);
        let wanted: HashMap<&str, &Saved> = list.iter().map(|s| (s.path.as_str(), *s)).collect();
        // Compared page by page: the family is never held whole.
        let mut equal: Vec<String> = Vec::new();
        // Only what names a record and what a restore compares (its patchable fields): a
        // large family is read back in small records.
        let fields = undo.listing_fields(inst);
        let mut path = format!(
            "{}?fields={}&max_records={}",
            coll.path(),
            fields.join(","),
            crate::client::WALK_RECORDS
        );
        let mut complete = false;
        // A target that refuses the list (a field its release does not know) is read whole.
        let mut narrowed = true;
        // What names a record and what is compared, built alone for each record.
        let keep =
            crate::client::slim::Keep::fields(fields.iter().copied()).map(std::sync::Arc::new);
        for _ in 0..100_000 {
            let req = Request::get(path.clone()).kept(keep.clone());
            let Ok(x) = undo.client.send(req).await else {
                break;
            };
            if !x.response.is_success() && narrowed {
                narrowed = false;
                path = format!(
                    "{}?fields=**&max_records={}",
                    coll.path(),
                    crate::client::PAGE_RECORDS
                );
                continue;
            }
            if !x.response.is_success() {
                break;
            }
            narrowed = false;
            for r in x.response.records().into_iter().flatten() {
                if let Some(p) = instance_path(inst, r)
                    && let Some(s) = wanted.get(p.as_str())
                    && differences(res, &s.original(), r).is_empty()
                {
                    equal.push(p);
                }
            }
            match x.response.next_path() {
                Some(next) => path = next,
                None => {
                    complete = true;
                    break;
                }
            }
        }
        if complete {
            out.extend(equal);
        }
    }
    out
}

/// `ontap-conform restore`: puts back every unfinished entry of a journal, marks each one a
/// read-back proved, and removes the journal when all are; returns what is still not back.
pub async fn from_journal(spec: &Spec, client: &Client, journal: &Journal) -> Vec<RestoreProblem> {
    let contents = match journal.contents() {
        Ok(c) => c,
        Err(e) => {
            return vec![RestoreProblem {
                record: journal.path().display().to_string(),
                field: None,
                original: None,
                reason: format!("the journal could not be read: {e}"),
                curl: None,
            }];
        }
    };
    let mut problems = Vec::new();
    for e in contents.unfinished() {
        let s = Saved::new(&e.family, &e.path, e.change, &e.original);
        match restore_one(spec, client, &s, &e.wrote).await {
            Ok(()) => {
                if let Err(why) = journal.restored(&e.path) {
                    problems.push(RestoreProblem {
                        record: e.path.clone(),
                        field: None,
                        original: None,
                        reason: format!("restored, but the journal could not say so: {why}"),
                        curl: None,
                    });
                }
            }
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty()
        && let Err(why) = journal.finish()
    {
        problems.push(RestoreProblem {
            record: journal.path().display().to_string(),
            field: None,
            original: None,
            reason: format!("every record is back, but the journal could not be removed: {why}"),
            curl: None,
        });
    }
    problems
}

/// Why a record could not be put back or proved back (the reason of its [`RestoreProblem`]).
#[derive(Debug, Clone, thiserror::Error)]
enum RestoreError {
    /// A read-back got no answer; `what` says which (`could not read it back`, ...).
    #[error("{what}: {source}")]
    NoReadBack {
        what: &'static str,
        source: TransportError,
    },
    /// The DELETE of a record the run created got no answer.
    #[error("created by the run; its DELETE got no answer: {0}")]
    DeleteUnanswered(#[source] TransportError),
    /// The DELETE of a record the run created was refused (its status line).
    #[error("created by the run; its DELETE answered {0}")]
    DeleteRefused(String),
    /// A record the run created still answers after every DELETE (the GET's status).
    #[error("created by the run and still there after {ATTEMPTS} DELETEs (GET answers {0})")]
    StillThere(u16),
}

/// A field to put back that had no value before the run and that its type cannot unset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot be unset: it had no value before the run")]
struct CannotUnset {
    field: String,
}

/// `GET path?fields=**` straight through the client: the status and the JSON (Null when not JSON).
async fn read_whole(
    client: &Client,
    path: &str,
    what: &'static str,
) -> Result<(u16, Value), RestoreError> {
    let x = client
        .send(Request::get(format!("{path}?fields=**")))
        .await
        .map_err(|source| RestoreError::NoReadBack { what, source })?;
    Ok((
        x.response.status,
        x.response.json.as_deref().cloned().unwrap_or(Value::Null),
    ))
}

/// Puts one saved record back and proves it with a read-back. Compare before restore: a field
/// is written back only while it holds a value the run wrote (`wrote`); a field someone else
/// changed meanwhile is left alone and reported ("changed by someone else").
pub async fn restore_one(
    spec: &Spec,
    client: &Client,
    s: &Saved,
    wrote: &Wrote,
) -> Result<(), Vec<RestoreProblem>> {
    let problem = |field: Option<&str>, original: Option<&Value>, reason: String| RestoreProblem {
        record: s.path.clone(),
        field: field.map(String::from),
        original: original.cloned(),
        reason,
        curl: None,
    };
    match s.change {
        Change::Created => undo_create(client, s).await.map_err(|r| {
            let mut p = problem(None, None, r.to_string());
            p.curl = Some(client.curl(&Request::new("DELETE", s.path.clone())));
            vec![p]
        }),
        Change::Changed => {
            let inst = record_endpoint(spec, &s.family).ok_or_else(|| {
                vec![problem(
                    None,
                    None,
                    "no path that names one record".to_string(),
                )]
            })?;
            let res = spec.resource_of(inst);
            let original = s.original();
            // Fields that hold a value someone else put there: never written back.
            let theirs = |current: &Value, diff: &[String]| -> Vec<RestoreProblem> {
                diff.iter()
                    .filter(|f| !ours(res, wrote, f, get_path(current, f)))
                    .map(|f| {
                        let sent = wrote
                            .fields
                            .get(f.as_str())
                            .and_then(|vs| vs.last())
                            .map_or("nothing".to_string(), |v| {
                                crate::verdict::show_value(Some(v))
                            });
                        problem(
                            Some(f),
                            get_path(&original, f),
                            format!(
                                "changed by someone else: wrote {sent}, found {}, original {}; left as found",
                                crate::verdict::show_value(get_path(current, f)),
                                crate::verdict::show_value(get_path(&original, f))
                            ),
                        )
                    })
                    .collect()
            };
            let mut last = None;
            for _ in 0..ATTEMPTS {
                let (_, current) = read_whole(client, &s.path, "could not read it back")
                    .await
                    .map_err(|r| vec![problem(None, None, r.to_string())])?;
                let diff = differences(res, &original, &current);
                let others = theirs(&current, &diff);
                let mine: Vec<String> = diff
                    .iter()
                    .filter(|f| ours(res, wrote, f, get_path(&current, f)))
                    .cloned()
                    .collect();
                let Some(first) = mine.first() else {
                    return if others.is_empty() {
                        Ok(())
                    } else {
                        Err(others)
                    };
                };
                last = Some(first.clone());
                let body = match put_back(res, &original, &mine) {
                    Ok(b) => b,
                    Err(e) => {
                        let mut all = others;
                        all.push(problem(Some(&e.field), None, e.to_string()));
                        return Err(all);
                    }
                };
                // No answer is not a failure yet: the PATCH may have landed; the next read tells.
                let Ok(x) = client
                    .send(Request::new("PATCH", s.path.clone()).json(Value::Object(body)))
                    .await
                else {
                    continue;
                };
                if !x.response.is_success() {
                    let mut p = problem(
                        None,
                        None,
                        format!("restore PATCH answered {}", x.response.summary()),
                    );
                    p.curl = Some(put_back_curl(spec, client, res, s, &mine));
                    let mut all = others;
                    all.push(p);
                    return Err(all);
                }
            }
            // Still different after every attempt: name the field, its original and the fix.
            let (_, now) = read_whole(client, &s.path, "could not verify the restore")
                .await
                .map_err(|r| vec![problem(None, None, r.to_string())])?;
            let diff = differences(res, &original, &now);
            let mut all = theirs(&now, &diff);
            let mine: Vec<String> = diff
                .iter()
                .filter(|f| ours(res, wrote, f, get_path(&now, f)))
                .cloned()
                .collect();
            let Some(field) = mine.first().or(last.as_ref().filter(|_| all.is_empty())) else {
                return if all.is_empty() { Ok(()) } else { Err(all) };
            };
            let was = get_path(&original, field);
            let mut p = problem(
                Some(field),
                was,
                format!(
                    "is {} after {ATTEMPTS} restores",
                    crate::verdict::show_value(get_path(&now, field))
                ),
            );
            p.curl = Some(put_back_curl(spec, client, res, s, &mine));
            all.push(p);
            Err(all)
        }
    }
}

/// Whether a field that differs from its original holds a value the run put there: one it
/// wrote (as the target stores it: CRLF as LF, with a trailing LF, "" as unset, a boolean as
/// text), or any value after a request whose effect is not known field by field.
fn ours(res: &Resource, wrote: &Wrote, field: &str, now: Option<&Value>) -> bool {
    if wrote.any {
        return true;
    }
    let (Some(f), Some(sent)) = (res.field(field), wrote.fields.get(field)) else {
        return false;
    };
    sent.iter().any(|v| stored_as(f, v, now))
}

/// Whether `now` is how a target may store `sent` for field `f`.
fn stored_as(f: &Field, sent: &Value, now: Option<&Value>) -> bool {
    let Some(now) = now else {
        return f.flags.empty_unsets && sent.as_str() == Some("");
    };
    if now == sent || coerce(f, now) == *sent {
        return true;
    }
    match (sent.as_str(), now.as_str()) {
        (Some(a), Some(b)) => {
            let norm = |t: &str| {
                let t = t.replace("\r\n", "\n");
                t.strip_suffix('\n').map(String::from).unwrap_or(t)
            };
            norm(a) == norm(b)
        }
        _ => false,
    }
}

/// Deletes a record the run created, and proves it gone (404).
async fn undo_create(client: &Client, s: &Saved) -> Result<(), RestoreError> {
    for _ in 0..ATTEMPTS {
        let (status, _) = read_whole(client, &s.path, "could not read it back").await?;
        if status == 404 {
            return Ok(());
        }
        let x = client
            .send(Request::new("DELETE", s.path.clone()))
            .await
            .map_err(RestoreError::DeleteUnanswered)?;
        if !x.response.is_success() && x.response.status != 404 {
            return Err(RestoreError::DeleteRefused(x.response.summary()));
        }
    }
    let (status, _) = read_whole(client, &s.path, "could not verify the delete").await?;
    if status == 404 {
        Ok(())
    } else {
        Err(RestoreError::StillThere(status))
    }
}

/// The patchable, gettable fields whose current value differs from the original.
pub(super) fn differences(res: &Resource, original: &Value, current: &Value) -> Vec<String> {
    let redacted = Value::String(crate::redact::REDACTED.into());
    res.patchable()
        .filter(|f| f.gettable())
        .filter(|f| {
            let (was, now) = (get_path(original, &f.path), get_path(current, &f.path));
            // A secret's original was never written down (only its placeholder): there is
            // nothing to compare it with, and the run never writes it back.
            !(was == now
                || was == Some(&redacted)
                || (was.is_none()
                    && f.flags.empty_unsets
                    && now == Some(&Value::String(String::new())))
                || (f.flags.trailing_lf && same_but_trailing_lf(was, now)))
        })
        .map(|f| f.path.clone())
        .collect()
}

/// Two texts that differ only by the LF ONTAP appends to a `banner`/`message` without one.
fn same_but_trailing_lf(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a.and_then(Value::as_str), b.and_then(Value::as_str)) {
        (Some(a), Some(b)) => {
            a.strip_suffix('\n').unwrap_or(a) == b.strip_suffix('\n').unwrap_or(b)
        }
        _ => false,
    }
}

/// The PATCH body that puts `fields` back; Err names a field that had no value and cannot be
/// unset.
fn put_back(
    res: &Resource,
    original: &Value,
    fields: &[String],
) -> Result<Map<String, Value>, CannotUnset> {
    let mut body = Map::new();
    for path in fields {
        let f = res.field(path).expect("a field of the resource");
        match get_path(original, path) {
            Some(v) => set_path(&mut body, path, coerce(f, v)),
            None if f.flags.empty_unsets => set_path(&mut body, path, Value::String(String::new())),
            None => {
                return Err(CannotUnset {
                    field: path.clone(),
                });
            }
        }
    }
    Ok(body)
}

/// A curl command that puts the fields back by hand (secrets redacted).
fn put_back_curl(
    spec: &Spec,
    client: &Client,
    res: &Resource,
    s: &Saved,
    fields: &[String],
) -> String {
    let original = s.original();
    let body = put_back(res, &original, fields)
        .or_else(|_| {
            let known: Vec<String> = fields
                .iter()
                .filter(|f| get_path(&original, f).is_some())
                .cloned()
                .collect();
            put_back(res, &original, &known)
        })
        .unwrap_or_default();
    let req = Request::new("PATCH", s.path.clone()).json(Value::Object(body));
    client.curl(&crate::redact::redact_request(spec, &req))
}

/// A value read from the target, in the field's declared type when the target reported another
/// (`"true"` for a boolean): what to write back to restore it.
fn coerce(f: &Field, v: &Value) -> Value {
    match (f.ty, v) {
        (FieldType::Boolean, Value::String(s)) if s == "true" || s == "false" => {
            Value::Bool(s == "true")
        }
        (FieldType::Integer, Value::String(s)) => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| v.clone()),
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(family: &str, name: &str) -> &'static Field {
        let spec = Spec::builtin();
        let inst = record_endpoint(spec, family).unwrap();
        spec.resource_of(inst).field(name).unwrap()
    }

    #[test]
    fn a_field_is_the_runs_only_while_it_holds_a_value_the_run_wrote() {
        let spec = Spec::builtin();
        let res = spec.resource_of(record_endpoint(spec, "duo").unwrap());
        let wrote = Wrote {
            any: false,
            fields: [(
                "comment".to_string(),
                vec![json!("ours 1"), json!("ours 2")],
            )]
            .into(),
        };
        assert!(ours(res, &wrote, "comment", Some(&json!("ours 2"))));
        assert!(!ours(res, &wrote, "comment", Some(&json!("a colleague's"))));
        assert!(
            !ours(res, &wrote, "is_enabled", Some(&json!(false))),
            "never written"
        );
        let any = Wrote {
            any: true,
            ..Wrote::default()
        };
        assert!(ours(res, &any, "is_enabled", Some(&json!(false))));
    }

    #[test]
    fn a_secret_whose_original_was_never_written_down_is_not_compared() {
        // Cluster peers' passphrase is gettable and patchable, and a secret: its saved original
        // is the placeholder, so the value read back is not a difference.
        let spec = Spec::contract("ontap-9.19").unwrap();
        let res = spec.resource_of(record_endpoint(spec, "cluster_peer").unwrap());
        let original =
            json!({"name": "p1", "authentication": {"passphrase": crate::redact::REDACTED}});
        let current = json!({"name": "p1", "authentication": {"passphrase": "the real one"}});
        assert_eq!(differences(res, &original, &current), Vec::<String>::new());
        let renamed = json!({"name": "p2", "authentication": {"passphrase": "the real one"}});
        assert_eq!(differences(res, &original, &renamed), ["name"]);
    }

    #[test]
    fn a_written_value_is_recognised_as_the_target_stores_it() {
        let comment = field("duo", "comment");
        assert!(stored_as(comment, &json!("a\r\nb"), Some(&json!("a\nb"))));
        assert!(stored_as(comment, &json!("a"), Some(&json!("a\n"))));
        assert!(!stored_as(comment, &json!("a"), Some(&json!("b"))));
        let flag = field("duo", "auto_push");
        assert!(stored_as(flag, &json!(true), Some(&json!("true"))));
        assert!(!stored_as(flag, &json!(true), None));
    }
}
