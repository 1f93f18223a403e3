//! `ontap-conform restore`: finishes the restore of a run that was killed, lost its machine or
//! could not put everything back, from the run's journal. It reads the journal, logs in to the
//! target the journal names (or `--target`), puts back and verifies every unfinished record, and
//! removes the journal when all are back.

use super::args::RestoreArgs;
use super::{Env, out};
use crate::client::{Client, ClientConfig, Credentials, Trust};
use crate::error::{Error, Result};
use crate::run::journal::{self, Journal};
use crate::spec::Spec;
use std::time::Duration;

pub fn main(a: RestoreArgs, env: &Env) -> Result<()> {
    let path = match (&a.journal, &a.target) {
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
    let url = a
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
    let user = a.user.clone().unwrap_or_else(|| contents.user.clone());
    let password = super::run::password_from(
        env,
        a.password_env.as_deref(),
        super::run::PASSWORD_VAR,
        &user,
        "--password-env",
    )?;
    let trust = match (a.insecure, &a.ca_cert) {
        (true, _) => Trust::Insecure,
        (false, Some(p)) => Trust::CaPem(std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?),
        (false, None) => Trust::System,
    };
    crate::client::install_crypto();
    let proxy = crate::client::Proxies::from_env(|name| env.vars.get(name).cloned())
        .map_err(Error::Usage)?;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_secs(
            a.timeout
                .unwrap_or(crate::run::config::DEFAULT_TIMEOUT_SECS),
        ),
        concurrency: 1,
        proxy,
        ..ClientConfig::new(url.clone(), Credentials::new(user, password), trust)
    })
    .map_err(Error::Usage)?;
    let spec = Spec::load(None)?;
    let j = Journal::resume(path.clone(), contents);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
    let problems = rt.block_on(async {
        crate::run::discover_version(&client).await?;
        Ok::<_, Error>(crate::run::restore::from_journal(spec, &client, &j).await)
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
