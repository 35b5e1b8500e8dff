//! Labels per item: a table (CSV) giving each audio file a category or a numeric vector (e.g.
//! a synthesizer preset's parameters in [0, 1], as `melnet synth render` writes them), kept by a
//! prepared dataset as `labels.npy` `(items, dim)` f32 beside its frame files.
//!
//! The table has a header row. Its first column is the file's path relative to the folder given
//! to `prepare` (`/`-separated, as the manifest lists items). The other columns are either all
//! numeric — a vector label with the columns' names — or a single non-numeric column — a
//! category, stored as the class's index in the sorted list of classes.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The file beside the frame files holding the labels, `(items, dim)` f32.
pub const LABELS_NPY: &str = "labels.npy";

/// What kind of labels a dataset has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum LabelKind {
    /// One class per item; `labels.npy` holds the class index (one column).
    Category {
        /// Class names, sorted; index i is class i.
        classes: Vec<String>,
    },
    /// A numeric vector per item.
    Vector {
        /// Column names, one per dimension.
        names: Vec<String>,
    },
}

/// How a dataset's labels were made: recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelInfo {
    /// Category or vector, with the names.
    #[serde(flatten)]
    pub kind: LabelKind,
    /// blake3 (hex) of the table's bytes.
    pub table_hash: String,
}

impl LabelInfo {
    /// Values per item (1 for categories).
    pub fn dim(&self) -> usize {
        match &self.kind {
            LabelKind::Category { .. } => 1,
            LabelKind::Vector { names } => names.len(),
        }
    }
}

/// A parsed label table.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelTable {
    info: LabelInfo,
    rows: HashMap<String, Vec<f32>>,
}

impl LabelTable {
    /// Reads and checks a label table (see the module docs).
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable; [`Error::InvalidInput`] naming the row and column of a
    /// malformed table (no rows, a row of the wrong length, a repeated file, a non-finite
    /// number, several columns not all numeric).
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&bytes).map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))
    }

    /// Parses a label table's bytes; errors are messages without the file name.
    fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| e.to_string())?
            .iter()
            .map(str::to_string)
            .collect();
        if header.len() < 2 {
            return Err("a label table needs a file column and at least one label column".into());
        }
        let mut records = Vec::new();
        for (n, record) in reader.records().enumerate() {
            let record = record.map_err(|e| e.to_string())?;
            records.push((n + 2, record));
        }
        if records.is_empty() {
            return Err("no rows".into());
        }
        let numeric = records
            .iter()
            .all(|(_, r)| r.iter().skip(1).all(|c| c.trim().parse::<f32>().is_ok()));
        let kind = if numeric {
            LabelKind::Vector {
                names: header[1..].to_vec(),
            }
        } else if header.len() == 2 {
            let classes: BTreeSet<&str> = records
                .iter()
                .map(|(_, r)| r.get(1).unwrap_or("").trim())
                .collect();
            LabelKind::Category {
                classes: classes.into_iter().map(str::to_string).collect(),
            }
        } else {
            let (line, col) = records
                .iter()
                .find_map(|(line, r)| {
                    r.iter()
                        .enumerate()
                        .skip(1)
                        .find(|(_, c)| c.trim().parse::<f32>().is_err())
                        .map(|(k, _)| (*line, k))
                })
                .expect("some cell is not numeric");
            return Err(format!(
                "line {line}, column {}: not a number (a table with several label columns must be all numeric; a category takes one column)",
                header[col]
            ));
        };
        let mut rows = HashMap::with_capacity(records.len());
        for (line, r) in &records {
            let file = r
                .get(0)
                .unwrap_or("")
                .trim()
                .trim_start_matches("./")
                .to_string();
            if file.is_empty() {
                return Err(format!("line {line}: empty file name"));
            }
            let values: Vec<f32> = match &kind {
                LabelKind::Category { classes } => {
                    let class = r.get(1).unwrap_or("").trim();
                    vec![classes
                        .binary_search_by(|c| c.as_str().cmp(class))
                        .expect("classes hold every value") as f32]
                }
                LabelKind::Vector { .. } => r
                    .iter()
                    .skip(1)
                    .map(|c| c.trim().parse().expect("checked numeric"))
                    .collect(),
            };
            if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
                return Err(format!(
                    "line {line}, column {}: not finite",
                    header[bad + 1]
                ));
            }
            if rows.insert(file.clone(), values).is_some() {
                return Err(format!("line {line}: {file} is listed twice"));
            }
        }
        let table_hash = blake3::hash(bytes).to_hex().to_string();
        Ok(LabelTable {
            info: LabelInfo { kind, table_hash },
            rows,
        })
    }

    /// Category labels from folders: each file in `files` (`/`-separated paths relative to
    /// the prepared folder) is labelled with the sub-folder it lies in directly under that
    /// folder (`alice/01.wav` → `alice`); files at the top level get no label (and are
    /// skipped by `prepare`). The hash covers the resulting table, so shards agree.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when no file lies in a sub-folder.
    pub fn from_folders(files: &[String]) -> Result<Self> {
        let mut text = String::from("file,folder\n");
        for f in files {
            if let Some((folder, _)) = f.split_once('/') {
                // The CSV layer quotes nothing here: keep names with commas or quotes intact.
                let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
                text += &format!("{},{}\n", quote(f), quote(folder));
            }
        }
        if text.lines().count() == 1 {
            return Err(Error::InvalidInput(
                "no file lies in a sub-folder: labels from folders name each file by the sub-folder it is in"
                    .into(),
            ));
        }
        Self::parse(text.as_bytes()).map_err(Error::InvalidInput)
    }

    /// The table's kind, names and hash.
    pub fn info(&self) -> &LabelInfo {
        &self.info
    }

    /// The label of the file at `path` (relative to the prepared folder), `dim` values.
    pub fn get(&self, path: &str) -> Option<&[f32]> {
        self.rows.get(path).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_and_categories() {
        let t = LabelTable::parse(b"file,a,b\nx.wav,0.5,1\n./d/y.wav,0,-2e-1\n").unwrap();
        assert_eq!(
            t.info().kind,
            LabelKind::Vector {
                names: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(t.get("d/y.wav"), Some(&[0.0, -0.2][..]));
        assert_eq!(t.info().dim(), 2);
        let t =
            LabelTable::parse(b"path,instrument\na.wav,piano\nb.wav,bass\nc.wav,piano\n").unwrap();
        assert_eq!(
            t.info().kind,
            LabelKind::Category {
                classes: vec!["bass".into(), "piano".into()]
            }
        );
        assert_eq!(t.get("a.wav"), Some(&[1.0][..]));
        assert_eq!(t.get("b.wav"), Some(&[0.0][..]));
        assert_eq!(t.get("z.wav"), None);
        // A single numeric column is a one-dimensional vector.
        let t = LabelTable::parse(b"file,pitch\na.wav,60\n").unwrap();
        assert_eq!(t.info().dim(), 1);
    }

    #[test]
    fn folders_are_categories() {
        let files: Vec<String> = [
            "alice/1.wav",
            "bob/x/2.wav",
            "alice/3.wav",
            "top.wav",
            "c,d/4.wav",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let t = LabelTable::from_folders(&files).unwrap();
        assert_eq!(
            t.info().kind,
            LabelKind::Category {
                classes: vec!["alice".into(), "bob".into(), "c,d".into()]
            }
        );
        assert_eq!(t.get("bob/x/2.wav"), Some(&[1.0][..]));
        assert_eq!(t.get("c,d/4.wav"), Some(&[2.0][..]));
        assert_eq!(t.get("top.wav"), None);
        assert!(LabelTable::from_folders(&["a.wav".to_string()]).is_err());
    }

    #[test]
    fn malformed_tables_name_the_line() {
        let err = |b: &[u8]| LabelTable::parse(b).unwrap_err();
        assert!(err(b"file\na.wav\n").contains("at least one label column"));
        assert!(err(b"file,a\n").contains("no rows"));
        assert_eq!(
            err(b"file,a,b\nx.wav,1,2\ny.wav,1,oops\n"),
            "line 3, column b: not a number (a table with several label columns must be all numeric; a category takes one column)"
        );
        assert!(err(b"file,a\nx.wav,1\nx.wav,2\n").contains("line 3: x.wav is listed twice"));
        assert!(err(b"file,a\nx.wav,NaN\n").contains("line 2, column a: not finite"));
        assert!(
            err(b"file,a,b\nx.wav,1\n").contains("found record with 2 fields"),
            "{}",
            err(b"file,a,b\nx.wav,1\n")
        );
    }
}
