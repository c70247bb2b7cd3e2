//! Small dense linear algebra on `f64` for the training-set defenses: a row-major [`Matrix`],
//! the eigendecomposition of a symmetric matrix (Householder tridiagonalisation and implicit
//! QR, checked against cyclic Jacobi in the tests), principal component analysis,
//! k-means (k-means++ seeding, seeded restarts) and the silhouette score.
//!
//! The data these routines see are penultimate activations of one class: hundreds to a few
//! thousand rows of tens to a few thousand dimensions. Everything is bounded: the elements a
//! matrix holds ([`MAX_ELEMENTS`]), the order of a matrix diagonalised exactly
//! ([`MAX_EIGEN_DIM`]), the number of clusters, restarts and iterations. Inputs holding a NaN or
//! an infinity are refused. Nothing here is parallel or clever; it is written to be read, and
//! is exact where the sizes allow and approximate (subspace iteration, sampled silhouette) past
//! stated bounds.

use aisec_ml::Rng;

use crate::error::{AttackError, Result};

/// Most elements a [`Matrix`] may hold (2^25: 256 MiB of `f64`).
pub const MAX_ELEMENTS: usize = 1 << 25;
/// Largest order of a symmetric matrix [`symmetric_eigen`] diagonalises.
pub const MAX_EIGEN_DIM: usize = 512;
/// Most clusters [`kmeans`] makes.
pub const MAX_CLUSTERS: usize = 64;
/// Most restarts [`kmeans`] runs.
pub const MAX_RESTARTS: usize = 100;
/// Most Lloyd iterations per k-means restart.
pub const MAX_KMEANS_ITER: usize = 10_000;
/// Rows up to which [`silhouette`] is exact (all pairs); above it, this many rows are sampled
/// and each is scored against all rows.
pub const SILHOUETTE_EXACT_MAX: usize = 4096;
/// Largest order (the smaller of rows and dimensions) at which [`Pca::fit`] diagonalises
/// exactly; above it, it iterates on a subspace.
pub const PCA_EXACT_DIM: usize = MAX_EIGEN_DIM;
/// Subspace iterations [`Pca::fit`] runs at most when both the rows and the dimensions exceed
/// [`PCA_EXACT_DIM`].
const SUBSPACE_ITERATIONS: usize = 300;

/// A dense row-major matrix of finite `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

fn check_size(rows: usize, cols: usize) -> Result<usize> {
    let len = rows.checked_mul(cols).ok_or(AttackError::TooLarge {
        what: "matrix elements",
        got: usize::MAX,
        max: MAX_ELEMENTS,
    })?;
    if len > MAX_ELEMENTS {
        return Err(AttackError::TooLarge {
            what: "matrix elements",
            got: len,
            max: MAX_ELEMENTS,
        });
    }
    Ok(len)
}

impl Matrix {
    /// A `rows x cols` matrix from row-major `data`.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        let len = check_size(rows, cols)?;
        if data.len() != len {
            return Err(AttackError::Parameter(format!(
                "a {rows}x{cols} matrix needs {len} values, not {}",
                data.len()
            )));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(AttackError::NonFinite { what: "matrix" });
        }
        Ok(Self { rows, cols, data })
    }

    /// A `rows x cols` matrix from row-major `f32` data (activations).
    pub fn from_f32(rows: usize, cols: usize, data: &[f32]) -> Result<Self> {
        check_size(rows, cols)?;
        Self::new(rows, cols, data.iter().map(|&v| f64::from(v)).collect())
    }

    /// The `rows x cols` zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Result<Self> {
        let len = check_size(rows, cols)?;
        Ok(Self {
            rows,
            cols,
            data: vec![0.0; len],
        })
    }

    /// Number of rows.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    #[must_use]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i`; panics when `i` is out of range.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Element `(i, j)`; panics when out of range.
    #[must_use]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(j < self.cols, "column {j} of {}", self.cols);
        self.data[i * self.cols + j]
    }

    /// The row-major values.
    #[must_use]
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// The rows at `indices`, in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Result<Self> {
        let mut data = Vec::with_capacity(check_size(indices.len(), self.cols)?);
        for &i in indices {
            if i >= self.rows {
                return Err(AttackError::Parameter(format!(
                    "row {i} of a matrix with {} rows",
                    self.rows
                )));
            }
            data.extend_from_slice(self.row(i));
        }
        Ok(Self {
            rows: indices.len(),
            cols: self.cols,
            data,
        })
    }

    /// The mean of the rows (zeros for an empty matrix).
    #[must_use]
    pub fn column_means(&self) -> Vec<f64> {
        let mut mean = vec![0.0; self.cols];
        for i in 0..self.rows {
            for (m, v) in mean.iter_mut().zip(self.row(i)) {
                *m += v;
            }
        }
        if self.rows > 0 {
            let n = self.rows as f64;
            for m in &mut mean {
                *m /= n;
            }
        }
        mean
    }

    /// The rows minus `mean`.
    fn centred(&self, mean: &[f64]) -> Self {
        let mut data = self.data.clone();
        for row in data.chunks_exact_mut(self.cols.max(1)) {
            for (v, m) in row.iter_mut().zip(mean) {
                *v -= m;
            }
        }
        Self {
            rows: self.rows,
            cols: self.cols,
            data,
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Flips `v` so that its largest entry in magnitude is positive (a deterministic sign).
fn fix_sign(v: &mut [f64]) {
    let lead = v
        .iter()
        .copied()
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .unwrap_or(0.0);
    if lead < 0.0 {
        for x in v.iter_mut() {
            *x = -*x;
        }
    }
}

fn normalise(v: &mut [f64]) -> f64 {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
    norm
}

/// The eigenvalues and unit eigenvectors of a symmetric matrix.
#[derive(Debug, Clone)]
pub struct SymmetricEigen {
    /// Eigenvalues, largest first.
    pub values: Vec<f64>,
    /// `vectors[j]` is the unit eigenvector of `values[j]`; its largest entry in magnitude is
    /// positive.
    pub vectors: Vec<Vec<f64>>,
}

/// The eigendecomposition of a symmetric matrix: Householder reduction to tridiagonal form,
/// then implicit QR steps with Wilkinson shifts until every off-diagonal entry is negligible
/// against its neighbours on the diagonal (at most [`MAX_QR_STEPS_PER_VALUE`] steps per
/// eigenvalue). Order at most [`MAX_EIGEN_DIM`]; the matrix must be symmetric to within `1e-9`
/// of its largest entry.
pub fn symmetric_eigen(a: &Matrix) -> Result<SymmetricEigen> {
    let n = a.rows;
    if a.cols != n {
        return Err(AttackError::Parameter(format!(
            "an eigendecomposition needs a square matrix, not {}x{}",
            a.rows, a.cols
        )));
    }
    if n > MAX_EIGEN_DIM {
        return Err(AttackError::TooLarge {
            what: "eigendecomposition order",
            got: n,
            max: MAX_EIGEN_DIM,
        });
    }
    let scale = a.data.iter().fold(0f64, |m, v| m.max(v.abs()));
    for i in 0..n {
        for j in 0..i {
            if (a.get(i, j) - a.get(j, i)).abs() > 1e-9 * scale.max(f64::MIN_POSITIVE) {
                return Err(AttackError::Parameter(format!(
                    "the matrix is not symmetric at ({i}, {j})"
                )));
            }
        }
    }
    // q holds the eigenvectors as rows (the transpose of the usual column layout), so that
    // every update below walks contiguous memory.
    let (mut d, mut e, mut q) = tridiagonalise(&a.data, n);
    tridiagonal_qr(&mut d, &mut e, &mut q, n)?;
    Ok(sorted_eigen(&d, &q, n))
}

/// Largest number of implicit QR steps [`symmetric_eigen`] spends per eigenvalue (two or three
/// are typical).
pub const MAX_QR_STEPS_PER_VALUE: usize = 60;

/// Eigenvalues `d` with the eigenvectors as the rows of `q`, largest value first, each vector
/// signed so that its largest entry is positive.
fn sorted_eigen(d: &[f64], q: &[f64], n: usize) -> SymmetricEigen {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[j].total_cmp(&d[i]).then(i.cmp(&j)));
    SymmetricEigen {
        values: order.iter().map(|&i| d[i]).collect(),
        vectors: order
            .iter()
            .map(|&i| {
                let mut v = q[i * n..(i + 1) * n].to_vec();
                fix_sign(&mut v);
                v
            })
            .collect(),
    }
}

/// Householder reduction of the symmetric `n x n` matrix `a` to a tridiagonal `T = Q^T A Q`:
/// the diagonal, the off-diagonal (`e[i]` is `T[i][i + 1]`) and `Q^T` row-major (row `i` is
/// column `i` of `Q`).
fn tridiagonalise(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    // Q, row-major.
    let mut q = vec![0.0; n * n];
    for i in 0..n {
        q[i * n + i] = 1.0;
    }
    let mut e = vec![0.0; n.saturating_sub(1)];
    let mut p = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        let lo = k + 1;
        // v: the column below the diagonal, turned into the Householder vector that maps it
        // onto a multiple of the first unit vector. The sign avoids cancellation.
        let mut v: Vec<f64> = (lo..n).map(|i| a[i * n + k]).collect();
        let alpha = dot(&v, &v).sqrt();
        if alpha == 0.0 {
            e[k] = 0.0;
            continue;
        }
        let sign = if v[0] < 0.0 { -1.0 } else { 1.0 };
        v[0] += sign * alpha;
        let beta = 2.0 / dot(&v, &v);
        e[k] = -sign * alpha;
        // The trailing block S becomes H S H = S - v w^T - w v^T with p = beta S v and
        // w = p - (beta / 2)(p . v) v.
        let m = n - lo;
        for (r, pr) in p[..m].iter_mut().enumerate() {
            let row = &a[(lo + r) * n + lo..(lo + r) * n + n];
            *pr = beta * dot(row, &v);
        }
        let half = 0.5 * beta * dot(&p[..m], &v);
        for (pr, vr) in p[..m].iter_mut().zip(&v) {
            *pr -= half * vr;
        }
        for r in 0..m {
            let (vr, wr) = (v[r], p[r]);
            let row = &mut a[(lo + r) * n + lo..(lo + r) * n + n];
            for ((x, vc), wc) in row.iter_mut().zip(&v).zip(&p[..m]) {
                *x -= vr * wc + wr * vc;
            }
        }
        // Q <- Q H: each row of Q loses its component along v.
        for row in q.chunks_exact_mut(n) {
            let s = beta * dot(&row[lo..], &v);
            if s != 0.0 {
                for (x, vc) in row[lo..].iter_mut().zip(&v) {
                    *x -= s * vc;
                }
            }
        }
    }
    if n >= 2 {
        e[n - 2] = a[(n - 1) * n + n - 2];
    }
    let d = (0..n).map(|i| a[i * n + i]).collect();
    (d, e, transpose(&q, n))
}

fn transpose(m: &[f64], n: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            t[j * n + i] = m[i * n + j];
        }
    }
    t
}

/// Diagonalises the symmetric tridiagonal matrix (`d`, `e`) by implicit QR steps with
/// Wilkinson shifts, applying every rotation to the rows of `q` (eigenvectors as rows).
fn tridiagonal_qr(d: &mut [f64], e: &mut [f64], q: &mut [f64], n: usize) -> Result<()> {
    let negligible = |e: f64, a: f64, b: f64| e.abs() <= f64::EPSILON * (a.abs() + b.abs());
    let budget = MAX_QR_STEPS_PER_VALUE * n.max(1);
    let mut steps = 0;
    let mut hi = n;
    while hi > 1 {
        let m = hi - 1;
        if negligible(e[m - 1], d[m - 1], d[m]) {
            e[m - 1] = 0.0;
            hi -= 1;
            continue;
        }
        steps += 1;
        if steps > budget {
            return Err(AttackError::NoConvergence {
                routine: "tridiagonal QR",
                iterations: budget,
            });
        }
        // The unreduced block l..=m.
        let mut l = m - 1;
        while l > 0 && !negligible(e[l - 1], d[l - 1], d[l]) {
            l -= 1;
        }
        // Wilkinson shift: the eigenvalue of the trailing 2x2 block nearer to d[m].
        let delta = 0.5 * (d[m - 1] - d[m]);
        let b2 = e[m - 1] * e[m - 1];
        let sign = if delta < 0.0 { -1.0 } else { 1.0 };
        let mu = d[m] - b2 / (delta + sign * delta.hypot(e[m - 1]));
        let mut x = d[l] - mu;
        let mut z = e[l];
        for k in l..m {
            // The rotation G in the (k, k + 1) plane with G^T [x, z] = [r, 0].
            let r = x.hypot(z);
            let (c, s) = if r == 0.0 {
                (1.0, 0.0)
            } else {
                (x / r, -z / r)
            };
            if k > l {
                e[k - 1] = r;
            }
            let (a, b, cc) = (d[k], e[k], d[k + 1]);
            d[k] = c * c * a - 2.0 * c * s * b + s * s * cc;
            d[k + 1] = s * s * a + 2.0 * c * s * b + c * c * cc;
            e[k] = c * s * (a - cc) + (c * c - s * s) * b;
            if k + 1 < m {
                // The bulge below the band, chased down by the next rotation.
                z = -s * e[k + 1];
                e[k + 1] *= c;
            }
            x = e[k];
            let (rk, rk1) = q.split_at_mut((k + 1) * n);
            let (rk, rk1) = (&mut rk[k * n..], &mut rk1[..n]);
            for (u, w) in rk.iter_mut().zip(rk1.iter_mut()) {
                let (a, b) = (*u, *w);
                *u = c * a - s * b;
                *w = s * a + c * b;
            }
        }
    }
    Ok(())
}

/// The cyclic Jacobi method, the reference the fast path is checked against: sweeps of plane
/// rotations, each zeroing one off-diagonal pair, until the off-diagonal mass is below `1e-13`
/// of the Frobenius norm.
#[cfg(test)]
fn jacobi_eigen(a: &Matrix) -> SymmetricEigen {
    let n = a.rows;
    let mut m = a.data.clone();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let target = 1e-13 * dot(&m, &m).sqrt();
    for _ in 0..64 {
        let off: f64 = (0..n)
            .flat_map(|p| (p + 1..n).map(move |q| (p, q)))
            .map(|(p, q)| 2.0 * m[p * n + q] * m[p * n + q])
            .sum();
        if off.sqrt() <= target {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + theta.mul_add(theta, 1.0).sqrt());
                let c = 1.0 / t.mul_add(t, 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (kp, kq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * kp - s * kq;
                    m[k * n + q] = s * kp + c * kq;
                }
                for k in 0..n {
                    let (pk, qk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * pk - s * qk;
                    m[q * n + k] = s * pk + c * qk;
                }
                for k in 0..n {
                    let (kp, kq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * kp - s * kq;
                    v[k * n + q] = s * kp + c * kq;
                }
            }
        }
    }
    let d: Vec<f64> = (0..n).map(|i| m[i * n + i]).collect();
    sorted_eigen(&d, &transpose(&v, n), n)
}

/// Principal components of a set of rows.
#[derive(Debug, Clone)]
pub struct Pca {
    /// The mean row, subtracted before projecting.
    pub mean: Vec<f64>,
    /// Unit principal directions, largest variance first (each with its largest entry
    /// positive).
    pub components: Vec<Vec<f64>>,
    /// The variance (denominator `rows - 1`) along each component.
    pub explained_variance: Vec<f64>,
    /// The total variance of the rows (the trace of their covariance).
    pub total_variance: f64,
}

impl Pca {
    /// The top `k` principal components of the rows of `x` (at least two rows). Fewer come back
    /// when the centred rows span fewer than `k` directions. Exact (an eigendecomposition of the
    /// covariance, or of the Gram matrix of the rows when there are fewer rows than dimensions)
    /// while the smaller of the two is at most [`PCA_EXACT_DIM`]; above that, seeded subspace
    /// iteration (block power iteration with Rayleigh-Ritz on `k + 8` vectors) with a bounded
    /// number of iterations, which costs `O(rows x dims x k)` per iteration instead of the cube
    /// of the order.
    pub fn fit(x: &Matrix, k: usize) -> Result<Self> {
        Self::fit_with(x, k, PCA_EXACT_DIM)
    }

    /// [`Pca::fit`] choosing subspace iteration once both sizes exceed `exact_limit`.
    fn fit_with(x: &Matrix, k: usize, exact_limit: usize) -> Result<Self> {
        if x.rows < 2 {
            return Err(AttackError::Parameter(format!(
                "PCA needs at least two rows, not {}",
                x.rows
            )));
        }
        if k == 0 {
            return Err(AttackError::Parameter("PCA to zero dimensions".into()));
        }
        let k = k.min(x.cols);
        let mean = x.column_means();
        let c = x.centred(&mean);
        let denom = (x.rows - 1) as f64;
        let total_variance = dot(&c.data, &c.data) / denom;
        let limit = MAX_EIGEN_DIM.min(exact_limit);
        let (values, vectors) = if x.cols <= x.rows && x.cols <= limit {
            let eig = symmetric_eigen(&covariance(&c, denom)?)?;
            (eig.values, eig.vectors)
        } else if x.rows < x.cols && x.rows <= limit {
            gram_eigen(&c, denom)?
        } else {
            subspace_iteration(&c, k, denom)
        };
        // Directions with (numerically) no variance are not components.
        let floor = 1e-12 * total_variance.max(f64::MIN_POSITIVE);
        let (explained_variance, components) = values
            .into_iter()
            .zip(vectors)
            .take(k)
            .filter(|(value, _)| *value > floor)
            .unzip();
        Ok(Self {
            mean,
            components,
            explained_variance,
            total_variance,
        })
    }

    /// The rows of `x` projected on the components: `[rows, components]`.
    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        if x.cols != self.mean.len() {
            return Err(AttackError::Parameter(format!(
                "PCA fitted on {} dimensions applied to {}",
                self.mean.len(),
                x.cols
            )));
        }
        let k = self.components.len();
        let mut data = Vec::with_capacity(check_size(x.rows, k)?);
        let mut centred = vec![0.0; x.cols];
        for i in 0..x.rows {
            for ((c, v), m) in centred.iter_mut().zip(x.row(i)).zip(&self.mean) {
                *c = v - m;
            }
            data.extend(self.components.iter().map(|comp| dot(&centred, comp)));
        }
        Ok(Matrix {
            rows: x.rows,
            cols: k,
            data,
        })
    }
}

/// `c^T c / denom` for centred rows `c`.
fn covariance(c: &Matrix, denom: f64) -> Result<Matrix> {
    let d = c.cols;
    let mut cov = Matrix::zeros(d, d)?;
    for i in 0..c.rows {
        let row = c.row(i);
        for (p, &rp) in row.iter().enumerate() {
            if rp == 0.0 {
                continue;
            }
            let out = &mut cov.data[p * d..(p + 1) * d];
            for (o, &rq) in out[p..].iter_mut().zip(&row[p..]) {
                *o += rp * rq;
            }
        }
    }
    for p in 0..d {
        for q in p..d {
            let v = cov.data[p * d + q] / denom;
            cov.data[p * d + q] = v;
            cov.data[q * d + p] = v;
        }
    }
    Ok(cov)
}

/// Eigenpairs of the covariance through the Gram matrix `c c^T / denom` (fewer rows than
/// dimensions): the covariance eigenvector of a Gram eigenvector `u` with value `l` is
/// `c^T u / sqrt(denom l)`.
fn gram_eigen(c: &Matrix, denom: f64) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    let n = c.rows;
    let mut gram = Matrix::zeros(n, n)?;
    for i in 0..n {
        for j in i..n {
            let v = dot(c.row(i), c.row(j)) / denom;
            gram.data[i * n + j] = v;
            gram.data[j * n + i] = v;
        }
    }
    let eig = symmetric_eigen(&gram)?;
    let mut vectors = Vec::with_capacity(n);
    for (value, u) in eig.values.iter().zip(&eig.vectors) {
        let mut w = vec![0.0; c.cols];
        for (i, &ui) in u.iter().enumerate() {
            for (wj, cij) in w.iter_mut().zip(c.row(i)) {
                *wj += ui * cij;
            }
        }
        if *value > 0.0 {
            normalise(&mut w);
        }
        fix_sign(&mut w);
        vectors.push(w);
    }
    Ok((eig.values, vectors))
}

/// Modified Gram-Schmidt on the columns `q[0..]` (each a `d`-vector); a column that collapses
/// is replaced by zeros.
fn orthonormalise(q: &mut [Vec<f64>]) {
    for j in 0..q.len() {
        let (done, rest) = q.split_at_mut(j);
        let col = &mut rest[0];
        for prev in done.iter() {
            let r = dot(prev, col);
            for (c, p) in col.iter_mut().zip(prev) {
                *c -= r * p;
            }
        }
        if normalise(col) <= 1e-300 {
            col.fill(0.0);
        }
    }
}

/// The top `k` eigenpairs of `c^T c / denom` by block power iteration with Rayleigh-Ritz, on
/// `k + 8` vectors from a fixed seed, without forming the covariance; stops when the Ritz
/// values settle to `1e-10` or after [`SUBSPACE_ITERATIONS`].
fn subspace_iteration(c: &Matrix, k: usize, denom: f64) -> (Vec<f64>, Vec<Vec<f64>>) {
    let d = c.cols;
    let b = (k + 8).min(d);
    let mut rng = Rng::new(0x0005_eed0_f9ca);
    let mut q: Vec<Vec<f64>> = (0..b)
        .map(|_| (0..d).map(|_| rng.normal()).collect())
        .collect();
    orthonormalise(&mut q);
    let apply = |v: &[f64]| -> Vec<f64> {
        // c^T (c v) / denom, one pass over the rows.
        let mut out = vec![0.0; d];
        for i in 0..c.rows {
            let row = c.row(i);
            let s = dot(row, v) / denom;
            if s != 0.0 {
                for (o, r) in out.iter_mut().zip(row) {
                    *o += s * r;
                }
            }
        }
        out
    };
    let mut previous: Vec<f64> = vec![f64::INFINITY; b];
    let mut values = vec![0.0; b];
    for _ in 0..SUBSPACE_ITERATIONS {
        let mut z: Vec<Vec<f64>> = q.iter().map(|v| apply(v)).collect();
        orthonormalise(&mut z);
        // Rayleigh-Ritz: diagonalise the projected b x b matrix and rotate the basis.
        let az: Vec<Vec<f64>> = z.iter().map(|v| apply(v)).collect();
        let mut small = vec![0.0; b * b];
        for i in 0..b {
            for j in 0..b {
                small[i * b + j] = dot(&z[i], &az[j]);
            }
        }
        for i in 0..b {
            for j in 0..i {
                let s = 0.5 * (small[i * b + j] + small[j * b + i]);
                small[i * b + j] = s;
                small[j * b + i] = s;
            }
        }
        let Ok(eig) = Matrix::new(b, b, small).and_then(|m| symmetric_eigen(&m)) else {
            break;
        };
        q = eig
            .vectors
            .iter()
            .map(|y| {
                let mut v = vec![0.0; d];
                for (yi, zi) in y.iter().zip(&z) {
                    for (vj, zj) in v.iter_mut().zip(zi) {
                        *vj += yi * zj;
                    }
                }
                v
            })
            .collect();
        values.clone_from(&eig.values);
        let settled = values
            .iter()
            .zip(&previous)
            .take(k)
            .all(|(v, p)| (v - p).abs() <= 1e-10 * v.abs().max(f64::MIN_POSITIVE));
        previous.clone_from(&values);
        if settled {
            break;
        }
    }
    for v in &mut q {
        fix_sign(v);
    }
    (values, q)
}

/// How to run k-means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansConfig {
    /// Number of clusters (1..=[`MAX_CLUSTERS`], at most the number of rows).
    pub clusters: usize,
    /// Independent k-means++ starts (1..=[`MAX_RESTARTS`]); the lowest inertia is kept.
    pub restarts: usize,
    /// Lloyd iterations per start (1..=[`MAX_KMEANS_ITER`]).
    pub max_iter: usize,
    /// A start stops once its centroids move less than this share of the data's total
    /// variance (squared, summed over centroids).
    pub tolerance: f64,
    /// Seed of the k-means++ draws.
    pub seed: u64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            clusters: 2,
            restarts: 10,
            max_iter: 300,
            tolerance: 1e-6,
            seed: 0,
        }
    }
}

/// A k-means clustering.
#[derive(Debug, Clone)]
pub struct KMeans {
    /// The centroids `[clusters, cols]`.
    pub centroids: Matrix,
    /// The cluster of each row.
    pub assignment: Vec<usize>,
    /// Rows per cluster.
    pub sizes: Vec<usize>,
    /// Sum of squared distances of the rows to their centroids.
    pub inertia: f64,
    /// Lloyd iterations the kept start ran.
    pub iterations: usize,
}

/// Lloyd's k-means on the rows of `x`: each start seeds its centroids by k-means++ (a row drawn
/// with probability proportional to its squared distance to the nearest centroid so far) and
/// iterates until the assignment holds or the centroids settle; a cluster left empty takes the
/// row farthest from its centroid. The start with the lowest inertia is kept.
pub fn kmeans(x: &Matrix, config: &KMeansConfig) -> Result<KMeans> {
    let k = config.clusters;
    if k == 0 || k > MAX_CLUSTERS {
        return Err(AttackError::TooLarge {
            what: "k-means clusters",
            got: k,
            max: MAX_CLUSTERS,
        });
    }
    if k > x.rows {
        return Err(AttackError::Parameter(format!(
            "{k} clusters of {} rows",
            x.rows
        )));
    }
    if config.restarts == 0 || config.restarts > MAX_RESTARTS {
        return Err(AttackError::TooLarge {
            what: "k-means restarts",
            got: config.restarts,
            max: MAX_RESTARTS,
        });
    }
    if config.max_iter == 0 || config.max_iter > MAX_KMEANS_ITER {
        return Err(AttackError::TooLarge {
            what: "k-means iterations",
            got: config.max_iter,
            max: MAX_KMEANS_ITER,
        });
    }
    if !(config.tolerance >= 0.0 && config.tolerance.is_finite()) {
        return Err(AttackError::Parameter(format!(
            "k-means tolerance {} must be a finite non-negative number",
            config.tolerance
        )));
    }
    let mean = x.column_means();
    let total: f64 = (0..x.rows).map(|i| squared_distance(x.row(i), &mean)).sum();
    let shift_bound = config.tolerance * total / x.rows as f64;
    let mut rng = Rng::new(config.seed);
    let mut best: Option<KMeans> = None;
    for _ in 0..config.restarts {
        let mut start = rng.fork();
        let run = lloyd(x, plus_plus(x, k, &mut start), config.max_iter, shift_bound);
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
    }
    Ok(best.expect("at least one restart"))
}

/// k-means++ seeding.
fn plus_plus(x: &Matrix, k: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let mut centroids = vec![x.row(rng.below(x.rows)).to_vec()];
    let mut nearest: Vec<f64> = (0..x.rows)
        .map(|i| squared_distance(x.row(i), &centroids[0]))
        .collect();
    while centroids.len() < k {
        let sum: f64 = nearest.iter().sum();
        let pick = if sum > 0.0 {
            let mut target = rng.uniform() * sum;
            nearest
                .iter()
                .position(|&d| {
                    target -= d;
                    target < 0.0
                })
                // Rounding can leave the target a hair above zero at the end.
                .unwrap_or_else(|| nearest.iter().rposition(|&d| d > 0.0).unwrap_or(0))
        } else {
            // Every row sits on a centroid already: any row will do.
            rng.below(x.rows)
        };
        let c = x.row(pick).to_vec();
        for (i, n) in nearest.iter_mut().enumerate() {
            *n = n.min(squared_distance(x.row(i), &c));
        }
        centroids.push(c);
    }
    centroids
}

fn assign(x: &Matrix, centroids: &[Vec<f64>], assignment: &mut [usize], dist: &mut [f64]) {
    for i in 0..x.rows {
        let row = x.row(i);
        let (best, d) = centroids
            .iter()
            .enumerate()
            .map(|(c, centroid)| (c, squared_distance(row, centroid)))
            .fold((0, f64::INFINITY), |b, c| if c.1 < b.1 { c } else { b });
        assignment[i] = best;
        dist[i] = d;
    }
}

fn lloyd(x: &Matrix, mut centroids: Vec<Vec<f64>>, max_iter: usize, shift_bound: f64) -> KMeans {
    let k = centroids.len();
    let mut assignment = vec![usize::MAX; x.rows];
    let mut dist = vec![0.0; x.rows];
    let mut iterations = 0;
    for _ in 0..max_iter {
        iterations += 1;
        let before = assignment.clone();
        assign(x, &centroids, &mut assignment, &mut dist);
        if assignment == before {
            break;
        }
        let mut sums = vec![vec![0.0; x.cols]; k];
        let mut counts = vec![0usize; k];
        for (i, &c) in assignment.iter().enumerate() {
            counts[c] += 1;
            for (s, v) in sums[c].iter_mut().zip(x.row(i)) {
                *s += v;
            }
        }
        let mut shift = 0.0;
        for c in 0..k {
            let next = if counts[c] > 0 {
                let n = counts[c] as f64;
                sums[c].iter().map(|s| s / n).collect()
            } else {
                // An empty cluster restarts at the row worst served by the current centroids.
                let far = dist
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(i, _)| i);
                dist[far] = 0.0;
                x.row(far).to_vec()
            };
            shift += squared_distance(&centroids[c], &next);
            centroids[c] = next;
        }
        if shift <= shift_bound {
            assign(x, &centroids, &mut assignment, &mut dist);
            break;
        }
    }
    let mut sizes = vec![0; k];
    for &c in &assignment {
        sizes[c] += 1;
    }
    let inertia = dist.iter().sum();
    KMeans {
        centroids: Matrix {
            rows: k,
            cols: x.cols,
            data: centroids.concat(),
        },
        assignment,
        sizes,
        inertia,
        iterations,
    }
}

/// Silhouette of a clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct Silhouette {
    /// Mean silhouette over the rows scored, in [-1, 1].
    pub mean: f64,
    /// Mean silhouette of the scored rows of each cluster (`None` for a cluster with none).
    pub per_cluster: Vec<Option<f64>>,
    /// Rows scored: all of them up to [`SILHOUETTE_EXACT_MAX`], that many sampled above.
    pub scored: usize,
}

/// The silhouette of the clustering `assignment` (cluster ids below `clusters`) of the rows of
/// `x`, with Euclidean distances: for a row, `(b - a) / max(a, b)` where `a` is its mean
/// distance to the other rows of its cluster and `b` the smallest mean distance to another
/// cluster's rows; `0` for a row alone in its cluster. Exact up to [`SILHOUETTE_EXACT_MAX`]
/// rows; above, that many rows drawn with `seed` are scored against all rows. Needs at least
/// two non-empty clusters.
pub fn silhouette(
    x: &Matrix,
    assignment: &[usize],
    clusters: usize,
    seed: u64,
) -> Result<Silhouette> {
    if assignment.len() != x.rows {
        return Err(AttackError::Parameter(format!(
            "{} cluster labels for {} rows",
            assignment.len(),
            x.rows
        )));
    }
    if clusters > MAX_CLUSTERS {
        return Err(AttackError::TooLarge {
            what: "silhouette clusters",
            got: clusters,
            max: MAX_CLUSTERS,
        });
    }
    let mut sizes = vec![0usize; clusters];
    for &c in assignment {
        if c >= clusters {
            return Err(AttackError::Parameter(format!(
                "cluster label {c} of {clusters}"
            )));
        }
        sizes[c] += 1;
    }
    if sizes.iter().filter(|&&s| s > 0).count() < 2 {
        return Err(AttackError::Parameter(
            "a silhouette needs at least two non-empty clusters".into(),
        ));
    }
    let mut scored: Vec<usize> = (0..x.rows).collect();
    if x.rows > SILHOUETTE_EXACT_MAX {
        let mut rng = Rng::new(seed);
        // A partial Fisher-Yates shuffle: the first SILHOUETTE_EXACT_MAX rows are the sample.
        for i in 0..SILHOUETTE_EXACT_MAX {
            let j = i + rng.below(x.rows - i);
            scored.swap(i, j);
        }
        scored.truncate(SILHOUETTE_EXACT_MAX);
        scored.sort_unstable();
    }
    let mut sums = vec![0.0; clusters];
    let mut counts = vec![0usize; clusters];
    let mut to_cluster = vec![0.0; clusters];
    for &i in &scored {
        to_cluster.fill(0.0);
        let row = x.row(i);
        for j in 0..x.rows {
            if j != i {
                to_cluster[assignment[j]] += squared_distance(row, x.row(j)).sqrt();
            }
        }
        let own = assignment[i];
        let s = if sizes[own] <= 1 {
            0.0
        } else {
            let a = to_cluster[own] / (sizes[own] - 1) as f64;
            let b = (0..clusters)
                .filter(|&c| c != own && sizes[c] > 0)
                .map(|c| to_cluster[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 { (b - a) / m } else { 0.0 }
        };
        sums[own] += s;
        counts[own] += 1;
    }
    let mean = sums.iter().sum::<f64>() / scored.len() as f64;
    let per_cluster = sums
        .iter()
        .zip(&counts)
        .map(|(&s, &n)| (n > 0).then(|| s / n as f64))
        .collect();
    Ok(Silhouette {
        mean,
        per_cluster,
        scored: scored.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize, cols: usize, data: &[f64]) -> Matrix {
        Matrix::new(rows, cols, data.to_vec()).unwrap()
    }

    fn random(rows: usize, cols: usize, seed: u64) -> Matrix {
        let mut rng = Rng::new(seed);
        Matrix::new(rows, cols, (0..rows * cols).map(|_| rng.normal()).collect()).unwrap()
    }

    #[test]
    fn finds_known_eigenpairs() {
        // [[2,1],[1,2]]: eigenvalues 3 and 1, eigenvectors (1,1)/sqrt2 and (1,-1)/sqrt2.
        let e = symmetric_eigen(&matrix(2, 2, &[2.0, 1.0, 1.0, 2.0])).unwrap();
        assert!((e.values[0] - 3.0).abs() < 1e-12 && (e.values[1] - 1.0).abs() < 1e-12);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!((e.vectors[0][0] - h).abs() < 1e-12 && (e.vectors[0][1] - h).abs() < 1e-12);
        assert!((e.vectors[1][0].abs() - h).abs() < 1e-12);
        assert!((e.vectors[1][0] + e.vectors[1][1]).abs() < 1e-12);
        // The 1-D Laplacian tridiag(-1, 2, -1) of order n: 2 - 2 cos(j pi / (n + 1)).
        let n = 12;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 2.0;
            if i + 1 < n {
                a[i * n + i + 1] = -1.0;
                a[(i + 1) * n + i] = -1.0;
            }
        }
        let e = symmetric_eigen(&matrix(n, n, &a)).unwrap();
        let mut want: Vec<f64> = (1..=n)
            .map(|j| 2.0 - 2.0 * (j as f64 * std::f64::consts::PI / (n + 1) as f64).cos())
            .collect();
        want.sort_by(|a, b| b.total_cmp(a));
        for (got, want) in e.values.iter().zip(&want) {
            assert!((got - want).abs() < 1e-10, "{got} vs {want}");
        }
    }

    /// Symmetric test matrices: random, random of low rank, diagonal with repeats, identity,
    /// zero, and the orders 1 and 2.
    fn symmetric_cases() -> Vec<Matrix> {
        let mut cases = Vec::new();
        for (n, seed) in [(1, 1), (2, 2), (3, 3), (30, 4), (61, 5)] {
            let r = random(n, n, seed);
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] = r.get(i, j) + r.get(j, i);
                }
            }
            cases.push(matrix(n, n, &a));
        }
        // Rank 3 in 20 dimensions: x x^T summed over three random vectors.
        let r = random(3, 20, 6);
        let mut a = vec![0.0; 400];
        for k in 0..3 {
            for i in 0..20 {
                for j in 0..20 {
                    a[i * 20 + j] += r.get(k, i) * r.get(k, j);
                }
            }
        }
        cases.push(matrix(20, 20, &a));
        let mut diag = vec![0.0; 64];
        for (i, v) in [3.0, 1.0, 3.0, -2.0, 1.0, 0.0, 3.0, 5.0].iter().enumerate() {
            diag[i * 8 + i] = *v;
        }
        cases.push(matrix(8, 8, &diag));
        let mut eye = vec![0.0; 25];
        for i in 0..5 {
            eye[i * 5 + i] = 1.0;
        }
        cases.push(matrix(5, 5, &eye));
        cases.push(Matrix::zeros(4, 4).unwrap());
        cases
    }

    #[test]
    fn eigendecomposition_reconstructs_and_matches_jacobi() {
        for a in symmetric_cases() {
            let n = a.rows();
            let e = symmetric_eigen(&a).unwrap();
            let scale = a.data().iter().fold(1f64, |m, v| m.max(v.abs()));
            for i in 0..n {
                for j in 0..n {
                    let back: f64 = (0..n)
                        .map(|k| e.values[k] * e.vectors[k][i] * e.vectors[k][j])
                        .sum();
                    assert!((back - a.get(i, j)).abs() < 1e-10 * scale, "order {n}");
                    let ortho = dot(&e.vectors[i], &e.vectors[j]);
                    assert!((ortho - f64::from(u8::from(i == j))).abs() < 1e-10);
                }
            }
            assert!(e.values.windows(2).all(|w| w[0] >= w[1]));
            let reference = jacobi_eigen(&a);
            for (x, y) in e.values.iter().zip(&reference.values) {
                assert!((x - y).abs() < 1e-10 * scale, "order {n}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn eigen_refuses_bad_input() {
        assert!(matches!(
            symmetric_eigen(&matrix(2, 2, &[1.0, 2.0, 0.0, 1.0])),
            Err(AttackError::Parameter(_))
        ));
        assert!(matches!(
            symmetric_eigen(&Matrix::zeros(MAX_EIGEN_DIM + 1, MAX_EIGEN_DIM + 1).unwrap()),
            Err(AttackError::TooLarge { .. })
        ));
        assert!(matches!(
            Matrix::new(1, 2, vec![1.0, f64::NAN]),
            Err(AttackError::NonFinite { .. })
        ));
        assert!(matches!(
            Matrix::zeros(1 << 20, 1 << 20),
            Err(AttackError::TooLarge { .. })
        ));
    }

    /// Rows with variances 16, 4, 1, 0.01 along the axes of a random rotation: the components
    /// are those axes.
    fn stretched(rows: usize, dims: usize, seed: u64) -> (Matrix, Vec<Vec<f64>>) {
        let mut rng = Rng::new(seed);
        let mut axes: Vec<Vec<f64>> = (0..dims)
            .map(|_| (0..dims).map(|_| rng.normal()).collect())
            .collect();
        orthonormalise(&mut axes);
        let scales: Vec<f64> = (0..dims)
            .map(|j| match j {
                0 => 4.0,
                1 => 2.0,
                2 => 1.0,
                _ => 0.1,
            })
            .collect();
        let mut data = Vec::with_capacity(rows * dims);
        for _ in 0..rows {
            let z: Vec<f64> = scales.iter().map(|s| s * rng.normal()).collect();
            for d in 0..dims {
                data.push(
                    3.0 + z
                        .iter()
                        .zip(&axes)
                        .map(|(zj, axis)| zj * axis[d])
                        .sum::<f64>(),
                );
            }
        }
        (Matrix::new(rows, dims, data).unwrap(), axes)
    }

    #[test]
    fn pca_recovers_the_stretched_axes_on_every_path() {
        let (x, axes) = stretched(400, 20, 3);
        let exact = Pca::fit(&x, 3).unwrap();
        for (j, comp) in exact.components.iter().enumerate() {
            assert!(dot(comp, &axes[j]).abs() > 0.98, "component {j}");
        }
        let want = [16.0, 4.0, 1.0];
        for (v, w) in exact.explained_variance.iter().zip(want) {
            assert!((v / w - 1.0).abs() < 0.2, "variance {v} vs {w}");
        }
        // The same answer through the Gram matrix (forced by a row limit) and through subspace
        // iteration (forced by a zero limit).
        // Fewer rows than dimensions go through the Gram matrix; subspace iteration (forced by
        // a zero limit) must agree with both exact paths.
        let few = x.select_rows(&(0..15).collect::<Vec<_>>()).unwrap();
        let by_gram = Pca::fit(&few, 3).unwrap();
        let few_subspace = Pca::fit_with(&few, 3, 0).unwrap();
        let subspace = Pca::fit_with(&x, 3, 0).unwrap();
        for (a, b) in [(&by_gram, &few_subspace), (&exact, &subspace)] {
            for (ca, cb) in a.components.iter().zip(&b.components) {
                assert!((dot(ca, cb) - 1.0).abs() < 1e-6);
            }
            for (va, vb) in a.explained_variance.iter().zip(&b.explained_variance) {
                assert!((va - vb).abs() < 1e-8 * va);
            }
        }
        let t = exact.transform(&x).unwrap();
        assert_eq!((t.rows(), t.cols()), (400, 3));
        let means = t.column_means();
        assert!(means.iter().all(|m| m.abs() < 1e-9));
    }

    #[test]
    fn pca_drops_directions_without_variance() {
        // Three rows on a line in 3-D: one component.
        let x = matrix(3, 3, &[0.0, 0.0, 1.0, 1.0, 2.0, 1.0, 2.0, 4.0, 1.0]);
        let p = Pca::fit(&x, 3).unwrap();
        assert_eq!(p.components.len(), 1);
        assert!((p.explained_variance[0] - 5.0).abs() < 1e-12);
    }

    /// Two Gaussian blobs of `a` and `b` rows, unit spread, centres `gap` apart in 5-D.
    fn blobs(a: usize, b: usize, gap: f64, seed: u64) -> Matrix {
        let mut rng = Rng::new(seed);
        let mut data = Vec::new();
        for i in 0..a + b {
            let shift = if i < a { 0.0 } else { gap };
            data.extend((0..5).map(|d| rng.normal() + if d == 0 { shift } else { 0.0 }));
        }
        Matrix::new(a + b, 5, data).unwrap()
    }

    #[test]
    fn kmeans_splits_two_blobs_and_silhouette_sees_it() {
        let x = blobs(60, 25, 12.0, 4);
        let km = kmeans(&x, &KMeansConfig::default()).unwrap();
        let first = km.assignment[0];
        assert!(km.assignment[..60].iter().all(|&c| c == first));
        assert!(km.assignment[60..].iter().all(|&c| c != first));
        let mut sizes = km.sizes.clone();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![25, 60]);
        let s = silhouette(&x, &km.assignment, 2, 0).unwrap();
        assert!(s.mean > 0.7, "silhouette {}", s.mean);
        // One blob split in two is a poor clustering.
        let one = blobs(85, 0, 0.0, 5);
        let km = kmeans(&one, &KMeansConfig::default()).unwrap();
        let s = silhouette(&one, &km.assignment, 2, 0).unwrap();
        assert!(s.mean < 0.3, "silhouette {}", s.mean);
        // Same seed, same clustering.
        let again = kmeans(&one, &KMeansConfig::default()).unwrap();
        assert_eq!(km.assignment, again.assignment);
    }

    #[test]
    fn silhouette_matches_a_hand_computed_case() {
        // Points 0, 1 | 4 on a line: s(0) = (4 - 1) / 4, s(1) = (3 - 1) / 3, s(4) = 0.
        let x = matrix(3, 1, &[0.0, 1.0, 4.0]);
        let s = silhouette(&x, &[0, 0, 1], 2, 0).unwrap();
        let want = (0.75 + 2.0 / 3.0) / 3.0;
        assert!((s.mean - want).abs() < 1e-12);
        assert_eq!(s.per_cluster[1], Some(0.0));
        assert!(silhouette(&x, &[0, 0, 0], 2, 0).is_err());
    }

    #[test]
    fn kmeans_refuses_bad_configs() {
        let x = blobs(5, 0, 0.0, 1);
        for config in [
            KMeansConfig {
                clusters: 6,
                ..KMeansConfig::default()
            },
            KMeansConfig {
                restarts: 0,
                ..KMeansConfig::default()
            },
            KMeansConfig {
                max_iter: MAX_KMEANS_ITER + 1,
                ..KMeansConfig::default()
            },
        ] {
            assert!(kmeans(&x, &config).is_err());
        }
    }
}
