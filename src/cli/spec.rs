//! `ontap-conform spec`: the contract's catalog, one definition, the OpenAPI export, and the lint
//! of NetApp's reference pages (whose directory is always given explicitly).

use super::args::ImportArgs;
use super::{Env, SpecArgs, SpecCommand, out};
use ontap_conform::error::{Error, Result};
use ontap_conform::spec::{self, Spec};

pub fn main(args: SpecArgs, env: &Env) -> Result<()> {
    match args.command {
        SpecCommand::Import(a) => return import(a, env),
        SpecCommand::Diff { old, new, json } => return diff(&old, &new, json),
        _ => {}
    }
    let spec = super::contract(args.contract.as_deref(), args.specs.as_deref())?;
    match args.command {
        SpecCommand::Import(_) | SpecCommand::Diff { .. } => unreachable!("handled above"),
        SpecCommand::List => out(&spec::show::list(spec)),
        SpecCommand::Show { name, json } => out(&spec::show::show(spec, &name, json)?),
        SpecCommand::Openapi { output } => {
            let doc =
                serde_json::to_string_pretty(&spec::openapi::openapi(spec)).expect("JSON") + "\n";
            match output {
                None => out(&doc),
                Some(path) => ontap_conform::fsutil::write_atomic(&path, doc.as_bytes()),
            }
        }
        SpecCommand::Lint { seeds, json } => {
            if !seeds.is_dir() {
                return Err(Error::Usage(format!(
                    "--seeds {}: not a directory; expected a directory of NetApp reference pages as .txt (like ../shared/seeds)",
                    seeds.display()
                )));
            }
            let pages = spec::seeds::read_dir(&seeds).map_err(|e| Error::io(&seeds, e))?;
            let report = spec::lint::lint(spec, &pages);
            if json {
                out(&(serde_json::to_string_pretty(&report).expect("JSON") + "\n"))?;
            } else {
                out(&spec::lint::render(&report))?;
            }
            match report.defects() {
                0 => Ok(()),
                n => Err(Error::Failed(format!(
                    "spec lint: {n} doc examples have no schema in {}; expected every JSON example of the seeds to match a catalog entry",
                    spec.source
                ))),
            }
        }
    }
}

/// `spec import`: a source read into a contract directory, checked by loading it back.
fn import(a: ImportArgs, env: &Env) -> Result<()> {
    use ontap_conform::spec::import::{self, netapp_ontap};
    let started = std::time::Instant::now();
    let mut contract = match (&a.netapp_ontap, &a.swagger) {
        (Some(p), None) => netapp_ontap::read(&netapp_ontap::Package::parse(p), &a.families)
            .map_err(|e| Error::Usage(format!("--netapp-ontap: {e}")))?,
        (None, Some(src)) => {
            let text = if src.starts_with("https://") || src.starts_with("http://") {
                fetch_swagger(src, &a, env)?
            } else {
                std::fs::read_to_string(src).map_err(|e| Error::io(src, e))?
            };
            import::swagger::read(&text)
                .map_err(|e| Error::Usage(format!("--swagger {src}: {e}")))?
        }
        _ => unreachable!("clap requires exactly one source"),
    };
    import::select(&mut contract, &a.families);
    if contract.families.is_empty() {
        return Err(Error::Usage(format!(
            "no family of {} {} matches --family {}",
            contract.source,
            contract.version,
            a.families.join(", --family ")
        )));
    }
    let (files, left_out) = import::to_files(&contract);
    // Checked before anything is written: a contract the loader refuses is not left behind.
    let spec = Spec::from_files(&a.out.display().to_string(), files.clone())?;
    import::write_dir(&a.out, &files).map_err(|e| Error::Usage(e.to_string()))?;
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    let mut msg = format!(
        "imported {} of {} families ({} paths, {} fields) from {} {} into {} ({} files, {} bytes) in {:.2} s\n",
        spec.families.len(),
        contract.families.len(),
        spec.endpoints.len(),
        spec.resources
            .values()
            .map(|r| r.fields.len())
            .sum::<usize>(),
        contract.source,
        contract.version,
        a.out.display(),
        files.len(),
        bytes,
        started.elapsed().as_secs_f64()
    );
    for l in left_out {
        msg.push_str(&format!("left out: {l}\n"));
    }
    out(&msg)
}

/// `spec diff OLD NEW`: exit 0 without a change, 4 with changes.
fn diff(old: &str, new: &str, json: bool) -> Result<()> {
    let a = Spec::contract(old)?;
    let b = Spec::contract(new)?;
    let d = ontap_conform::spec::diff::diff(a, b);
    if json {
        out(&(serde_json::to_string_pretty(&d).expect("JSON") + "\n"))?;
    } else {
        out(&d.render())?;
    }
    if d.is_empty() {
        Ok(())
    } else {
        Err(Error::Drift(String::new()))
    }
}

/// A cluster's `swagger.yaml`, fetched with the same client, auth and TLS settings as `run`.
fn fetch_swagger(url: &str, a: &ImportArgs, env: &Env) -> Result<String> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::Usage(format!("--swagger {url}: not a URL ({e})")))?;
    let path = parsed[url::Position::BeforePath..].to_string();
    let login = super::config::Settings {
        password_env: a.password_env.clone(),
        insecure: Some(a.insecure),
        ca_cert: a.ca_cert.clone(),
        ..Default::default()
    };
    let client = super::OneClient {
        base: parsed[..url::Position::BeforePath].to_string(),
        user: &a.user,
        login: &login,
    }
    // A recent release's definition is about 13 MB.
    .build(env, |c| ontap_conform::client::ClientConfig {
        max_answer_bytes: 256 * 1024 * 1024,
        ..c
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
    let x = rt
        .block_on(client.send(ontap_conform::client::Request::get(path)))
        .map_err(|e| Error::Unreachable(format!("--swagger {url}: {e}")))?;
    if x.response.status != 200 {
        return Err(Error::Unreachable(format!(
            "--swagger {url}: answered {} (expected 200 and the Swagger document)",
            x.response.status
        )));
    }
    Ok(x.response.text.to_string())
}
