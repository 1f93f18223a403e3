//! One run at a time against a target. Before a run against `--target` sends anything it takes
//! the target's lock: a file in the state directory (`<state>/ontap-conform/locks/<target>.lock`,
//! next to the journals), locked with `flock(2)` and holding who took it (pid, host, start time).
//! A second run finds it locked and is refused, naming the holder. The operating system releases
//! the lock of a process that dies however it dies (SIGKILL, a crash), so a stale lock never
//! blocks: the file's contents say who held it last, and the next run takes it over.
//!
//! Limits: the lock is per state directory. Two machines (or two users, or two `HOME`s) each
//! have their own, unless the directory is shared over a file system that honours `flock`
//! (NFSv4 does, as a byte-range lock). Across machines the guard is the mark every value the
//! run writes carries (see [`crate::generate::MARK`]).

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Who holds (or last held) a target's lock.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub target: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {}, started {} ({} s ago)",
            self.pid,
            self.host,
            self.started,
            now().saturating_sub(self.started)
        )
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// This machine's name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Where the lock of a target lives: beside the journals, under the state directory.
pub fn default_path(vars: &std::collections::BTreeMap<String, String>, target: &str) -> PathBuf {
    let journal = super::journal::default_path(vars, target);
    let name = journal
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    journal
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .join("locks")
        .join(format!("{name}.lock"))
}

/// A target's lock, held until dropped.
#[derive(Debug)]
pub struct TargetLock {
    file: File,
    path: PathBuf,
    /// The holder of a lock that was left behind (its process died) and taken over.
    pub stale: Option<Holder>,
}

impl TargetLock {
    /// Takes the lock of `target` at `path`, or says who holds it.
    pub fn acquire(path: PathBuf, target: &str) -> Result<TargetLock> {
        let cannot = |e: std::io::Error| {
            Error::Usage(format!(
                "{}: cannot take the target's lock ({e}); is the state directory writable?",
                path.display()
            ))
        };
        crate::fsutil::create_dirs(crate::fsutil::dir_of(&path), 0o700).map_err(cannot)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        // SAFETY: flock on a file descriptor this File owns.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let held: Option<Holder> = serde_json::from_str(text.trim()).ok();
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(cannot(e));
            }
            let who = held.map_or_else(|| "a run that is starting".to_string(), |h| h.to_string());
            return Err(Error::Busy(format!(
                "another run against {target} holds the lock {} ({who}); only one run changes a target at a time: wait for it to end",
                path.display()
            )));
        }
        let me = Holder {
            pid: std::process::id(),
            host: hostname(),
            started: now(),
            target: target.to_string(),
        };
        let text = serde_json::to_string(&me).expect("JSON") + "\n";
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_data())
            .map_err(cannot)?;
        let _ = crate::fsutil::set_mode(&path, crate::fsutil::FILE_MODE);
        Ok(TargetLock {
            file,
            path,
            stale: held,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TargetLock {
    /// Empties the file (the lock is released when the file closes): an empty file is a lock
    /// released in order, one with a holder a lock its process left behind.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_a_released_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks").join("t.lock");
        let first = TargetLock::acquire(path.clone(), "https://c1").unwrap();
        assert!(first.stale.is_none());
        let err = TargetLock::acquire(path.clone(), "https://c1").unwrap_err();
        let said = err.to_string();
        assert!(said.contains("another run against https://c1"), "{said}");
        assert!(
            said.contains(&format!("pid {} on {}", std::process::id(), hostname())),
            "{said}"
        );
        drop(first);
        let again = TargetLock::acquire(path.clone(), "https://c1").unwrap();
        assert!(again.stale.is_none(), "released in order: not stale");
        // A holder whose process died left its name in the file: taken over, and said so.
        std::mem::forget(again);
        let left = std::fs::read_to_string(&path).unwrap();
        assert!(left.contains("\"pid\""));
    }

    #[test]
    fn the_lock_lives_beside_the_journals() {
        let mut vars = std::collections::BTreeMap::new();
        vars.insert("HOME".to_string(), "/home/u".to_string());
        assert_eq!(
            default_path(&vars, "https://cluster1.example.com:8443"),
            Path::new("/home/u/.local/state/ontap-conform/locks/cluster1.example.com_8443.lock")
        );
    }
}
