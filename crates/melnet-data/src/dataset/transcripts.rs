//! Transcripts in the LJSpeech format (`metadata.csv`): one line per recording, `id|text` or
//! `id|text|normalised text` (the last field is used), the id being the recording's file name
//! without its extension, or its path under the dataset's input folder without the extension.

use std::collections::HashMap;
use std::path::Path;

use crate::{Error, Result};

/// A parsed transcript table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcripts {
    rows: HashMap<String, String>,
}

impl Transcripts {
    /// Read `path`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the file and line for an unreadable file, a line without
    /// `|`, an empty id or text, a repeated id, or no line at all.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::InvalidInput(format!("{}: cannot read transcripts: {e}", path.display()))
        })?;
        Self::parse(&text).map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))
    }

    /// Parse the text of a `metadata.csv`.
    ///
    /// # Errors
    /// A one-line reason, as [`Transcripts::read`].
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut rows = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split('|');
            let id = fields.next().unwrap_or("").trim();
            let said = fields.next_back().map(str::trim).unwrap_or("");
            if id.is_empty() || said.is_empty() {
                return Err(format!(
                    "line {}: expected `id|text` with both non-empty, got {line:?}",
                    i + 1
                ));
            }
            if rows.insert(id.to_string(), said.to_string()).is_some() {
                return Err(format!("line {}: the id {id:?} appears twice", i + 1));
            }
        }
        if rows.is_empty() {
            return Err("no transcript".into());
        }
        Ok(Transcripts { rows })
    }

    /// The transcript of the dataset item at `path` (relative, `/`-separated): by its path
    /// without extension, else by its file name without extension.
    pub fn get(&self, path: &str) -> Option<&str> {
        let stem_path = match path.rfind('.') {
            Some(dot) if !path[dot..].contains('/') => &path[..dot],
            _ => path,
        };
        let name = stem_path.rsplit('/').next().unwrap_or(stem_path);
        self.rows
            .get(stem_path)
            .or_else(|| self.rows.get(name))
            .map(String::as_str)
    }

    /// Every transcript.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.rows.values().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ljspeech_lines_match_items_by_path_or_name() {
        let t = Transcripts::parse("LJ001-0001|Raw 1.|Raw one.\nspk/a01|hello\r\n\n").unwrap();
        assert_eq!(t.get("wavs/LJ001-0001.wav"), Some("Raw one."));
        assert_eq!(t.get("spk/a01.flac"), Some("hello"));
        assert_eq!(t.get("other/a01.flac"), None);
        assert_eq!(t.get("a01"), None);
    }

    #[test]
    fn bad_tables_are_one_line_errors() {
        for bad in ["", "no separator", "|text", "a|", "a|x\na|y"] {
            let e = Transcripts::parse(bad).unwrap_err();
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
