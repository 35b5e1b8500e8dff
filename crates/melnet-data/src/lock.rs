//! Exclusive use of an output directory: one writer at a time per dataset or model directory.
//!
//! The lock is an OS file lock (`flock`) on `DIR/.melnet.lock`, held for the lifetime of a
//! [`DirLock`]. The kernel releases it when the process ends, however it ends (a crash or
//! SIGKILL included), so a stale lock cannot block a retry; the file itself stays and only
//! records who held it last.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Name of the lock file inside a locked directory.
pub const LOCK_FILE: &str = ".melnet.lock";

/// An exclusive lock on a directory, released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Lock `dir` (which must exist) for writing, without waiting.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when another process holds the lock (naming its process id
    /// when recorded), [`Error::Io`] when the lock file cannot be opened.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let by = if holder.is_empty() {
                    "another melnet process".to_string()
                } else {
                    format!("another melnet process ({holder})")
                };
                return Err(Error::InvalidInput(format!(
                    "{}: in use by {by}; wait for it to finish or use another directory",
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // Record the holder for the message above (best effort: the lock is what counts).
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "pid {}", std::process::id()));
        Ok(DirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("in use by another melnet process (pid "),
            "{err}"
        );
        assert!(first.path().ends_with(LOCK_FILE));
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
