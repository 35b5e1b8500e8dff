//! Mel → linear spectrogram: estimating `P ≥ 0` with `W·P ≈ M` for a mel filterbank `W`.

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};
use crate::mel::MelBasis;

impl MelBasis {
    /// `Wᵀ · m` for one frame: `mel` has `n_mels` values, `out` `n_fft/2 + 1` bins.
    pub fn transpose_apply_frame(&self, mel: &[f32], out: &mut [f32]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for (m, (start, weights)) in mel.iter().zip(self.supports()) {
            for (o, w) in out[start..start + weights.len()].iter_mut().zip(weights) {
                *o += m * w;
            }
        }
    }

    /// The Gram matrix `W·Wᵀ`, `(n_mels, n_mels)`, in f64. Rows of empty filters get a unit
    /// diagonal so that the matrix stays invertible (they contribute nothing to `Wᵀ`).
    fn gram(&self) -> Vec<f64> {
        let n = self.n_mels();
        let supports: Vec<_> = self.supports().collect();
        let mut g = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                let (si, wi) = supports[i];
                let (sj, wj) = supports[j];
                let lo = si.max(sj);
                let hi = (si + wi.len()).min(sj + wj.len());
                g[i * n + j] = (lo..hi)
                    .map(|k| f64::from(wi[k - si]) * f64::from(wj[k - sj]))
                    .sum();
            }
            if g[i * n + i] == 0.0 {
                g[i * n + i] = 1.0;
            }
        }
        g
    }
}

/// Clipped pseudo-inverse `max(0, pinv(W)·M)`: the minimum-norm least-squares solution
/// (what `numpy.linalg.lstsq` returns and librosa's `nnls` starts from), negative values set to
/// zero. `mel` is `(n_mels, frames)` in power units; the result is `(n_fft/2 + 1, frames)`.
///
/// `pinv(W) = Wᵀ(W·Wᵀ)⁻¹` because `W` has full row rank; `W·Wᵀ` is solved by Cholesky in f64.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `mel` does not have `n_mels` rows.
pub fn pinv_clipped(basis: &MelBasis, mel: ArrayView2<f32>) -> Result<Array2<f32>> {
    let n = basis.n_mels();
    if mel.nrows() != n {
        return Err(Error::ShapeMismatch {
            what: "mel bands".into(),
            expected: n.to_string(),
            got: mel.nrows().to_string(),
        });
    }
    let chol = cholesky(basis.gram(), n);
    let mut out = Array2::zeros((basis.n_bins(), mel.ncols()));
    let mut y = vec![0.0f64; n];
    let mut y32 = vec![0.0f32; n];
    let mut column = vec![0.0f32; basis.n_bins()];
    for t in 0..mel.ncols() {
        y.iter_mut()
            .zip(mel.column(t))
            .for_each(|(y, m)| *y = f64::from(*m));
        cholesky_solve(&chol, n, &mut y);
        y32.iter_mut().zip(&y).for_each(|(a, b)| *a = *b as f32);
        basis.transpose_apply_frame(&y32, &mut column);
        out.column_mut(t)
            .iter_mut()
            .zip(&column)
            .for_each(|(o, c)| *o = c.max(0.0));
    }
    Ok(out)
}

/// Lower Cholesky factor of the symmetric positive-definite `n × n` matrix `a` (row-major).
fn cholesky(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    for j in 0..n {
        let d = a[j * n + j] - (0..j).map(|k| a[j * n + k] * a[j * n + k]).sum::<f64>();
        let d = d.max(f64::MIN_POSITIVE).sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let s = a[i * n + j] - (0..j).map(|k| a[i * n + k] * a[j * n + k]).sum::<f64>();
            a[i * n + j] = s / d;
        }
    }
    a
}

/// Solve `L·Lᵀ·x = b` in place given the Cholesky factor `l`.
fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}
