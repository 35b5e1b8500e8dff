//! All-or-nothing output files: every file is written under a temporary name next to its
//! destination and renamed into place only when the whole command has succeeded.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A set of output files being written.
#[derive(Debug, Default)]
pub struct Outputs {
    staged: Vec<(PathBuf, PathBuf)>,
}

impl Outputs {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserve `dest`: checks its directory exists and returns the temporary path to write to.
    pub fn stage(&mut self, dest: &Path) -> Result<PathBuf> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            bail!(
                "{}: output directory {} does not exist",
                dest.display(),
                dir.display()
            );
        }
        let name = dest
            .file_name()
            .with_context(|| format!("{}: not a file path", dest.display()))?;
        // Keep the extension last: some writers choose the format from it.
        let tmp = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            name.to_string_lossy()
        ));
        self.staged.push((tmp.clone(), dest.to_owned()));
        Ok(tmp)
    }

    /// Move every staged file into place.
    pub fn commit(mut self) -> Result<()> {
        for (tmp, dest) in std::mem::take(&mut self.staged) {
            std::fs::rename(&tmp, &dest)
                .with_context(|| format!("{}: cannot move output into place", dest.display()))?;
        }
        Ok(())
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        for (tmp, _) in &self.staged {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
