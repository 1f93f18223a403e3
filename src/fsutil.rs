//! Writing files so that a crash never leaves a torn one: write a sibling temporary file, flush it
//! to disk, then rename it over the target. Whatever the umask, a file the harness writes is
//! 0644 and a directory 0755 (the restore journal, 0600, is written by `undo::journal`).

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// The directory a file is written in: its parent, or `.` for a bare name (`--journal j.json`,
/// whose parent is the empty path, which no call can open).
pub fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = dir_of(path);
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    set_mode(tmp.path(), FILE_MODE)?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// The mode of every file the harness writes (but the journal).
pub const FILE_MODE: u32 = 0o644;
/// The mode of every directory it makes.
pub const DIR_MODE: u32 = 0o755;

/// Sets a file's or directory's mode exactly (the umask does not apply).
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(path, e))
}

/// Writes a file (not atomically: into a directory being staged) of mode 0644.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))?;
    set_mode(path, FILE_MODE)
}

/// Creates a directory and its missing parents, each new one of `mode` at most (the umask may
/// take more away, never add): the state directory 0700, others 0755.
pub fn create_dirs(dir: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_is_written_in_the_current_directory() {
        assert_eq!(dir_of(Path::new("j.json")), Path::new("."));
        assert_eq!(dir_of(Path::new("out/j.json")), Path::new("out"));
        assert_eq!(dir_of(Path::new("/j.json")), Path::new("/"));
    }
}
