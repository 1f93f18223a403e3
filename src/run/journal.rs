//! The restore journal: before the run's first change to a record, the record's original state is
//! written to a file on disk (and flushed) so that nothing is lost if the run is killed, the machine
//! loses power or the restore itself fails. An entry is marked restored only when a read-back has
//! proved the record equal to its original; the file is removed when every entry is. A run that
//! finds an unfinished journal for its target refuses to start, and `ontap-conform restore` finishes
//! the job from it.

use crate::checks::ctx::{Journaling, Saved};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use crate::checks::ctx::Change;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub family: String,
    /// The record's instance path.
    pub path: String,
    pub change: Change,
    /// The record as a GET returned it before the first change (Null for a created record).
    pub original: Value,
    /// A read-back proved it equal to `original` (or absent, for a created record).
    pub restored: bool,
}

/// The file's contents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Contents {
    /// What wrote it, for a human reading the file.
    pub tool: String,
    /// The target's base URL.
    pub target: String,
    /// The user the run logged in as.
    pub user: String,
    pub entries: Vec<Entry>,
}

impl Contents {
    pub fn unfinished(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.restored)
    }
}

/// A journal being written by a run.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    contents: Mutex<Contents>,
}

/// Where the journal of a target lives by default: under the user's state directory
/// (`$XDG_STATE_HOME`, else `$HOME/.local/state`), one file per target.
pub fn default_path(vars: &std::collections::BTreeMap<String, String>, target: &str) -> PathBuf {
    let base = vars
        .get("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            vars.get("HOME")
                .map(|h| Path::new(h).join(".local").join("state"))
        })
        .unwrap_or_else(std::env::temp_dir);
    let key: String = target
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.join("ontap-conform")
        .join("journals")
        .join(format!("{key}.json"))
}

/// Reads a journal file; None when there is none.
pub fn read(path: &Path) -> Result<Option<Contents>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::Usage(format!(
                "{}: not a journal of ontap-conform ({e}); expected the file a run wrote",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes the journal: a sibling temporary file (mode 0600), flushed to disk, renamed over the
/// journal, and the directory synced, so that a crash leaves either the old or the new file.
fn write(path: &Path, c: &Contents) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".journal")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(serde_json::to_string_pretty(c).expect("JSON").as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

impl Journal {
    /// Starts the journal of a run. An unfinished journal for the target is refused, naming the
    /// command that finishes it.
    pub fn start(path: PathBuf, target: &str, user: &str) -> Result<Journal> {
        if let Some(old) = read(&path)? {
            let n = old.unfinished().count();
            if n > 0 {
                return Err(Error::Usage(format!(
                    "an earlier run against {} left {n} records unrestored in the journal {}; put them back first with: ontap-conform restore --journal {} --target {} --user {} --password-env VAR",
                    old.target,
                    path.display(),
                    path.display(),
                    old.target,
                    old.user
                )));
            }
        }
        let contents = Contents {
            tool: format!("ontap-conform {}", env!("CARGO_PKG_VERSION")),
            target: target.to_string(),
            user: user.to_string(),
            entries: Vec::new(),
        };
        write(&path, &contents).map_err(|e| {
            Error::Usage(format!(
                "--journal {}: cannot write the restore journal ({e}); choose a writable file with --journal FILE",
                path.display()
            ))
        })?;
        Ok(Journal {
            path,
            contents: Mutex::new(contents),
        })
    }

    /// Continues an existing journal (for `restore`).
    pub fn resume(path: PathBuf, contents: Contents) -> Journal {
        Journal {
            path,
            contents: Mutex::new(contents),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn contents(&self) -> Contents {
        self.contents.lock().unwrap().clone()
    }

    /// Adds an entry and flushes it to disk before returning: the caller sends its change only
    /// after this succeeded. An entry already there (same path) is kept as it is.
    pub fn add(
        &self,
        family: &str,
        path: &str,
        change: Change,
        original: &Value,
    ) -> Result<(), String> {
        let mut c = self.contents.lock().unwrap();
        if let Some(e) = c.entries.iter_mut().find(|e| e.path == path) {
            if e.restored {
                e.restored = false;
                write(&self.path, &c).map_err(|e| format!("{}: {e}", self.path.display()))?;
            }
            return Ok(());
        }
        c.entries.push(Entry {
            family: family.to_string(),
            path: path.to_string(),
            change,
            original: original.clone(),
            restored: false,
        });
        write(&self.path, &c).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Adds many entries with one write to disk (a collection PATCH journals a whole family).
    pub fn add_many(&self, list: &[Saved]) -> Result<(), String> {
        let mut c = self.contents.lock().unwrap();
        let known: std::collections::HashSet<String> =
            c.entries.iter().map(|e| e.path.clone()).collect();
        let mut changed = false;
        for e in c.entries.iter_mut() {
            if e.restored && list.iter().any(|s| s.path == e.path) {
                e.restored = false;
                changed = true;
            }
        }
        for s in list.iter().filter(|s| !known.contains(&s.path)) {
            c.entries.push(Entry {
                family: s.family.clone(),
                path: s.path.clone(),
                change: s.change,
                original: s.original(),
                restored: false,
            });
            changed = true;
        }
        if !changed {
            return Ok(());
        }
        write(&self.path, &c).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Marks many entries restored with one write to disk.
    pub fn restored_many(&self, paths: &[String]) -> Result<(), String> {
        let set: std::collections::HashSet<&str> = paths.iter().map(String::as_str).collect();
        let mut c = self.contents.lock().unwrap();
        let mut changed = false;
        for e in c.entries.iter_mut() {
            if !e.restored && set.contains(e.path.as_str()) {
                e.restored = true;
                changed = true;
            }
        }
        if !changed {
            return Ok(());
        }
        write(&self.path, &c).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Marks an entry restored (a read-back proved it).
    pub fn restored(&self, path: &str) -> Result<(), String> {
        let mut c = self.contents.lock().unwrap();
        let Some(e) = c.entries.iter_mut().find(|e| e.path == path) else {
            return Ok(());
        };
        if e.restored {
            return Ok(());
        }
        e.restored = true;
        write(&self.path, &c).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Removes the file when every entry is restored; true when it did.
    pub fn finish(&self) -> Result<bool, String> {
        let c = self.contents.lock().unwrap();
        if c.unfinished().next().is_some() {
            return Ok(false);
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(format!("{}: {e}", self.path.display())),
        }
    }
}

impl Journaling for Journal {
    fn keep(&self, s: &Saved) -> Result<(), String> {
        self.add(&s.family, &s.path, s.change, &s.original())
    }
    fn restored(&self, path: &str) -> Result<(), String> {
        Journal::restored(self, path)
    }
    fn keep_many(&self, list: &[Saved]) -> Result<(), String> {
        self.add_many(list)
    }
    fn restored_many(&self, paths: &[String]) -> Result<(), String> {
        Journal::restored_many(self, paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_reach_the_disk_before_add_returns_and_the_file_goes_when_all_are_restored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j").join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        j.add("duo", "/api/x/1", Change::Changed, &json!({"comment": "a"}))
            .unwrap();
        let on_disk = read(&path).unwrap().unwrap();
        assert_eq!(on_disk.unfinished().count(), 1);
        assert_eq!(on_disk.entries[0].original, json!({"comment": "a"}));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second run refuses to start while an entry is unrestored, naming `restore`.
        let err = Journal::start(path.clone(), "https://c1", "admin").unwrap_err();
        assert!(err.to_string().contains("ontap-conform restore"), "{err}");
        assert!(!j.finish().unwrap(), "unfinished: kept");
        j.restored("/api/x/1").unwrap();
        assert_eq!(read(&path).unwrap().unwrap().unfinished().count(), 0);
        assert!(j.finish().unwrap());
        assert!(read(&path).unwrap().is_none());
    }

    #[test]
    fn the_default_path_is_per_target_under_the_state_directory() {
        let mut vars = std::collections::BTreeMap::new();
        vars.insert("HOME".to_string(), "/home/u".to_string());
        let p = default_path(&vars, "https://cluster1.example.com:8443");
        assert_eq!(
            p,
            Path::new("/home/u/.local/state/ontap-conform/journals/cluster1.example.com_8443.json")
        );
        vars.insert("XDG_STATE_HOME".to_string(), "/s".to_string());
        assert!(default_path(&vars, "https://a").starts_with("/s/ontap-conform"));
    }
}
