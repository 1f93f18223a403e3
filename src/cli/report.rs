//! `ontap-conform report merge OUT... -- IN...`: reads every input and checks that they can be
//! merged before anything is written, renders every output, then writes each atomically and
//! prints the fleet summary; the exit code is the fleet's (its worst target's).

use super::args::MergeArgs;
use super::{Env, out};
use ontap_conform::error::{Error, Result};
use ontap_conform::report::Format as ReportFormat;
use ontap_conform::report::fleet::{self, Fleet};
use ontap_conform::report::merge;
use std::path::{Path, PathBuf};

/// An OUT of `report merge`: FORMAT=FILE or FORMAT:FILE as `run --report` takes it, else the
/// format told by the file's extension.
pub(super) fn destination(s: &str) -> Result<(ReportFormat, PathBuf)> {
    let as_merge = |e: Error| match e {
        Error::Usage(m) => Error::Usage(m.replacen("--report ", "report merge OUT ", 1)),
        other => other,
    };
    for sep in ['=', ':'] {
        if let Some((k, p)) = s.split_once(sep)
            && matches!(k, "json" | "junit" | "html")
        {
            return super::run::report_destination(&format!("{k}={p}")).map_err(as_merge);
        }
    }
    if s.contains('=') {
        return super::run::report_destination(s).map_err(as_merge);
    }
    let ext = Path::new(s)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let fmt = match ext.as_deref() {
        Some("json") => ReportFormat::Json,
        Some("xml") => ReportFormat::Junit,
        Some("html" | "htm") => ReportFormat::Html,
        _ => {
            return Err(Error::Usage(format!(
                "report merge OUT {s}: cannot tell the format from the name; expected FORMAT=FILE (json=, junit=, html=) or a name ending in .json, .xml (JUnit) or .html"
            )));
        }
    };
    Ok((fmt, PathBuf::from(s)))
}

/// Whether two paths name one file (both exist and are the same, or are spelled the same).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Checks the destinations, then writes each fleet output and prints the summary (to standard
/// error when an output goes to standard output).
pub(super) fn write_outputs(
    outputs: &[(ReportFormat, PathBuf)],
    fleet: &Fleet,
    quiet: bool,
) -> Result<()> {
    let texts: Vec<String> = outputs
        .iter()
        .map(|(f, _)| fleet::render(*f, fleet))
        .collect();
    for ((_, path), text) in outputs.iter().zip(&texts) {
        super::run::write_report(path, text)?;
    }
    let summary = fleet.render();
    let to_stderr = outputs.iter().any(|(_, p)| p.as_os_str() == "-");
    if quiet {
        return Ok(());
    }
    if to_stderr {
        eprint!("{summary}");
        Ok(())
    } else {
        out(&summary)
    }
}

/// Parses and checks every OUT before anything is read or written.
pub(super) fn destinations(outs: &[String]) -> Result<Vec<(ReportFormat, PathBuf)>> {
    let mut v: Vec<(ReportFormat, PathBuf)> = Vec::new();
    for o in outs {
        let (fmt, path) = destination(o)?;
        super::run::check_report_destination(&path).map_err(|e| match e {
            Error::Usage(m) => Error::Usage(m.replacen("--report ", "report merge OUT ", 1)),
            other => other,
        })?;
        if path.as_os_str() != "-" && v.iter().any(|(_, p)| same_file(p, &path)) {
            return Err(Error::Usage(format!(
                "report merge OUT {}: given twice; expected each output once",
                path.display()
            )));
        }
        if path.as_os_str() == "-" && v.iter().any(|(_, p)| p.as_os_str() == "-") {
            return Err(Error::Usage(
                "report merge: two outputs to standard output (-); expected one at most".into(),
            ));
        }
        v.push((fmt, path));
    }
    Ok(v)
}

/// `ontap-conform report merge OUT... -- IN...`.
pub fn merge(args: MergeArgs, _env: &Env) -> Result<()> {
    let outputs = destinations(&args.outputs)?;
    for (_, o) in &outputs {
        if let Some(i) = args.inputs.iter().find(|i| same_file(i, o)) {
            return Err(Error::Usage(format!(
                "report merge: {} is both an output and an input; expected the merged report elsewhere (a glob like reports/*.json picks up an earlier merge)",
                i.display()
            )));
        }
    }
    let mut inputs = Vec::new();
    for p in &args.inputs {
        inputs.push(merge::read(p)?);
    }
    let fleet = merge::merge(inputs, &super::exit::of_end)?;
    write_outputs(&outputs, &fleet, false)?;
    match fleet.error() {
        None => Ok(()),
        // The summary above says it all.
        Some(Error::Failed(_)) => Err(Error::Failed(String::new())),
        Some(Error::Drift(_)) => Err(Error::Drift(String::new())),
        Some(e) => Err(e),
    }
}
