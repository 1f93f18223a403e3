//! Putting the target back: every record a check saved (see [`Ctx::protect`]) is read back,
//! the patchable fields that differ are written back in one PATCH, and a second read verifies
//! them. Restoring is not judged by the checks; it goes straight through the client.

use crate::checks::ctx::{Ctx, Saved};
use crate::checks::judge;
use crate::client::Request;
use crate::spec::model::Kind;
use crate::spec::resource::{Field, FieldType, get_path, set_path};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

/// The run's [`crate::checks::ctx::RestoreFn`]: restores the saved records of `family` (all of
/// them with None) and returns the problems.
pub fn restore<'a>(ctx: &'a Ctx, family: Option<&'a str>) -> BoxFuture<'a, Vec<String>> {
    Box::pin(async move {
        let mut problems = Vec::new();
        for s in ctx.saved(family) {
            if let Err(p) = restore_one(ctx, &s).await {
                problems.push(p);
            }
        }
        problems
    })
}

/// `GET path?fields=*` straight through the client (restoring is not judged); Null when the
/// answer is not JSON. A transport failure is worded "{path}: {what}: {why}".
async fn read_whole(ctx: &Ctx, path: &str, what: &str) -> Result<Value, String> {
    let x = ctx
        .client
        .send(Request::get(format!("{path}?fields=*")))
        .await
        .map_err(|e| format!("{path}: {what}: {}", e.0))?;
    Ok(x.response.json.as_deref().cloned().unwrap_or(Value::Null))
}

async fn restore_one(ctx: &Ctx, s: &Saved) -> Result<(), String> {
    let inst = ctx
        .spec
        .endpoints
        .iter()
        .find(|e| e.family == s.family && matches!(e.kind(), Kind::Instance | Kind::Singleton))
        .ok_or_else(|| format!("{}: no path that names one record", s.path))?;
    let res = ctx.spec.resource_of(inst);
    let current = read_whole(ctx, &s.path, "could not read it back").await?;
    let mut body = Map::new();
    let mut lost = Vec::new();
    for f in res.patchable().filter(|f| f.gettable()) {
        let (was, now) = (get_path(&s.original, &f.path), get_path(&current, &f.path));
        if was == now {
            continue;
        }
        match was {
            Some(v) => set_path(&mut body, &f.path, coerce(f, v)),
            None if f.flags.empty_unsets => {
                set_path(&mut body, &f.path, Value::String(String::new()))
            }
            None => lost.push(f.path.clone()),
        }
    }
    if !lost.is_empty() {
        return Err(format!(
            "{}: cannot unset {} (it had no value before the run)",
            s.path,
            lost.join(", ")
        ));
    }
    if body.is_empty() {
        return Ok(());
    }
    let x = ctx
        .client
        .send(Request::new("PATCH", s.path.clone()).json(Value::Object(body.clone())))
        .await
        .map_err(|e| format!("{}: restore PATCH got no answer: {}", s.path, e.0))?;
    if !x.response.is_success() {
        return Err(format!(
            "{}: restore PATCH answered {}",
            s.path,
            x.response.summary()
        ));
    }
    let after = read_whole(ctx, &s.path, "could not verify the restore").await?;
    for f in res.patchable().filter(|f| f.gettable()) {
        let (was, now) = (get_path(&s.original, &f.path), get_path(&after, &f.path));
        let ok = was == now
            || (was.is_none()
                && f.flags.empty_unsets
                && now == Some(&Value::String(String::new())));
        if !ok {
            return Err(format!(
                "{}: {} is {} after the restore, was {}",
                s.path,
                f.path,
                judge::show(now),
                judge::show(was)
            ));
        }
    }
    Ok(())
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
