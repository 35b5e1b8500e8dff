//! `.npy` files of 2-D f32 arrays (C order, so `np.load` gives `(bins, frames)` as librosa).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use ndarray::{Array2, ArrayView2};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

use crate::error::{Error, Result};

/// Read a 2-D array from `path`; f32 is read as is, f64 is converted to f32.
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened, [`Error::Npy`] when it is not a 2-D f32/f64
/// `.npy` array.
pub fn read_f32_2d(path: &Path) -> Result<Array2<f32>> {
    let open = || {
        File::open(path)
            .map(BufReader::new)
            .map_err(|e| Error::io(path, e))
    };
    match Array2::<f32>::read_npy(open()?) {
        Ok(a) => Ok(a),
        Err(first) => match Array2::<f64>::read_npy(open()?) {
            Ok(a) => Ok(a.mapv(|v| v as f32)),
            Err(_) => Err(Error::Npy {
                path: path.to_owned(),
                reason: format!("not a 2-D float32 .npy array ({first})"),
            }),
        },
    }
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
        std::fs::write(&path, b"not npy").unwrap();
        assert!(read_f32_2d(&path).is_err());
    }
}
