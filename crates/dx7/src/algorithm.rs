//! The 32 DX7 algorithms: which operators modulate which, which are heard, where the
//! feedback loop is. Operators are numbered 1–6 as on the instrument's panel chart;
//! a modulator always has a higher number than what it modulates, so computing operators from
//! 6 down to 1 has every input ready.

/// One algorithm's routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    /// Bit `n − 1` set if operator `n` is a carrier (summed into the output).
    pub carriers: u8,
    /// `modulators[n − 1]`: bit `m − 1` set if operator `m` modulates operator `n`.
    pub modulators: [u8; 6],
    /// The feedback loop `(from, to)`: operator `from`'s output feeds operator `to`'s phase.
    /// `from == to` for self-feedback; algorithms 4 and 6 loop over a chain (4 → 6, 5 → 6).
    pub feedback: (usize, usize),
}

impl Algorithm {
    /// Whether operator `n` (1–6) is a carrier.
    pub fn is_carrier(&self, n: usize) -> bool {
        self.carriers & (1 << (n - 1)) != 0
    }

    /// The operators modulating operator `n` (1–6), highest first.
    pub fn modulators_of(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        (1..=6)
            .rev()
            .filter(move |m| self.modulators[n - 1] & (1 << (m - 1)) != 0)
    }
}

const fn mask(ops: &[usize]) -> u8 {
    let mut m = 0;
    let mut i = 0;
    while i < ops.len() {
        m |= 1 << (ops[i] - 1);
        i += 1;
    }
    m
}

const fn alg(carriers: &[usize], modulators: [&[usize]; 6], feedback: (usize, usize)) -> Algorithm {
    Algorithm {
        carriers: mask(carriers),
        modulators: [
            mask(modulators[0]),
            mask(modulators[1]),
            mask(modulators[2]),
            mask(modulators[3]),
            mask(modulators[4]),
            mask(modulators[5]),
        ],
        feedback,
    }
}

/// Algorithms 1–32 (index 0–31, the voice's `algorithm` byte). `modulators` lists, for
/// operators 1 to 6, the operators feeding each.
pub const ALGORITHMS: [Algorithm; 32] = [
    alg(&[1, 3], [&[2], &[], &[4], &[5], &[6], &[]], (6, 6)),
    alg(&[1, 3], [&[2], &[], &[4], &[5], &[6], &[]], (2, 2)),
    alg(&[1, 4], [&[2], &[3], &[], &[5], &[6], &[]], (6, 6)),
    alg(&[1, 4], [&[2], &[3], &[], &[5], &[6], &[]], (4, 6)),
    alg(&[1, 3, 5], [&[2], &[], &[4], &[], &[6], &[]], (6, 6)),
    alg(&[1, 3, 5], [&[2], &[], &[4], &[], &[6], &[]], (5, 6)),
    alg(&[1, 3], [&[2], &[], &[5, 4], &[], &[6], &[]], (6, 6)),
    alg(&[1, 3], [&[2], &[], &[5, 4], &[], &[6], &[]], (4, 4)),
    alg(&[1, 3], [&[2], &[], &[5, 4], &[], &[6], &[]], (2, 2)),
    alg(&[1, 4], [&[2], &[3], &[], &[6, 5], &[], &[]], (3, 3)),
    alg(&[1, 4], [&[2], &[3], &[], &[6, 5], &[], &[]], (6, 6)),
    alg(&[1, 3], [&[2], &[], &[6, 5, 4], &[], &[], &[]], (2, 2)),
    alg(&[1, 3], [&[2], &[], &[6, 5, 4], &[], &[], &[]], (6, 6)),
    alg(&[1, 3], [&[2], &[], &[4], &[6, 5], &[], &[]], (6, 6)),
    alg(&[1, 3], [&[2], &[], &[4], &[6, 5], &[], &[]], (2, 2)),
    alg(&[1], [&[5, 3, 2], &[], &[4], &[], &[6], &[]], (6, 6)),
    alg(&[1], [&[5, 3, 2], &[], &[4], &[], &[6], &[]], (2, 2)),
    alg(&[1], [&[4, 3, 2], &[], &[], &[5], &[6], &[]], (3, 3)),
    alg(&[1, 4, 5], [&[2], &[3], &[], &[6], &[6], &[]], (6, 6)),
    alg(&[1, 2, 4], [&[3], &[3], &[], &[6, 5], &[], &[]], (3, 3)),
    alg(&[1, 2, 4, 5], [&[3], &[3], &[], &[6], &[6], &[]], (3, 3)),
    alg(&[1, 3, 4, 5], [&[2], &[], &[6], &[6], &[6], &[]], (6, 6)),
    alg(&[1, 2, 4, 5], [&[], &[3], &[], &[6], &[6], &[]], (6, 6)),
    alg(&[1, 2, 3, 4, 5], [&[], &[], &[6], &[6], &[6], &[]], (6, 6)),
    alg(&[1, 2, 3, 4, 5], [&[], &[], &[], &[6], &[6], &[]], (6, 6)),
    alg(&[1, 2, 4], [&[], &[3], &[], &[6, 5], &[], &[]], (6, 6)),
    alg(&[1, 2, 4], [&[], &[3], &[], &[6, 5], &[], &[]], (3, 3)),
    alg(&[1, 3, 6], [&[2], &[], &[4], &[5], &[], &[]], (5, 5)),
    alg(&[1, 2, 3, 5], [&[], &[], &[4], &[], &[6], &[]], (6, 6)),
    alg(&[1, 2, 3, 6], [&[], &[], &[4], &[5], &[], &[]], (5, 5)),
    alg(&[1, 2, 3, 4, 5], [&[], &[], &[], &[], &[6], &[]], (6, 6)),
    alg(&[1, 2, 3, 4, 5, 6], [&[], &[], &[], &[], &[], &[]], (6, 6)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_well_formed() {
        for (i, a) in ALGORITHMS.iter().enumerate() {
            assert!(
                a.is_carrier(1),
                "operator 1 is always heard (algorithm {})",
                i + 1
            );
            for n in 1..=6 {
                // Modulators are higher-numbered (computed first) and an operator is either
                // heard or modulates something.
                assert!(a.modulators_of(n).all(|m| m > n));
                let modulates = (1..=6).any(|k| a.modulators_of(k).any(|m| m == n));
                assert!(
                    a.is_carrier(n) != modulates,
                    "algorithm {} operator {n}",
                    i + 1
                );
            }
            let (from, to) = a.feedback;
            assert!(from <= to);
        }
        // Known charts: 1 has two stacks, 32 is six sines with feedback on 6.
        assert_eq!(ALGORITHMS[0].modulators_of(3).collect::<Vec<_>>(), vec![4]);
        assert_eq!(ALGORITHMS[31].carriers, 0b111111);
        assert_eq!(
            ALGORITHMS[15].modulators_of(1).collect::<Vec<_>>(),
            vec![5, 3, 2]
        );
        assert_eq!(ALGORITHMS[3].feedback, (4, 6));
    }
}
