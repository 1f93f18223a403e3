//! `ontap-conform restore`: finishes the restore of a run that was killed, lost its machine or
//! could not put everything back, from the run's journal. It reads the journal, logs in to the
//! target the journal names (or `--target`), puts back and verifies every unfinished record, and
//! removes the journal when all are back.

use super::args::RestoreArgs;
use super::{Env, out};
use ontap_conform::error::{Error, Result};
use ontap_conform::spec::Spec;
use ontap_conform::undo::journal::{self, Journal};

pub fn main(a: RestoreArgs, env: &Env) -> Result<()> {
    let t = &a.target;
    let path = match (&a.journal, &t.target) {
        (Some(p), _) => p.clone(),
        (None, Some(t)) => journal::default_path(&env.vars, t.trim_end_matches('/')),
        (None, None) => {
            return Err(Error::Usage(
                "restore: give --journal FILE, or --target URL to use that target's journal".into(),
            ));
        }
    };
    let Some(contents) = journal::read(&path)? else {
        return Err(Error::Usage(format!(
            "restore: no journal at {}; nothing to restore (a run that ends normally removes its journal)",
            path.display()
        )));
    };
    let unfinished = contents.unfinished().count();
    if unfinished == 0 {
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        return out(&format!(
            "every record of {} was already back; removed the journal {}\n",
            contents.target,
            path.display()
        ));
    }
    let url = t
        .target
        .clone()
        .unwrap_or_else(|| contents.target.clone())
        .trim_end_matches('/')
        .to_string();
    if url != contents.target {
        return Err(Error::Usage(format!(
            "restore: the journal {} is of {}, not of --target {url}",
            path.display(),
            contents.target
        )));
    }
    let user = t.user.clone().unwrap_or_else(|| contents.user.clone());
    let login = super::config::Settings {
        password_env: t.password_env.clone(),
        insecure: Some(t.insecure),
        ca_cert: t.ca_cert.clone(),
        client_cert: t.client_cert.clone(),
        client_key: t.client_key.clone(),
        proxy: t.proxy.clone(),
        timeout: t.timeout,
        ..Default::default()
    };
    let client = super::OneClient {
        base: url.clone(),
        user: &user,
        login: &login,
    }
    .build(env, |c| c)?;
    let spec = Spec::load(None)?;
    let j = Journal::resume(path.clone(), contents);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
    let problems = rt.block_on(async {
        ontap_conform::run::discover_version(&client).await?;
        Ok::<_, Error>(ontap_conform::undo::restore::from_journal(spec, &client, &j).await)
    })?;
    if problems.is_empty() {
        return out(&format!(
            "restored: {unfinished} records of {url} are back as they were, each verified; removed the journal {}\n",
            path.display()
        ));
    }
    let mut text = format!(
        "NOT RESTORED: {} of {unfinished} records of {url} are not back; the journal {} stays:\n",
        problems.len(),
        path.display()
    );
    for p in &problems {
        text.push_str(&format!("  {p}\n"));
        if let Some(c) = &p.curl {
            text.push_str(&format!("     put back: {c}\n"));
        }
    }
    out(&text)?;
    Err(Error::Changed(format!(
        "{} records are not back",
        problems.len()
    )))
}
