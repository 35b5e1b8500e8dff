//! A safe, checked wrapper around the `gemm` crate's matrix product (the kernel candle uses),
//! and weights stored for the few-row products of incremental sampling.

use std::ops::Range;

/// A row-major matrix argument: data, rows, columns, and whether to use its transpose.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub transpose: bool,
}

impl<'a> Mat<'a> {
    /// `data` as a `rows × cols` row-major matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            transpose: false,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Mat {
            transpose: !self.transpose,
            ..self
        }
    }

    /// (rows, cols) of the matrix as used.
    fn dims(&self) -> (usize, usize) {
        if self.transpose {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// (column stride, row stride) of the matrix as used.
    fn strides(&self) -> (isize, isize) {
        if self.transpose {
            (self.cols as isize, 1)
        } else {
            (1, self.cols as isize)
        }
    }
}

/// `dst = a·b` (or `dst += a·b` with `accumulate`), `dst` row-major `m × n`.
///
/// # Panics
/// When the shapes do not agree or a buffer is too short (internal invariants of the callers).
pub(crate) fn matmul(dst: &mut [f32], a: Mat, b: Mat, accumulate: bool) {
    let (m, k) = a.dims();
    let (k2, n) = b.dims();
    assert_eq!(k, k2, "matmul inner dimensions");
    assert!(a.data.len() >= a.rows * a.cols, "lhs buffer");
    assert!(b.data.len() >= b.rows * b.cols, "rhs buffer");
    assert!(dst.len() >= m * n, "dst buffer");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let (a_cs, a_rs) = a.strides();
    let (b_cs, b_rs) = b.strides();
    // SAFETY: the asserts above guarantee that every index the kernel touches — rows < m,
    // columns < n and inner index < k, with the strides computed for these row-major buffers —
    // lies inside `dst`, `a.data` and `b.data`; `dst` is borrowed mutably and does not alias
    // the inputs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            // Large products (the input projection and weight gradients over all steps) use
            // every core; the per-step recurrent products are too small to gain from it.
            if m * n * k >= 1 << 20 {
                gemm::Parallelism::Rayon(0)
            } else {
                gemm::Parallelism::None
            },
        );
    }
}

/// Rows of `a` a panel product carries through the weights at once.
const ROWS: usize = 4;

/// Columns of the destination a panel product keeps in registers per pass.
const PANEL: usize = 64;

/// A `k × n` right-hand side stored for the products it takes part in (incremental sampling,
/// where the same weights multiply the same number of rows at every step): row-major for
/// `gemm` when the products have more than `ROWS` rows; otherwise panels of `PANEL` columns
/// (the last one narrower), each `k × width` row-major and contiguous, so one pass streams a
/// panel sequentially while its `ROWS × PANEL` results stay in registers. (`gemm` packs its
/// right-hand side on every call: for one-row products that copy is most of the time, and
/// row-major rows `n` floats apart conflict in the caches when `n` is a power of two.)
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    data: Vec<f32>,
    k: usize,
    n: usize,
    panels: bool,
}

impl Weights {
    /// `b` `[k, n]` row-major, for products with `rows` rows.
    ///
    /// # Panics
    /// When `b` is not `k · n` long (an internal invariant of the callers).
    pub fn new(b: &[f32], k: usize, n: usize, rows: usize) -> Self {
        assert_eq!(b.len(), k * n, "weight matrix size");
        let panels = rows <= ROWS;
        let data = if panels {
            let mut data = Vec::with_capacity(k * n);
            for start in (0..n).step_by(PANEL) {
                let end = (start + PANEL).min(n);
                for row in b.chunks_exact(n.max(1)) {
                    data.extend_from_slice(&row[start..end]);
                }
            }
            data
        } else {
            b.to_vec()
        };
        Weights { data, k, n, panels }
    }

    /// `dst = a·B[rows]` (or `+=` with `accumulate`): `a` `[m, rows.len()]`, `dst` `[m, n]`,
    /// for the rows `rows` of the matrix (a part of the inputs).
    ///
    /// # Panics
    /// When the sizes do not agree (internal invariants of the callers).
    pub fn product(
        &self,
        dst: &mut [f32],
        a: &[f32],
        m: usize,
        rows: Range<usize>,
        accumulate: bool,
    ) {
        let (k, n) = (rows.len(), self.n);
        assert!(rows.end <= self.k, "weight rows");
        assert!(a.len() >= m * k && dst.len() >= m * n, "product buffers");
        if self.panels {
            self.columns(dst, a, m, (rows, 0..n), accumulate);
        } else {
            let b = &self.data[rows.start * n..rows.end * n];
            matmul(dst, Mat::new(a, m, k), Mat::new(b, k, n), accumulate);
        }
    }

    /// Two halves of the columns, split at a panel's edge, for products of one row computed
    /// side by side ([`Weights::columns`]); `None` when the matrix is row-major or too small
    /// for the split to pay for waking a second thread.
    pub fn halves(&self) -> Option<(Range<usize>, Range<usize>)> {
        let panels = self.n.div_ceil(PANEL);
        (self.panels && self.k * self.n >= SIDE_BY_SIDE && panels >= 2).then(|| {
            let mid = panels / 2 * PANEL;
            (0..mid, mid..self.n)
        })
    }

    /// [`Weights::product`] for the rows and columns `span` of a matrix stored in panels:
    /// `dst` `[m, span.1.len()]`; the columns start at a panel's edge.
    ///
    /// # Panics
    /// When the sizes do not agree or the matrix is row-major (internal invariants of the
    /// callers).
    pub fn columns(
        &self,
        dst: &mut [f32],
        a: &[f32],
        m: usize,
        span: (Range<usize>, Range<usize>),
        accumulate: bool,
    ) {
        let (rows, cols) = span;
        let (k, n) = (rows.len(), cols.len());
        assert!(
            self.panels && cols.start % PANEL == 0 && cols.end <= self.n,
            "panel columns"
        );
        assert!(rows.end <= self.k, "weight rows");
        assert!(a.len() >= m * k && dst.len() >= m * n, "product buffers");
        for (a, dst) in a[..m * k]
            .chunks(ROWS * k.max(1))
            .zip(dst[..m * n].chunks_mut(ROWS * n))
        {
            let part = (rows.clone(), cols.clone());
            panel_product(self, dst, a, dst.len() / n.max(1), part, accumulate);
        }
    }
}

/// Floats of a matrix from which its one-row products run in two halves side by side.
const SIDE_BY_SIDE: usize = 1 << 18;

melspec::vectorised! {
    /// [`Weights::columns`] for `m ≤ ROWS` rows of `a`.
    fn panel_product = panel_product_body(
        w: &Weights,
        dst: &mut [f32],
        a: &[f32],
        m: usize,
        span: (Range<usize>, Range<usize>),
        accumulate: bool,
    )
}

#[inline(always)]
fn panel_product_body(
    w: &Weights,
    dst: &mut [f32],
    a: &[f32],
    m: usize,
    span: (Range<usize>, Range<usize>),
    accumulate: bool,
) {
    match m {
        1 => panels::<1>(w, dst, a, span, accumulate),
        2 => panels::<2>(w, dst, a, span, accumulate),
        3 => panels::<3>(w, dst, a, span, accumulate),
        _ => panels::<ROWS>(w, dst, a, span, accumulate),
    }
}

/// [`panel_product`] for `M` rows.
#[inline(always)]
fn panels<const M: usize>(
    w: &Weights,
    dst: &mut [f32],
    a: &[f32],
    (rows, cols): (Range<usize>, Range<usize>),
    accumulate: bool,
) {
    let (used, n) = (rows.len(), cols.len());
    let mut start = cols.start;
    while start < cols.end {
        let width = PANEL.min(w.n - start).min(cols.end - start);
        // Every panel before this one is full: this one begins `start · k` floats in.
        let at = start * w.k;
        let full = PANEL.min(w.n - start);
        let panel = &w.data[at + rows.start * full..at + rows.end * full];
        let mut acc = [[0.0f32; PANEL]; M];
        if width == PANEL {
            for (i, w) in panel.chunks_exact(PANEL).enumerate() {
                let w: &[f32; PANEL] = w.try_into().expect("a full panel row");
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = a[r * used + i];
                    for (s, &w) in acc.iter_mut().zip(w) {
                        *s = x.mul_add(w, *s);
                    }
                }
            }
        } else {
            for (i, w) in panel.chunks_exact(full).enumerate() {
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = a[r * used + i];
                    for (s, &w) in acc.iter_mut().zip(&w[..width]) {
                        *s = x.mul_add(w, *s);
                    }
                }
            }
        }
        let offset = start - cols.start;
        for (r, acc) in acc.iter().enumerate() {
            let out = &mut dst[r * n + offset..r * n + offset + width];
            if accumulate {
                out.iter_mut().zip(acc).for_each(|(o, s)| *o += s);
            } else {
                out.copy_from_slice(&acc[..width]);
            }
        }
        start += width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn stored_weight_products_match_a_naive_product() {
        // One to nine rows, in panels (groups of four and a remainder) or row-major; a full
        // panel and a narrower last one, all rows of the matrix or a part, with and without
        // accumulation.
        let (k, n) = (9, 2 * PANEL + 13);
        let b: Vec<f32> = (0..k * n).map(|v| (v as f32 * 0.11).cos()).collect();
        for (m, stored_for) in (1..=9).flat_map(|m| [(m, 1), (m, m)]) {
            let panels = Weights::new(&b, k, n, stored_for);
            for rows in [0..k, 2..7] {
                let part: Vec<f32> = b[rows.start * n..rows.end * n].to_vec();
                let a: Vec<f32> = (0..m * rows.len())
                    .map(|v| (v as f32 * 0.37).sin())
                    .collect();
                let expect = naive(&a, &part, m, rows.len(), n);
                for accumulate in [false, true] {
                    let mut c = vec![0.5; m * n];
                    panels.product(&mut c, &a, m, rows.clone(), accumulate);
                    let base = if accumulate { 0.5 } else { 0.0 };
                    for (x, y) in c.iter().zip(&expect) {
                        assert!(
                            (x - (y + base)).abs() < 1e-5,
                            "{m} rows: {x}, not {}",
                            y + base
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn products_and_transposes_match_a_naive_product() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|v| (v as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|v| (v as f32 * 0.11).cos()).collect();
        let expect = naive(&a, &b, m, k, n);
        let mut c = vec![0.0; m * n];
        matmul(&mut c, Mat::new(&a, m, k), Mat::new(&b, k, n), false);
        for (x, y) in c.iter().zip(&expect) {
            assert!((x - y).abs() < 1e-5);
        }
        // aᵀ stored as k × m, bᵀ stored as n × k.
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut c2 = vec![1.0; m * n];
        matmul(
            &mut c2,
            Mat::new(&at, k, m).t(),
            Mat::new(&bt, n, k).t(),
            true,
        );
        for (x, y) in c2.iter().zip(&expect) {
            assert!((x - (y + 1.0)).abs() < 1e-5);
        }
    }
}
