//! `ontap-conform spec`: the contract's catalog, one definition, the OpenAPI export, and the lint
//! of NetApp's reference pages (whose directory is always given explicitly).

use super::{SpecArgs, SpecCommand, out};
use crate::error::{Error, Result};
use crate::spec::{self, Spec};

pub fn main(args: SpecArgs) -> Result<()> {
    let spec = Spec::load(args.specs.as_deref())?;
    match args.command {
        SpecCommand::List => out(&spec::show::list(spec)),
        SpecCommand::Show { name, json } => {
            out(&spec::show::show(spec, &name, json).map_err(Error::Usage)?)
        }
        SpecCommand::Openapi { output } => {
            let doc =
                serde_json::to_string_pretty(&spec::openapi::openapi(spec)).expect("JSON") + "\n";
            match output {
                None => out(&doc),
                Some(path) => crate::fsutil::write_atomic(&path, doc.as_bytes()),
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
