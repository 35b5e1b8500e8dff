//! `.npy` files of 2-D f32 arrays (C order, so `np.load` gives `(bins, frames)` as librosa).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use ndarray::{Array2, ArrayView2};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

use crate::error::{Error, Result};
use crate::limits::human_bytes;

/// Read a 2-D array from `path` in any memory order, returned in row-major (standard) layout;
/// f32 is read as is, f64 is converted to f32.
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened, [`Error::Npy`] when it is not a 2-D f32/f64
/// `.npy` array or holds less data than its header declares.
pub fn read_f32_2d(path: &Path) -> Result<Array2<f32>> {
    check_declared_size(path)?;
    let open = || {
        File::open(path)
            .map(BufReader::new)
            .map_err(|e| Error::io(path, e))
    };
    let a = match Array2::<f32>::read_npy(open()?) {
        Ok(a) => a,
        Err(first) => match Array2::<f64>::read_npy(open()?) {
            Ok(a) => a.mapv(|v| v as f32),
            Err(_) => {
                return Err(Error::Npy {
                    path: path.to_owned(),
                    reason: format!(
                        "not a 2-D float32 .npy array ({})",
                        one_line(&first.to_string())
                    ),
                })
            }
        },
    };
    Ok(if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    })
}

/// `text` with its line breaks and runs of white space folded into single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Write a 2-D f32 array to `path` in C order.
///
/// # Errors
/// [`Error::Io`] / [`Error::Npy`] when writing fails.
pub fn write_f32_2d(path: &Path, a: ArrayView2<f32>) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = BufWriter::new(file);
    a.as_standard_layout()
        .write_npy(&mut w)
        .map_err(|e| Error::Npy {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    w.flush().map_err(|e| Error::io(path, e))
}

/// The header of a C-order little-endian f32 `.npy` file of shape `(rows, cols)`, as written by
/// numpy (format 1.0, padded so that the data starts at a multiple of 64 bytes). Write it, then
/// `rows · cols` little-endian f32 values, to stream an array too large to hold in memory.
pub fn f32_2d_header(rows: usize, cols: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic (6) + version (2) + header length (2) + dict + padding + '\n'
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let mut header = Vec::with_capacity(total);
    header.extend_from_slice(b"\x93NUMPY\x01\x00");
    header.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.resize(total - 1, b' ');
    header.push(b'\n');
    header
}

/// What a `.npy` header declares.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    /// The dtype string, e.g. `<f4`.
    descr: String,
    /// Whether the data is in column-major order.
    fortran_order: bool,
    /// The shape.
    dims: Vec<usize>,
    /// Where the data starts, bytes from the start of the file.
    data_offset: usize,
}

impl Header {
    /// Bytes of data the header declares (`None` when the product overflows or the dtype has
    /// no size).
    fn data_bytes(&self) -> Option<usize> {
        let item: usize = self
            .descr
            .trim_start_matches(['<', '>', '|', '='])
            .get(1..)?
            .parse()
            .ok()?;
        self.dims
            .iter()
            .try_fold(item, |acc, &d| acc.checked_mul(d))
    }
}

/// Parse a `.npy` header from the first bytes of a file.
fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    let bad = |reason: &str| Error::Npy {
        path: path.to_owned(),
        reason: reason.to_string(),
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file"));
    }
    let (len, start) = match bytes[6] {
        1 => (
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
            10usize,
        ),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unsupported .npy version")),
    };
    let dict = bytes
        .get(start..start.saturating_add(len))
        .and_then(|d| std::str::from_utf8(d).ok())
        .ok_or_else(|| bad("truncated .npy header"))?;
    let after = |key: &str| dict.split(key).nth(1).map(str::trim_start);
    let descr = after("'descr':")
        .and_then(|s| s.strip_prefix('\''))
        .and_then(|s| s.split('\'').next())
        .ok_or_else(|| bad("no dtype in .npy header"))?;
    let fortran_order = match after("'fortran_order':") {
        Some(s) if s.starts_with("True") => true,
        Some(s) if s.starts_with("False") => false,
        _ => return Err(bad("no memory order in .npy header")),
    };
    let shape = after("'shape':")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape in .npy header"))?;
    let dims = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("bad shape in .npy header")))
        .collect::<Result<_>>()?;
    Ok(Header {
        descr: descr.to_string(),
        fortran_order,
        dims,
        data_offset: start + len,
    })
}

/// Check that the file at `path` has a readable header (of at most 64 KiB: numpy's are a few
/// hundred bytes) and holds at least the data it declares, before anything of a declared size
/// is allocated (ndarray-npy allocates a header's declared length, up to 4 GiB, before reading
/// it: found by fuzzing).
fn check_declared_size(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = Vec::new();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    file.take(1 << 16)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let header = parse_header(path, &head)?;
    let held = len.saturating_sub(header.data_offset as u64);
    match header.data_bytes() {
        Some(n) if n as u64 <= held => Ok(()),
        declared => Err(Error::Npy {
            path: path.to_owned(),
            reason: format!(
                "the header declares shape {:?} ({}), the file holds {} of data",
                header.dims,
                declared.map_or_else(|| "too large".into(), |n| human_bytes(n as f64)),
                human_bytes(held as f64)
            ),
        }),
    }
}

/// Parse the header of a C-order little-endian f32 2-D `.npy` file: `(rows, cols, data offset
/// in bytes)`.
///
/// # Errors
/// [`Error::Npy`] when the header is not that of a 2-D `<f4` C-order array.
pub fn parse_f32_2d_header(path: &Path, bytes: &[u8]) -> Result<(usize, usize, usize)> {
    let header = parse_header(path, bytes)?;
    if header.descr != "<f4" || header.fortran_order {
        return Err(Error::Npy {
            path: path.to_owned(),
            reason: "expected a little-endian float32 array in C order".into(),
        });
    }
    match header.dims.as_slice() {
        [rows, cols] => Ok((*rows, *cols, header.data_offset)),
        _ => Err(Error::Npy {
            path: path.to_owned(),
            reason: "expected a 2-D array".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_shape_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let a = Array2::from_shape_fn((3, 5), |(i, j)| (i * 10 + j) as f32);
        write_f32_2d(&path, a.t()).unwrap();
        let b = read_f32_2d(&path).unwrap();
        assert_eq!(b, a.t());
        assert!(b.is_standard_layout());
        // A Fortran-order file (`np.save(p, S.T)` writes one) of either float width.
        let f = a.t().as_standard_layout().into_owned();
        let mut bytes = Vec::new();
        a.t().write_npy(&mut bytes).unwrap();
        assert!(String::from_utf8_lossy(&bytes[..128]).contains("'fortran_order': True"));
        std::fs::write(&path, &bytes).unwrap();
        let b = read_f32_2d(&path).unwrap();
        assert_eq!(b, f);
        assert!(b.as_slice().is_some());
        let mut bytes = Vec::new();
        a.t().mapv(f64::from).write_npy(&mut bytes).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            read_f32_2d(&path).unwrap().as_slice().unwrap(),
            f.as_slice().unwrap()
        );
        std::fs::write(&path, b"not npy").unwrap();
        assert!(read_f32_2d(&path).is_err());
    }

    #[test]
    fn streamed_header_is_what_numpy_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.npy");
        let a = Array2::from_shape_fn((7, 3), |(i, j)| (i * 3 + j) as f32);
        let mut bytes = f32_2d_header(7, 3);
        let header_len = bytes.len();
        assert_eq!(header_len % 64, 0);
        a.iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_f32_2d(&path).unwrap(), a);
        assert_eq!(
            parse_f32_2d_header(&path, &bytes).unwrap(),
            (7, 3, header_len)
        );
        assert!(parse_f32_2d_header(&path, b"nope").is_err());
    }
}
