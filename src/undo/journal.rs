//! The restore journal: before the run's first change to a record, the record's original state is
//! written to a file on disk (and flushed) so that nothing is lost if the run is killed, the machine
//! loses power or the restore itself fails. An entry is marked restored only when a read-back has
//! proved the record equal to its original; the file is removed when every entry is. A run that
//! finds an unfinished journal for its target refuses to start, and `ontap-conform restore` finishes
//! the job from it.
//!
//! The file is JSON Lines, only ever appended to: a header line (`{"tool","target","user"}`),
//! then one line per event, each written and flushed to disk before the call that writes it
//! returns:
//!
//! - `{"add":{"family","path","change","original"}}`: an entry (a record about to be changed);
//! - `{"restored":[path, ...]}`: entries a read-back proved restored;
//! - `{"reopened":[path, ...]}`: restored entries changed again (unrestored once more);
//! - `{"wrote":{"family","paths","any","fields"}}`: what the run is about to send to entries
//!   (`paths` absent: every entry of the family, a collection write); a restore writes a field
//!   back only while it holds one of these values (see [`Wrote`]).
//!
//! Reading replays the lines into [`Contents`]. A crash in the middle of an append leaves a torn
//! last line: it was never confirmed, so the change it announced was never sent, and it is ignored
//! (and cut off before the next append). The journal keeps in memory only each entry's path and
//! whether it is restored, never the originals: a collection PATCH on a large cluster journals
//! tens of thousands of records. A journal an earlier version wrote (one JSON document, rewritten
//! whole) is read too, and rewritten as lines before its first append.

use super::{Change, PathMap, Wrote, path_hash};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    /// What the run sent to it (a restore leaves alone a field that holds none of these values).
    #[serde(default, skip_serializing_if = "Wrote::is_empty")]
    pub wrote: Wrote,
}

/// Why the journal could not be appended to or removed; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be opened, written, flushed to disk or removed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file, opened again to append to, no longer reads as a journal.
    #[error("{}: {source}", path.display())]
    NotAJournal {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
}

impl JournalError {
    fn io(path: &Path, source: std::io::Error) -> JournalError {
        JournalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The file's contents, as its lines replay.
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

/// The file's first line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Header {
    tool: String,
    target: String,
    user: String,
}

/// Every later line, as read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum Event {
    Add(Added),
    Restored(Vec<String>),
    Reopened(Vec<String>),
    Wrote(WroteEvent),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WroteEvent {
    family: String,
    /// None: every entry of the family (a collection write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    any: bool,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    fields: std::collections::BTreeMap<String, Vec<Value>>,
}

impl WroteEvent {
    fn new(family: &str, paths: Option<Vec<String>>, w: &Wrote) -> WroteEvent {
        WroteEvent {
            family: family.to_string(),
            paths,
            any: w.any,
            fields: w.fields.clone(),
        }
    }
    fn wrote(&self) -> Wrote {
        Wrote {
            any: self.any,
            fields: self.fields.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Added {
    family: String,
    path: String,
    change: Change,
    original: Value,
}

/// Every later line, as written (borrowing: the originals are not copied).
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum EventRef<'a> {
    Add {
        family: &'a str,
        path: &'a str,
        change: Change,
        original: &'a Value,
    },
    Restored(&'a [&'a str]),
    Reopened(&'a [&'a str]),
    Wrote(&'a WroteEvent),
}

const EXPECTED_HEADER: &str = r#"a header {"tool","target","user"}"#;
const EXPECTED_EVENT: &str = r#"an event {"add":{"family","path","change","original"}}, {"restored":[...]}, {"reopened":[...]} or {"wrote":{...}}"#;

/// What a file's lines replay to.
struct Replayed {
    contents: Contents,
    /// The bytes up to the end of the last line that counts (a torn last line excluded).
    valid: usize,
    /// The file is in the former format: one JSON document, [`Contents`], rewritten whole.
    former: bool,
}

/// Replays the lines of a journal file. A last line that does not parse is a torn append and is
/// ignored; any other line that does not parse is refused.
fn replay(path: &Path, bytes: &[u8]) -> Result<Replayed> {
    let refuse = |n: usize, what: String| {
        Error::Usage(format!(
            "{}: not a journal of ontap-conform (line {n}: {what}); expected the file a run wrote",
            path.display()
        ))
    };
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i + 1);
        lines.push((start, end));
        start = end;
    }
    let Some(&(h0, h1)) = lines.first() else {
        return Err(refuse(
            1,
            format!("the file is empty; expected {EXPECTED_HEADER}"),
        ));
    };
    let header: Header = match serde_json::from_slice(&bytes[h0..h1]) {
        Ok(h) => h,
        Err(e) => {
            // Written by an earlier version: read as it is, converted at the first append.
            return match serde_json::from_slice::<Contents>(bytes) {
                Ok(contents) => Ok(Replayed {
                    contents,
                    valid: bytes.len(),
                    former: true,
                }),
                Err(_) => Err(refuse(1, format!("expected {EXPECTED_HEADER}: {e}"))),
            };
        }
    };
    let mut contents = Contents {
        tool: header.tool,
        target: header.target,
        user: header.user,
        entries: Vec::new(),
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut family_wrote: HashMap<String, Wrote> = HashMap::new();
    let mut valid = h1;
    let last = lines.len() - 1;
    for (i, &(a, b)) in lines.iter().enumerate().skip(1) {
        let event: Event = match serde_json::from_slice(&bytes[a..b]) {
            Ok(e) => e,
            Err(_) if i == last => break,
            Err(e) => return Err(refuse(i + 1, format!("expected {EXPECTED_EVENT}: {e}"))),
        };
        match event {
            Event::Add(x) => match index.get(&x.path) {
                // Written only for a new path; an old one keeps its first original.
                Some(&k) => contents.entries[k].restored = false,
                None => {
                    index.insert(x.path.clone(), contents.entries.len());
                    contents.entries.push(Entry {
                        family: x.family,
                        path: x.path,
                        change: x.change,
                        original: x.original,
                        restored: false,
                        wrote: Wrote::default(),
                    });
                }
            },
            Event::Restored(paths) => {
                for p in paths {
                    if let Some(&k) = index.get(&p) {
                        contents.entries[k].restored = true;
                    }
                }
            }
            Event::Reopened(paths) => {
                for p in paths {
                    if let Some(&k) = index.get(&p) {
                        contents.entries[k].restored = false;
                    }
                }
            }
            Event::Wrote(w) => {
                let wrote = w.wrote();
                match w.paths {
                    Some(paths) => {
                        for p in paths {
                            if let Some(&k) = index.get(&p) {
                                contents.entries[k].wrote.merge(&wrote);
                            }
                        }
                    }
                    None => family_wrote.entry(w.family).or_default().merge(&wrote),
                }
            }
        }
        valid = b;
    }
    for e in &mut contents.entries {
        if let Some(w) = family_wrote.get(&e.family) {
            e.wrote.merge(w);
        }
    }
    Ok(Replayed {
        contents,
        valid,
        former: false,
    })
}

/// Reads a journal file; None when there is none.
pub fn read(path: &Path) -> Result<Option<Contents>> {
    match std::fs::read(path) {
        Ok(bytes) => replay(path, &bytes).map(|r| Some(r.contents)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
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

/// Creates the journal with its header and the lines `body` writes: a sibling temporary file
/// (mode 0600), flushed to disk, renamed over the journal, and the directory synced, so that a
/// crash leaves either the old file or the new one. Returns the new file (open at its end) and its
/// length.
fn create(
    path: &Path,
    header: &Header,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<(File, u64)> {
    let dir = crate::fsutil::dir_of(path);
    crate::fsutil::create_dirs(dir, 0o700)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".journal")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(dir)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
    serde_json::to_writer(&mut w, header)?;
    w.write_all(b"\n")?;
    body(&mut w)?;
    w.flush()?;
    drop(w);
    tmp.as_file().sync_all()?;
    let mut file = tmp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()?;
    let len = file.stream_position()?;
    Ok((file, len))
}

/// The lines that replay to `entries`: one `add` each, and one `restored` for those restored.
fn lines_of(w: &mut dyn Write, entries: &[Entry]) -> std::io::Result<()> {
    for e in entries {
        line(
            w,
            &EventRef::Add {
                family: &e.family,
                path: &e.path,
                change: e.change,
                original: &e.original,
            },
        )?;
    }
    for e in entries.iter().filter(|e| !e.wrote.is_empty()) {
        line(
            w,
            &EventRef::Wrote(&WroteEvent::new(
                &e.family,
                Some(vec![e.path.clone()]),
                &e.wrote,
            )),
        )?;
    }
    let restored: Vec<&str> = entries
        .iter()
        .filter(|e| e.restored)
        .map(|e| e.path.as_str())
        .collect();
    if restored.is_empty() {
        return Ok(());
    }
    line(w, &EventRef::Restored(&restored))
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Not proved restored yet.
    Open,
    /// A read-back proved it restored.
    Restored,
    /// Entered by a bulk write still going on (taken out again if the write does not complete).
    Adding,
    /// Restored, and reopened by a bulk write still going on (restored again if it does not
    /// complete).
    Reopening,
}

/// What a journal keeps in memory: no originals.
#[derive(Debug)]
struct State {
    header: Header,
    /// Every entry's path (by [`super::path_hash`]: a collection PATCH journals a whole family,
    /// and the file has the paths), and whether a read-back proved it restored.
    entries: PathMap<Mark>,
    unfinished: usize,
    /// The file, once opened for appending, and its length up to the last confirmed line.
    file: Option<(File, u64)>,
}

impl State {
    fn new(header: Header) -> State {
        State {
            header,
            entries: PathMap::default(),
            unfinished: 0,
            file: None,
        }
    }

    /// The file to append to. A resumed journal's file is opened, replayed, and cut after its
    /// last confirmed line (dropping a torn one), or rewritten as lines when an earlier version
    /// wrote it; a file `finish` removed is created afresh.
    fn file(&mut self, path: &Path) -> Result<&mut (File, u64), JournalError> {
        if self.file.is_none() {
            let io = |e| JournalError::io(path, e);
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path);
            let (f, len) = match opened {
                Ok(mut f) => {
                    let mut bytes = Vec::new();
                    f.read_to_end(&mut bytes).map_err(io)?;
                    let r = replay(path, &bytes).map_err(|e| JournalError::NotAJournal {
                        path: path.to_path_buf(),
                        source: Box::new(e),
                    })?;
                    drop(bytes);
                    if r.former {
                        let c = r.contents;
                        let header = Header {
                            tool: c.tool,
                            target: c.target,
                            user: c.user,
                        };
                        create(path, &header, |w| lines_of(w, &c.entries)).map_err(io)?
                    } else {
                        (f, r.valid as u64)
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.unfinished == 0 => {
                    self.entries.clear();
                    create(path, &self.header, |_| Ok(())).map_err(io)?
                }
                Err(e) => return Err(io(e)),
            };
            self.file = Some(confirmed(f, len).map_err(io)?);
        }
        Ok(self.file.as_mut().expect("opened"))
    }

    /// Appends lines and flushes them to disk; on any failure the file is cut back to its last
    /// confirmed line (so that no torn line is left before a later one).
    fn append(
        &mut self,
        path: &Path,
        lines: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), JournalError> {
        let (file, len) = self.file(path)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &*file);
        let written = lines(&mut w).and_then(|()| w.flush());
        // Never flush what is left of a failed write.
        let _ = w.into_parts();
        let done = written
            .and_then(|()| file.sync_data())
            .and_then(|()| file.stream_position());
        match done {
            Ok(end) => {
                *len = end;
                Ok(())
            }
            Err(e) => {
                let _ = file.set_len(*len);
                let _ = file.seek(SeekFrom::Start(*len));
                Err(JournalError::io(path, e))
            }
        }
    }
}

/// A file opened to append to, cut after its last confirmed line (`len` bytes) and positioned
/// there; a last line written whole but for its newline gets it. Returns the file and its length.
fn confirmed(mut f: File, mut len: u64) -> std::io::Result<(File, u64)> {
    f.set_len(len)?;
    f.seek(SeekFrom::Start(len))?;
    if len > 0 {
        // A last line written whole but for its newline ends before the next one.
        let mut end = [0u8];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut end)?;
        if end[0] != b'\n' {
            f.write_all(b"\n")?;
            len += 1;
        }
    }
    Ok((f, len))
}

fn line(w: &mut dyn Write, e: &EventRef) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, e)?;
    w.write_all(b"\n")
}

/// Marks `p` restored in `entries` when it is open there, with its hash in `marked`; true when
/// it was open.
fn mark(entries: &mut PathMap<Mark>, marked: &mut Vec<super::PathHash>, p: &str) -> bool {
    let h = path_hash(p);
    match entries.get_mut(&h) {
        Some(m @ Mark::Open) => {
            *m = Mark::Restored;
            marked.push(h);
            true
        }
        _ => false,
    }
}

/// The line `{"restored":[...]}` ([`EventRef::Restored`]): `first` (marked by the caller), then
/// the paths still open in `entries`, written as they come and marked as they are written.
fn restored_line<S: AsRef<str>>(
    w: &mut dyn Write,
    entries: &mut PathMap<Mark>,
    marked: &mut Vec<super::PathHash>,
    first: &str,
    rest: impl Iterator<Item = S>,
) -> std::io::Result<()> {
    w.write_all(b"{\"restored\":[")?;
    serde_json::to_writer(&mut *w, first)?;
    for p in rest {
        if mark(entries, marked, p.as_ref()) {
            w.write_all(b",")?;
            serde_json::to_writer(&mut *w, p.as_ref())?;
        }
    }
    w.write_all(b"]}\n")
}

/// A journal being written by a run.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    state: Mutex<State>,
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
        let header = Header {
            tool: format!("ontap-conform {}", env!("CARGO_PKG_VERSION")),
            target: target.to_string(),
            user: user.to_string(),
        };
        let file = create(&path, &header, |_| Ok(())).map_err(|e| {
            Error::Usage(format!(
                "--journal {}: cannot write the restore journal ({e}); choose a writable file with --journal FILE",
                path.display()
            ))
        })?;
        let mut state = State::new(header);
        state.file = Some(file);
        Ok(Journal {
            path,
            state: Mutex::new(state),
        })
    }

    /// Continues an existing journal (for `restore`) from what [`read`] returned; the file is
    /// opened at the first append. Only the paths are kept.
    pub fn resume(path: PathBuf, contents: Contents) -> Journal {
        let mut state = State::new(Header {
            tool: contents.tool,
            target: contents.target,
            user: contents.user,
        });
        for e in contents.entries {
            if !e.restored {
                state.unfinished += 1;
            }
            let m = if e.restored {
                Mark::Restored
            } else {
                Mark::Open
            };
            state.entries.insert(path_hash(&e.path), m);
        }
        Journal {
            path,
            state: Mutex::new(state),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries, read back from the file (the journal does not keep the originals in memory).
    pub fn contents(&self) -> Result<Contents> {
        let _appends = self.state.lock().unwrap();
        read(&self.path)?.ok_or_else(|| {
            Error::Usage(format!(
                "{}: the journal is gone; expected the file a run wrote",
                self.path.display()
            ))
        })
    }

    /// Adds an entry and flushes it to disk before returning: the caller sends its change only
    /// after this succeeded. An entry already there (same path) keeps its original; a restored one
    /// is reopened.
    pub fn add(
        &self,
        family: &str,
        path: &str,
        change: Change,
        original: &Value,
    ) -> Result<(), JournalError> {
        let mut st = self.state.lock().unwrap();
        match st.entries.get(&path_hash(path)).copied() {
            Some(Mark::Open | Mark::Adding | Mark::Reopening) => Ok(()),
            Some(Mark::Restored) => {
                st.append(&self.path, |w| line(w, &EventRef::Reopened(&[path])))?;
                st.entries.insert(path_hash(path), Mark::Open);
                st.unfinished += 1;
                Ok(())
            }
            None => {
                let add = EventRef::Add {
                    family,
                    path,
                    change,
                    original,
                };
                st.append(&self.path, |w| line(w, &add))?;
                st.entries.insert(path_hash(path), Mark::Open);
                st.unfinished += 1;
                Ok(())
            }
        }
    }

    /// Writes down, before it is sent, what a change sends to entries (`paths` None: every entry
    /// of the family), flushed to disk. Paths that are not entries are left out; nothing is
    /// written when none is left.
    pub fn wrote(
        &self,
        family: &str,
        paths: Option<&[String]>,
        wrote: &Wrote,
    ) -> Result<(), JournalError> {
        let mut st = self.state.lock().unwrap();
        let paths: Option<Vec<String>> = paths.map(|ps| {
            ps.iter()
                .filter(|p| st.entries.contains_key(&path_hash(p)))
                .cloned()
                .collect()
        });
        if paths.as_ref().is_some_and(Vec::is_empty) || wrote.is_empty() {
            return Ok(());
        }
        let e = WroteEvent::new(family, paths, wrote);
        st.append(&self.path, |w| line(w, &EventRef::Wrote(&e)))
    }

    /// Adds many entries with one flush to disk, each written as it comes (none is kept: a
    /// family may be hundreds of thousands; `examples/journal_append.rs` measures it).
    pub fn add_many(
        &self,
        list: impl IntoIterator<Item = super::Saved>,
    ) -> Result<(), JournalError> {
        self.add_entries(list.into_iter().map(|s| {
            let original = s.original();
            Some((s.family, s.path, s.change, original))
        }))
        .map(|_| ())
    }

    /// [`Journal::add_changed_unless`] with nothing that ends it (the tests' way in).
    #[cfg(test)]
    pub fn add_changed(
        &self,
        family: &str,
        list: impl IntoIterator<Item = (String, Value)>,
    ) -> Result<(), JournalError> {
        self.add_changed_unless(family, list.into_iter().map(Some))
            .map(|_| ())
    }

    /// Adds entries of one family about to be changed, given as (path, original) as they are
    /// found, with one flush to disk (no [`super::Saved`] is made for each); a None among them ends the
    /// write with nothing of it kept (the lines written so far are cut off, no entry is added):
    /// Ok(false).
    pub fn add_changed_unless(
        &self,
        family: &str,
        list: impl IntoIterator<Item = Option<(String, Value)>>,
    ) -> Result<bool, JournalError> {
        self.add_entries(list.into_iter().map(|e| {
            e.map(|(path, original)| (family.to_string(), path, Change::Changed, original))
        }))
    }

    /// Writes (family, path, change, original) entries as they come, with one flush to disk.
    /// A None among them ends the write with nothing of it kept: Ok(false).
    fn add_entries(
        &self,
        list: impl Iterator<Item = Option<(String, String, Change, Value)>>,
    ) -> Result<bool, JournalError> {
        let mut st = self.state.lock().unwrap();
        let mut list = list.peekable();
        match list.peek() {
            None => return Ok(true),
            Some(None) => return Ok(false),
            Some(Some(_)) => {}
        }
        // The file is opened first: a journal finished and removed starts anew, forgetting its
        // entries, before they are looked up.
        st.file(&self.path)?;
        // Entered (as Adding or Reopening) while the lines are written, put back after: a path
        // named twice is written once, and no set of the written paths is kept beside them (a
        // family of 200,000 records: 4.5 MB at the run's peak).
        let mut entries = std::mem::take(&mut st.entries);
        let mut added = 0;
        let mut reopened: Vec<String> = Vec::new();
        let mut ended = false;
        let written = st.append(&self.path, |w| {
            for item in list {
                let Some((family, path, change, original)) = item else {
                    // Cut off by append, as a failed write is.
                    ended = true;
                    return Err(std::io::Error::other("ended by the caller"));
                };
                match entries.entry(path_hash(&path)) {
                    std::collections::hash_map::Entry::Occupied(mut e) => {
                        if *e.get() == Mark::Restored {
                            e.insert(Mark::Reopening);
                            reopened.push(path);
                        }
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(Mark::Adding);
                        added += 1;
                        line(
                            w,
                            &EventRef::Add {
                                family: &family,
                                path: &path,
                                change,
                                original: &original,
                            },
                        )?;
                    }
                }
            }
            if !reopened.is_empty() {
                let r: Vec<&str> = reopened.iter().map(String::as_str).collect();
                line(w, &EventRef::Reopened(&r))?;
            }
            Ok(())
        });
        let done = !ended && written.is_ok();
        // What this write entered stays (open) only when it is on disk.
        if added > 0 {
            entries.retain(|_, m| match *m {
                Mark::Adding => {
                    *m = Mark::Open;
                    done
                }
                _ => true,
            });
        }
        for p in &reopened {
            let m = if done { Mark::Open } else { Mark::Restored };
            entries.insert(path_hash(p), m);
        }
        st.entries = entries;
        if ended {
            return Ok(false);
        }
        written?;
        st.unfinished += added + reopened.len();
        Ok(true)
    }

    /// Marks many entries restored with one flush to disk. Err: the write failed, with how many
    /// records it would have marked (nothing is marked then).
    ///
    /// The line is written as the paths come, each entry marked as it is written (so a path
    /// named twice is written once): a listing proves back a family of 200,000 records, and a
    /// list of their paths and a set of their hashes beside the caller's own list cost 9 MB more
    /// at the run's peak. Only the hashes marked are kept, to unmark them if the write fails.
    pub fn restored_many<S: AsRef<str>>(
        &self,
        paths: impl IntoIterator<Item = S>,
    ) -> Result<(), (usize, JournalError)> {
        let mut st = self.state.lock().unwrap();
        let mut paths = paths.into_iter();
        let open =
            |entries: &PathMap<Mark>, p: &str| entries.get(&path_hash(p)) == Some(&Mark::Open);
        // No path still open: no line.
        let Some(first) = paths.by_ref().find(|p| open(&st.entries, p.as_ref())) else {
            return Ok(());
        };
        // Marked while the line is written, put back after.
        let mut entries = std::mem::take(&mut st.entries);
        let mut marked: Vec<super::PathHash> = Vec::with_capacity(paths.size_hint().0 + 1);
        mark(&mut entries, &mut marked, first.as_ref());
        // An open entry means an unfinished journal: opening its file forgets no entry.
        let written = st.append(&self.path, |w| {
            restored_line(w, &mut entries, &mut marked, first.as_ref(), &mut paths)
        });
        if let Err(e) = written {
            // How many it would have marked: the rest counted the same way, then all unmarked.
            for p in paths {
                mark(&mut entries, &mut marked, p.as_ref());
            }
            for h in &marked {
                entries.insert(*h, Mark::Open);
            }
            st.entries = entries;
            return Err((marked.len(), e));
        }
        st.unfinished -= marked.len();
        st.entries = entries;
        Ok(())
    }

    /// Marks an entry restored (a read-back proved it).
    pub fn restored(&self, path: &str) -> Result<(), JournalError> {
        let mut st = self.state.lock().unwrap();
        if st.entries.get(&path_hash(path)) != Some(&Mark::Open) {
            return Ok(());
        }
        st.append(&self.path, |w| line(w, &EventRef::Restored(&[path])))?;
        st.entries.insert(path_hash(path), Mark::Restored);
        st.unfinished -= 1;
        Ok(())
    }

    /// Removes the file when every entry is restored; true when it did. A later entry starts a
    /// new file.
    pub fn finish(&self) -> Result<bool, JournalError> {
        let mut st = self.state.lock().unwrap();
        if st.unfinished > 0 {
            return Ok(false);
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(JournalError::io(&self.path, e)),
        }
        st.file = None;
        st.entries.clear();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::undo::Saved;
    use serde_json::json;

    fn saved(path: &str, original: Value) -> Saved {
        Saved::new("accounts", path, Change::Changed, &original)
    }

    /// A journal started in a temporary directory, with `n` entries `/api/x/0`, `/api/x/1`, ...
    fn journal_of(n: usize) -> (tempfile::TempDir, PathBuf, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        let list: Vec<Saved> = (0..n)
            .map(|i| saved(&format!("/api/x/{i}"), json!({"i": i})))
            .collect();
        j.add_many(list).unwrap();
        (dir, path, j)
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

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
        // A later entry starts a new file, with its header.
        j.add("duo", "/api/x/1", Change::Changed, &json!({"comment": "b"}))
            .unwrap();
        let again = read(&path).unwrap().unwrap();
        assert_eq!(again.target, "https://c1");
        assert_eq!(again.entries.len(), 1);
        assert_eq!(again.entries[0].original, json!({"comment": "b"}));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn the_file_is_a_header_line_then_one_line_per_event_only_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        let header = lines(&path);
        assert_eq!(header.len(), 1);
        let h: Value = serde_json::from_str(&header[0]).unwrap();
        assert_eq!(h["target"], "https://c1");
        assert_eq!(h["user"], "admin");
        assert!(h["tool"].as_str().unwrap().starts_with("ontap-conform "));
        j.add(
            "duo",
            "/api/x/1",
            Change::Changed,
            &json!({"comment": "a\nb"}),
        )
        .unwrap();
        j.add("duo", "/api/x/2", Change::Created, &Value::Null)
            .unwrap();
        j.restored("/api/x/1").unwrap();
        j.restored("/api/x/1").unwrap(); // already restored: nothing written
        j.add(
            "duo",
            "/api/x/1",
            Change::Changed,
            &json!({"comment": "other"}),
        )
        .unwrap();
        let l = lines(&path);
        assert_eq!(l[0], header[0], "the header is never rewritten");
        let events: Vec<Value> = l[1..]
            .iter()
            .map(|x| serde_json::from_str(x).unwrap())
            .collect();
        assert_eq!(
            events,
            vec![
                json!({"add": {"family": "duo", "path": "/api/x/1", "change": "changed", "original": {"comment": "a\nb"}}}),
                json!({"add": {"family": "duo", "path": "/api/x/2", "change": "created", "original": null}}),
                json!({"restored": ["/api/x/1"]}),
                json!({"reopened": ["/api/x/1"]}),
            ]
        );
    }

    #[test]
    fn an_entry_added_again_keeps_its_first_original_and_reopens_when_restored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        j.add("duo", "/api/x/1", Change::Changed, &json!({"v": 1}))
            .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        j.add("duo", "/api/x/1", Change::Changed, &json!({"v": 2}))
            .unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            before,
            "an unrestored entry added again writes nothing"
        );
        j.restored("/api/x/1").unwrap();
        j.restored("/api/x/1").unwrap();
        j.add("duo", "/api/x/1", Change::Changed, &json!({"v": 2}))
            .unwrap();
        let c = read(&path).unwrap().unwrap();
        assert_eq!(c.entries.len(), 1);
        assert_eq!(c.entries[0].original, json!({"v": 1}), "the first original");
        assert!(!c.entries[0].restored, "reopened");
        assert!(!j.finish().unwrap());
        // In bulk too: one restored and one unrestored entry, one new, duplicates in the list.
        j.add("duo", "/api/x/2", Change::Changed, &json!({"v": 1}))
            .unwrap();
        j.restored_many(["/api/x/1", "/api/x/2"]).unwrap();
        j.add("duo", "/api/x/3", Change::Changed, &json!({"v": 1}))
            .unwrap();
        j.add_many([
            saved("/api/x/1", json!({"v": 9})),
            saved("/api/x/3", json!({"v": 9})),
            saved("/api/x/4", json!({"v": 4})),
            saved("/api/x/4", json!({"v": 9})),
        ])
        .unwrap();
        let c = read(&path).unwrap().unwrap();
        let got: Vec<(&str, &Value, bool)> = c
            .entries
            .iter()
            .map(|e| (e.path.as_str(), &e.original, e.restored))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/api/x/1", &json!({"v": 1}), false),
                ("/api/x/2", &json!({"v": 1}), true),
                ("/api/x/3", &json!({"v": 1}), false),
                ("/api/x/4", &json!({"v": 4}), false),
            ]
        );
        // The entries are written as they come, the reopened ones after them.
        let last: Vec<String> = lines(&path).into_iter().rev().take(2).collect();
        assert_eq!(
            serde_json::from_str::<Value>(&last[0]).unwrap(),
            json!({"reopened": ["/api/x/1"]})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&last[1]).unwrap()["add"]["path"],
            json!("/api/x/4")
        );
        // Nothing new: nothing written.
        let before = std::fs::metadata(&path).unwrap().len();
        j.add_many([saved("/api/x/4", json!({"v": 9}))]).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
    }

    #[test]
    fn what_the_run_wrote_is_journaled_per_record_and_per_family_and_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        j.add("duo", "/api/x/1", Change::Changed, &json!({"comment": "a"}))
            .unwrap();
        j.add(
            "totp",
            "/api/y/1",
            Change::Changed,
            &json!({"comment": "b"}),
        )
        .unwrap();
        let one = |v: Value| Wrote {
            any: false,
            fields: [("comment".to_string(), vec![v])].into(),
        };
        j.wrote("duo", Some(&["/api/x/1".to_string()]), &one(json!("x1")))
            .unwrap();
        // Not an entry: nothing written.
        let before = std::fs::metadata(&path).unwrap().len();
        j.wrote("duo", Some(&["/api/x/9".to_string()]), &one(json!("x9")))
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
        // A collection write: every entry of the family.
        j.wrote("duo", None, &one(json!("all"))).unwrap();
        j.wrote(
            "totp",
            Some(&["/api/y/1".to_string()]),
            &Wrote {
                any: true,
                ..Wrote::default()
            },
        )
        .unwrap();
        let c = read(&path).unwrap().unwrap();
        assert_eq!(
            c.entries[0].wrote.fields["comment"],
            vec![json!("x1"), json!("all")]
        );
        assert!(!c.entries[0].wrote.any);
        assert!(c.entries[1].wrote.any && c.entries[1].wrote.fields.is_empty());
        assert_eq!(
            serde_json::from_str::<Value>(lines(&path).last().unwrap()).unwrap(),
            json!({"wrote": {"family": "totp", "paths": ["/api/y/1"], "any": true}})
        );
    }

    #[test]
    fn restored_many_marks_every_named_entry_in_one_line() {
        let (_dir, path, j) = journal_of(5);
        assert_eq!(lines(&path).len(), 6, "a header and one line per entry");
        j.restored_many(["/api/x/0", "/api/x/3", "/api/x/3", "/api/unknown"])
            .unwrap();
        let l = lines(&path);
        assert_eq!(l.len(), 7, "one line for many");
        assert_eq!(
            serde_json::from_str::<Value>(&l[6]).unwrap(),
            json!({"restored": ["/api/x/0", "/api/x/3"]})
        );
        let c = read(&path).unwrap().unwrap();
        let open: Vec<&str> = c.unfinished().map(|e| e.path.as_str()).collect();
        assert_eq!(open, ["/api/x/1", "/api/x/2", "/api/x/4"]);
        assert!(!j.finish().unwrap());
        let rest: Vec<String> = open.iter().map(|p| p.to_string()).collect();
        j.restored_many(rest.iter().map(String::as_str)).unwrap();
        assert!(j.finish().unwrap());
        assert!(!path.exists());
    }

    #[test]
    fn the_restored_line_written_as_paths_come_is_the_event_serialised_whole() {
        let paths = [
            "/api/x/a\"b",
            "/api/x/\u{e9}\\/c",
            "/api/x/\n",
            "/api/x/not-open",
        ];
        let mut entries = PathMap::default();
        for p in &paths[..3] {
            entries.insert(path_hash(p), Mark::Open);
        }
        let mut marked = Vec::new();
        let mut out = Vec::new();
        // The second path twice: written once.
        assert!(mark(&mut entries, &mut marked, paths[0]));
        restored_line(
            &mut out,
            &mut entries,
            &mut marked,
            paths[0],
            [paths[1], paths[1], paths[2], paths[3]].into_iter(),
        )
        .unwrap();
        let whole = serde_json::to_string(&EventRef::Restored(&paths[..3])).unwrap() + "\n";
        assert_eq!(String::from_utf8(out).unwrap(), whole);
        assert_eq!(marked.len(), 3);
        assert!(
            paths[..3]
                .iter()
                .all(|p| entries[&path_hash(p)] == Mark::Restored)
        );
        assert!(!entries.contains_key(&path_hash(paths[3])));
    }

    #[test]
    fn a_failed_restored_many_marks_nothing_and_counts_what_it_would_have_marked() {
        let (_dir, path, j) = journal_of(4);
        let before = std::fs::read(&path).unwrap();
        // The file the journal appends to, swapped for one that refuses writes.
        {
            let mut st = j.state.lock().unwrap();
            let len = st.file.as_ref().unwrap().1;
            st.file = Some((File::open(&path).unwrap(), len));
        }
        let (n, _) = j
            .restored_many([
                "/api/x/0",
                "/api/x/2",
                "/api/x/2",
                "/api/x/3",
                "/api/unknown",
            ])
            .unwrap_err();
        assert_eq!(n, 3);
        assert_eq!(std::fs::read(&path).unwrap(), before, "no line written");
        {
            let st = j.state.lock().unwrap();
            assert_eq!(st.unfinished, 4);
            assert!((0..4).all(|i| st.entries[&path_hash(&format!("/api/x/{i}"))] == Mark::Open));
            drop(st);
            j.state.lock().unwrap().file = None;
        }
        // Written again once the file takes writes: every entry still open is marked.
        j.restored_many(["/api/x/0", "/api/x/1", "/api/x/2", "/api/x/3"])
            .unwrap();
        assert!(j.finish().unwrap());
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_off_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        j.add("duo", "/api/x/1", Change::Changed, &json!({"comment": "a"}))
            .unwrap();
        j.add("duo", "/api/x/2", Change::Changed, &json!({"comment": "b"}))
            .unwrap();
        drop(j);
        // A crash in the middle of the next append (cut inside a multi-byte character).
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let whole = r#"{"add":{"family":"duo","path":"/api/x/3","change":"changed","original":{"comment":"é"}}}"#;
        let torn = &whole.as_bytes()[..whole.find('é').unwrap() + 1];
        assert!(std::str::from_utf8(torn).is_err());
        f.write_all(torn).unwrap();
        drop(f);
        let c = read(&path).unwrap().unwrap();
        let paths: Vec<&str> = c.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/api/x/1", "/api/x/2"]);
        // `restore` resumes it: the torn line is cut before its first append.
        let j = Journal::resume(path.clone(), c);
        j.restored("/api/x/1").unwrap();
        let l = lines(&path);
        assert_eq!(l.len(), 4, "{l:?}");
        assert_eq!(l[3], r#"{"restored":["/api/x/1"]}"#);
        let c = j.contents().unwrap();
        assert_eq!(c.unfinished().count(), 1);
        j.restored("/api/x/2").unwrap();
        assert!(j.finish().unwrap());
        assert!(!path.exists());
    }

    #[test]
    fn entries_added_in_bulk_after_the_journal_was_finished_start_a_new_file_with_their_originals()
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        j.add_changed("duo", [("/api/x/1".to_string(), json!({"v": 1}))])
            .unwrap();
        j.restored("/api/x/1").unwrap();
        assert!(j.finish().unwrap());
        assert!(!path.exists());
        // The same record changed again later in the run: written down anew, not "reopened".
        j.add_changed("duo", [("/api/x/1".to_string(), json!({"v": 2}))])
            .unwrap();
        let c = read(&path).unwrap().unwrap();
        let got: Vec<(&str, &Value, bool)> = c
            .entries
            .iter()
            .map(|e| (e.path.as_str(), &e.original, e.restored))
            .collect();
        assert_eq!(got, vec![("/api/x/1", &json!({"v": 2}), false)]);
    }

    #[test]
    fn a_bulk_write_ended_by_its_caller_keeps_nothing_of_it_however_long() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        j.add_changed("duo", [("/api/x/0".to_string(), json!({"v": 0}))])
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        // Longer than the write buffer: lines already reached the file when the end came.
        let entry = |i: usize| Some((format!("/api/x/{i}"), json!({"v": "x".repeat(200)})));
        for end_at in [0, 1, 5_000] {
            let list = (1..=5_000).map(entry).take(end_at).chain([None]);
            assert!(
                !j.add_changed_unless("duo", list).unwrap(),
                "ended at {end_at}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), before, "ended at {end_at}");
            let c = j.contents().unwrap();
            assert_eq!(c.unfinished().count(), 1, "ended at {end_at}");
        }
        // Not ended: every line is kept, and counts.
        assert!(j.add_changed_unless("duo", (1..=3).map(entry)).unwrap());
        assert_eq!(j.contents().unwrap().unfinished().count(), 4);
        assert!(j.add_changed_unless("duo", std::iter::empty()).unwrap());
    }

    #[test]
    fn a_bulk_write_reopens_a_restored_entry_once_and_one_ended_leaves_it_restored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        let p1 = || Some(("/api/x/1".to_string(), json!({"v": 1})));
        j.add_changed("duo", [("/api/x/1".to_string(), json!({"v": 1}))])
            .unwrap();
        j.restored("/api/x/1").unwrap();
        let state = |j: &Journal| {
            let st = j.state.lock().unwrap();
            (st.unfinished, st.entries[&path_hash("/api/x/1")])
        };
        assert_eq!(state(&j), (0, Mark::Restored));
        // Ended: the entry stays restored, in memory and in the file.
        assert!(!j.add_changed_unless("duo", [p1(), None]).unwrap());
        assert_eq!(state(&j), (0, Mark::Restored));
        assert_eq!(j.contents().unwrap().unfinished().count(), 0);
        // Named twice by a write that completes: reopened once, and one read-back ends it.
        assert!(j.add_changed_unless("duo", [p1(), p1()]).unwrap());
        assert_eq!(state(&j), (1, Mark::Open));
        assert_eq!(j.contents().unwrap().unfinished().count(), 1);
        j.restored("/api/x/1").unwrap();
        assert!(j.finish().unwrap());
    }

    #[test]
    fn a_whole_last_line_without_its_newline_counts_and_is_ended_before_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        j.add("duo", "/api/x/1", Change::Changed, &json!({"comment": "a"}))
            .unwrap();
        drop(j);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.trim_end()).unwrap();
        let c = read(&path).unwrap().unwrap();
        assert_eq!(c.entries.len(), 1);
        let j = Journal::resume(path.clone(), c);
        j.restored("/api/x/1").unwrap();
        assert_eq!(lines(&path).len(), 3);
        assert_eq!(read(&path).unwrap().unwrap().unfinished().count(), 0);
    }

    #[test]
    fn a_corrupt_line_before_the_last_is_refused_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        for i in 0..3 {
            j.add("duo", &format!("/api/x/{i}"), Change::Changed, &json!({}))
                .unwrap();
        }
        drop(j);
        let mut l = lines(&path);
        l[2] = l[2][..20].to_string();
        std::fs::write(&path, l.join("\n") + "\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains("t.json: not a journal of ontap-conform (line 3: expected an event"),
            "{err}"
        );
        assert!(err.contains("expected the file a run wrote"), "{err}");
        // A run does not start over it either.
        let err = Journal::start(path.clone(), "https://c1", "admin").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        // Nor is a file that does not begin with a header (and is not the former format).
        std::fs::write(
            &path,
            "{\n  \"tool\": \"ontap-conform 0.1.0\",\n  \"entries\": 1\n}",
        )
        .unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("(line 1: expected a header"), "{err}");
        std::fs::write(&path, "").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("(line 1: the file is empty"), "{err}");
    }

    #[test]
    fn a_journal_of_the_former_format_is_read_and_rewritten_as_lines_at_the_first_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let former = Contents {
            tool: "ontap-conform 0.1.0".to_string(),
            target: "https://c1".to_string(),
            user: "admin".to_string(),
            entries: vec![
                Entry {
                    family: "duo".to_string(),
                    path: "/api/x/1".to_string(),
                    change: Change::Changed,
                    original: json!({"comment": "a"}),
                    restored: true,
                    wrote: Wrote::default(),
                },
                Entry {
                    family: "duo".to_string(),
                    path: "/api/x/2".to_string(),
                    change: Change::Created,
                    original: Value::Null,
                    restored: false,
                    wrote: Wrote::default(),
                },
            ],
        };
        std::fs::write(&path, serde_json::to_string_pretty(&former).unwrap()).unwrap();
        assert_eq!(read(&path).unwrap().unwrap(), former);
        let err = Journal::start(path.clone(), "https://c1", "admin").unwrap_err();
        assert!(
            err.to_string().contains("left 1 records unrestored"),
            "{err}"
        );
        let j = Journal::resume(path.clone(), read(&path).unwrap().unwrap());
        j.add("duo", "/api/x/3", Change::Changed, &json!({"comment": "c"}))
            .unwrap();
        assert_eq!(lines(&path).len(), 5, "header, 3 adds, 1 restored");
        let c = j.contents().unwrap();
        assert_eq!(c.entries[..2], former.entries[..]);
        assert_eq!(c.unfinished().count(), 2);
        // A finished journal of the former format is replaced by a run.
        j.restored_many(["/api/x/2", "/api/x/3"]).unwrap();
        let mut done = former.clone();
        done.entries[1].restored = true;
        std::fs::write(&path, serde_json::to_string_pretty(&done).unwrap()).unwrap();
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        assert_eq!(read(&path).unwrap().unwrap().entries, []);
        assert!(j.finish().unwrap());
    }

    #[test]
    fn a_failed_append_leaves_no_torn_line_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        j.add("duo", "/api/x/1", Change::Changed, &json!({}))
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let mut st = j.state.lock().unwrap();
        let err = st
            .append(&path, |w| {
                w.write_all(b"{\"add\":")?;
                Err(std::io::Error::other("disk full"))
            })
            .unwrap_err();
        drop(st);
        assert!(matches!(err, JournalError::Io { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("{}: disk full", path.display()));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        j.restored("/api/x/1").unwrap();
        assert_eq!(read(&path).unwrap().unwrap().unfinished().count(), 0);
    }

    #[test]
    fn a_resumed_journal_whose_file_was_replaced_is_not_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        j.add("duo", "/api/x/1", Change::Changed, &json!({}))
            .unwrap();
        let resumed = Journal::resume(path.clone(), read(&path).unwrap().unwrap());
        std::fs::write(&path, "not json\n").unwrap();
        let err = resumed.restored("/api/x/1").unwrap_err();
        assert!(matches!(err, JournalError::NotAJournal { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{}: ", path.display()))
                && text.contains("not a journal of ontap-conform (line 1:"),
            "{text}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json\n");
    }

    #[test]
    fn the_journal_keeps_only_paths_in_memory_never_the_originals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let j = Journal::start(path.clone(), "https://c1", "admin").unwrap();
        let big = json!({"comment": "x".repeat(1024)});
        let list: Vec<Saved> = (0..10_000)
            .map(|i| saved(&format!("/api/x/{i}"), big.clone()))
            .collect();
        // Taken one at a time, as a collection PATCH's family comes.
        j.add_many(list).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 10_000_000);
        let st = j.state.lock().unwrap();
        assert_eq!(st.entries.len(), 10_000);
        assert_eq!(st.unfinished, 10_000);
        // The state is a map of path hash to flag (no JSON value, no path text in it).
        assert!(st.entries.keys().all(|h| *h != path_hash("")));
        assert!(st.entries.contains_key(&path_hash("/api/x/9999")));
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
