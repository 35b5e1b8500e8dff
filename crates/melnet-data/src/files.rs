//! File helpers shared by the pipelines: atomic writes and content hashes.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Write `dest` through `write` into `dest.tmp`, renamed into place; the temporary file is
/// removed when anything fails (a full disk must not stay full of temporary files).
pub(crate) fn write_renamed(dest: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let mut name = dest.as_os_str().to_owned();
    name.push(".tmp");
    let tmp = PathBuf::from(name);
    let result =
        write(&tmp).and_then(|()| std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Write `text` to `path` through [`write_renamed`].
pub(crate) fn write_text(path: &Path, text: &str) -> Result<()> {
    write_renamed(path, |tmp| {
        std::fs::write(tmp, text).map_err(|e| Error::io(tmp, e))
    })
}

/// The blake3 hash (hex) of a file's bytes, read in 64 KiB pieces.
pub(crate) fn hash_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}
