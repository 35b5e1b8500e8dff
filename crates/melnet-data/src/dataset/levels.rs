//! How loud a set of dB spectrograms is: the share of elements at the floor (the `top_db`
//! clip, silence), the share of late frames that are silent, and the mean level per mel band —
//! the numbers that tell whether generated spectrograms sound like their training data or
//! have collapsed to silence.

use melspec::db::TOP_DB;

/// The floor of a dB dataset: values are clipped at [`TOP_DB`] below each item's maximum
/// (0 dB).
pub const DB_FLOOR: f32 = -TOP_DB;

/// Level statistics of spectrograms in dB, accumulated item by item.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    bins: usize,
    floor: f32,
    /// Elements at or below the floor, and all elements.
    at_floor: u64,
    elements: u64,
    /// Sum of values per band, frames counted.
    band_sums: Vec<f64>,
    frames: u64,
    /// Per item: the share of its second half's elements at or below the floor.
    second_half: Vec<f64>,
}

impl Levels {
    /// Empty statistics of spectrograms of `bins` bands with floor `floor` dB.
    pub fn new(bins: usize, floor: f32) -> Self {
        Levels {
            bins,
            floor,
            at_floor: 0,
            elements: 0,
            band_sums: vec![0.0; bins],
            frames: 0,
            second_half: Vec::new(),
        }
    }

    /// Add one spectrogram, time-major `[frames, bins]` dB values (a partial last frame is
    /// ignored).
    pub fn add(&mut self, time_major: &[f32]) {
        let frames = time_major.len() / self.bins.max(1);
        let values = &time_major[..frames * self.bins];
        let floor = self.floor;
        let count = |v: &[f32]| v.iter().filter(|&&x| x <= floor).count();
        self.at_floor += count(values) as u64;
        self.elements += values.len() as u64;
        for frame in values.chunks_exact(self.bins.max(1)) {
            for (s, &v) in self.band_sums.iter_mut().zip(frame) {
                *s += f64::from(v);
            }
        }
        self.frames += frames as u64;
        let late = &values[frames / 2 * self.bins..];
        self.second_half
            .push(count(late) as f64 / late.len().max(1) as f64);
    }

    /// Share of all elements at or below the floor, 0–1.
    pub fn floor_share(&self) -> f64 {
        self.at_floor as f64 / self.elements.max(1) as f64
    }

    /// Per spectrogram added: the share of its second half's elements at or below the floor.
    pub fn second_half_floor_shares(&self) -> &[f64] {
        &self.second_half
    }

    /// Mean level per band, dB, `[bins]`.
    pub fn band_means(&self) -> Vec<f64> {
        self.band_sums
            .iter()
            .map(|s| s / self.frames.max(1) as f64)
            .collect()
    }

    /// Mean level over all elements, dB.
    pub fn mean(&self) -> f64 {
        self.band_sums.iter().sum::<f64>() / self.elements.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_floor_halves_and_bands() {
        let mut l = Levels::new(2, DB_FLOOR);
        // 4 frames × 2 bands: the second half is all floor.
        l.add(&[-10.0, -30.0, -80.0, -20.0, -80.0, -80.0, -80.0, -80.0]);
        l.add(&[0.0, -40.0]);
        assert_eq!(l.floor_share(), 5.0 / 10.0);
        assert_eq!(l.second_half_floor_shares(), &[1.0, 0.0]);
        assert_eq!(l.band_means(), vec![-250.0 / 5.0, -250.0 / 5.0]);
        assert_eq!(l.mean(), -500.0 / 10.0);
    }
}
