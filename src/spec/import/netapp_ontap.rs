//! The `netapp-ontap` front end: runs the introspection script (`netapp_ontap.py`, compiled in)
//! with `python3` against an installed copy of NetApp's Python client and reads its answer.
//!
//! Where the package comes from: a directory given as PATH (one that holds `netapp_ontap/`, as
//! `pip install --target PATH` makes), or for a VERSION the per-user cache
//! (`$XDG_CACHE_HOME/ontap-conform/netapp-ontap/VERSION`, else `~/.cache/...`) and then the
//! package the default `python3` imports, if its version is that one. With neither, the error
//! gives the one `pip install` line that makes it.

use super::{Contract, ImportError};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = include_str!("netapp_ontap.py");

/// Where to read the package from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Package {
    /// Whatever `python3` imports.
    Installed,
    /// A release (`9.16.1.0`): the cache, else the installed one if it is that release.
    Version(String),
    /// A directory holding `netapp_ontap/` (or the `netapp_ontap` directory itself).
    Path(PathBuf),
}

impl Package {
    /// `""` -> installed; something that looks like a version -> that release; else a path.
    pub fn parse(s: &str) -> Package {
        if s.is_empty() {
            Package::Installed
        } else if s.chars().all(|c| c.is_ascii_digit() || c == '.') && s.contains('.') {
            Package::Version(s.to_string())
        } else {
            Package::Path(PathBuf::from(s))
        }
    }
}

/// The per-user cache of `netapp-ontap` releases.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("ontap-conform").join("netapp-ontap"))
}

fn pip_line(version: &str) -> String {
    match cache_dir() {
        Some(d) => format!(
            "python3 -m pip install --target {} netapp-ontap=={version}",
            d.join(version).display()
        ),
        None => format!("python3 -m pip install netapp-ontap=={version}"),
    }
}

/// Reads the families of a package (all, or those matching `globs`).
pub fn read(pkg: &Package, globs: &[String]) -> Result<Contract, ImportError> {
    let (dir, want): (Option<PathBuf>, Option<&str>) = match pkg {
        Package::Installed => (None, None),
        Package::Path(p) => {
            let p = if p.file_name().is_some_and(|n| n == "netapp_ontap") {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                p.clone()
            };
            if !p.join("netapp_ontap").join("resources").is_dir() {
                return Err(ImportError::Source(format!(
                    "{}: no netapp_ontap/resources/ there (expected a directory made by \
                     `pip install --target DIR netapp-ontap==VERSION`)",
                    p.display()
                )));
            }
            (Some(p), None)
        }
        Package::Version(v) => {
            let cached = cache_dir().map(|d| d.join(v));
            match cached {
                Some(c) if c.join("netapp_ontap").is_dir() => (Some(c), Some(v.as_str())),
                _ => (None, Some(v.as_str())),
            }
        }
    };
    let contract = run_script(dir.as_deref(), globs, want)?;
    if let Some(v) = want
        && contract.version != v
    {
        return Err(ImportError::Source(format!(
            "netapp-ontap {v} is not installed (python3 imports {}); install it with: {}",
            contract.version,
            pip_line(v)
        )));
    }
    Ok(contract)
}

fn run_script(
    dir: Option<&Path>,
    globs: &[String],
    want: Option<&str>,
) -> Result<Contract, ImportError> {
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(SCRIPT)
        .arg(dir.map(|d| d.display().to_string()).unwrap_or_default())
        .args(globs);
    // The script's own bytecode would otherwise be written into the package directory.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    let out = cmd.output().map_err(|e| {
        ImportError::Source(format!(
            "could not run python3 ({e}): `spec import --netapp-ontap` reads NetApp's Python \
             client with Python 3; the shipped releases (`--contract ontap-9.19`) need neither"
        ))
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&stdout)
        && let Some(e) = v.get("error").and_then(|e| e.as_str())
    {
        let hint = match want {
            Some(v) => format!("install it with: {}", pip_line(v)),
            None => "install it with: python3 -m pip install netapp-ontap".to_string(),
        };
        return Err(ImportError::Source(format!("{e}; {hint}")));
    }
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no message");
        return Err(ImportError::Source(format!(
            "reading netapp-ontap failed (python3 exited with {}): {last}",
            out.status
        )));
    }
    serde_json::from_str(&stdout).map_err(|e| {
        ImportError::Source(format!(
            "reading netapp-ontap gave no contract ({e}); is this NetApp's netapp-ontap package?"
        ))
    })
}
