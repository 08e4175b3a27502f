//! A Bayesian classifier in the Robinson/Fisher style (Gary Robinson's
//! "A Statistical Approach to the Spam Problem", as SpamBayes combines it):
//! each token's spam probability is smoothed towards 0.5 by how little it
//! has been seen, the most telling tokens are combined with Fisher's
//! chi-square method both ways, and the answer is 0 (ham) to 1 (spam),
//! with a middle ground of "unsure" instead of a forced guess.

use std::collections::HashMap;

/// Robinson's s and x: a token seen n times moves from x towards its
/// observed probability as n grows against s.
const STRENGTH: f64 = 0.45;
const UNKNOWN: f64 = 0.5;
/// Only tokens this far from 0.5 count; at most this many of them.
const MIN_DISTANCE: f64 = 0.1;
const MAX_TOKENS: usize = 150;

#[derive(Debug, Default, Clone)]
pub struct Model {
    /// Token -> (spam messages holding it, ham messages holding it).
    counts: HashMap<u64, (u32, u32)>,
    spam: u32,
    ham: u32,
}

impl Model {
    pub fn new() -> Model {
        Model::default()
    }

    /// A model of stored counts: messages learned as (spam, ham) and,
    /// per token, the (spam, ham) messages holding it.
    pub fn from_counts(spam: u32, ham: u32, counts: impl IntoIterator<Item = (u64, (u32, u32))>) -> Model {
        Model {
            counts: counts.into_iter().collect(),
            spam,
            ham,
        }
    }

    /// Messages trained as (spam, ham).
    pub fn trained(&self) -> (u32, u32) {
        (self.spam, self.ham)
    }

    /// Distinct tokens known.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Learns one message's tokens (each once) as spam or ham.
    pub fn train(&mut self, tokens: &[u64], spam: bool) {
        for token in tokens {
            let entry = self.counts.entry(*token).or_default();
            if spam {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
        if spam {
            self.spam += 1;
        } else {
            self.ham += 1;
        }
    }

    /// Takes back a message trained before (a user correcting a verdict
    /// first untrains the old one).
    pub fn forget(&mut self, tokens: &[u64], spam: bool) {
        for token in tokens {
            if let Some(entry) = self.counts.get_mut(token) {
                if spam {
                    entry.0 = entry.0.saturating_sub(1);
                } else {
                    entry.1 = entry.1.saturating_sub(1);
                }
                if *entry == (0, 0) {
                    self.counts.remove(token);
                }
            }
        }
        if spam {
            self.spam = self.spam.saturating_sub(1);
        } else {
            self.ham = self.ham.saturating_sub(1);
        }
    }

    /// Robinson's f(w): the token's spam probability, smoothed.
    fn probability(&self, spam: u32, ham: u32) -> f64 {
        let spam_ratio = spam as f64 / self.spam.max(1) as f64;
        let ham_ratio = ham as f64 / self.ham.max(1) as f64;
        let p = if spam_ratio + ham_ratio == 0.0 {
            UNKNOWN
        } else {
            spam_ratio / (spam_ratio + ham_ratio)
        };
        let n = (spam + ham) as f64;
        (STRENGTH * UNKNOWN + n * p) / (STRENGTH + n)
    }

    /// 0.0 (surely ham) to 1.0 (surely spam); 0.5 when nothing is known.
    pub fn score(&self, tokens: &[u64]) -> f64 {
        if self.spam == 0 || self.ham == 0 {
            return UNKNOWN;
        }
        let mut telling: Vec<f64> = tokens
            .iter()
            .filter_map(|token| self.counts.get(token))
            .map(|(spam, ham)| self.probability(*spam, *ham))
            .filter(|p| (p - UNKNOWN).abs() >= MIN_DISTANCE)
            .collect();
        if telling.is_empty() {
            return UNKNOWN;
        }
        telling.sort_by(|a, b| (b - UNKNOWN).abs().total_cmp(&(a - UNKNOWN).abs()));
        telling.truncate(MAX_TOKENS);
        let n = telling.len();
        let (mut ln_ham, mut ln_spam) = (0.0, 0.0);
        for p in &telling {
            let p = p.clamp(1e-6, 1.0 - 1e-6);
            ln_ham += p.ln();
            ln_spam += (1.0 - p).ln();
        }
        let spamminess = 1.0 - chi2_q(-2.0 * ln_spam, 2 * n);
        let hamminess = 1.0 - chi2_q(-2.0 * ln_ham, 2 * n);
        ((spamminess - hamminess + 1.0) / 2.0).clamp(0.0, 1.0)
    }
}

/// P(chi-square with `freedom` (even) degrees >= x2).
fn chi2_q(x2: f64, freedom: usize) -> f64 {
    let m = x2 / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..freedom / 2 {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trained() -> Model {
        let mut model = Model::new();
        for _ in 0..20 {
            model.train(&[1, 2, 3, 10], true);
            model.train(&[4, 5, 6, 10], false);
        }
        model
    }

    #[test]
    fn known_spam_and_ham_tokens_decide() {
        let model = trained();
        assert!(model.score(&[1, 2, 3]) > 0.99, "{}", model.score(&[1, 2, 3]));
        assert!(model.score(&[4, 5, 6]) < 0.01, "{}", model.score(&[4, 5, 6]));
        // A token in both as often tells nothing; unknown ones neither.
        assert_eq!(model.score(&[10, 99]), 0.5);
        let mixed = model.score(&[1, 4]);
        assert!((0.3..0.7).contains(&mixed), "{mixed}");
    }

    #[test]
    fn an_untrained_model_is_unsure_and_forgetting_undoes_training() {
        assert_eq!(Model::new().score(&[1, 2, 3]), 0.5);
        let mut model = trained();
        let before = model.len();
        model.train(&[77, 78], true);
        model.forget(&[77, 78], true);
        assert_eq!((model.len(), model.trained()), (before, (20, 20)));
    }

    #[test]
    fn chi_square_tail_matches_known_values() {
        // P(chi2(2) >= 2) = e^-1; P(chi2(4) >= 2) = e^-1 * 2.
        assert!((chi2_q(2.0, 2) - (-1.0f64).exp()).abs() < 1e-12);
        assert!((chi2_q(2.0, 4) - 2.0 * (-1.0f64).exp()).abs() < 1e-12);
        assert_eq!(chi2_q(0.0, 10), 1.0);
    }
}
