//! Spam filter evaluation on the labelled corpus (../shared/corpus, never
//! copied into the repository): a fixed, seeded 80/20 split per class; the
//! classifier is trained on the 80 and judged on the 20. Prints precision,
//! recall, the false-positive rate on ham, F1, and messages classified per
//! second.
//!
//! This slice measures Estafeta's Bayesian classifier alone; SpamAssassin
//! and Rspamd on the same split come with the rules and the pipeline.
//!
//!   cargo run --release -p estafeta-bench --bin spam-eval [-- --corpus DIR] [--smoke]

use estafeta_bench::{arg, flag};
use estafeta_filter::bayes::Model;
use estafeta_filter::tokens::tokens;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// At or above: spam. Between 0.2 and this Robinson's "unsure", counted
/// as ham here (a missed spam costs less than a lost ham).
const SPAM_AT: f64 = 0.9;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// A fixed shuffle (xorshift from `seed`), so every run splits alike.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed.max(1);
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// Stand-ins when the corpus is not on this machine (CI's smoke run).
fn synthetic(spam: bool, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let body = if spam {
                format!("Subject: WIN a FREE prize {i}\r\n\r\nClick now http://cheap-pills.example/{i} limited offer money\r\n")
            } else {
                format!("Subject: meeting notes {i}\r\n\r\nHi, attached are the notes from Tuesday's meeting about the build {i}.\r\n")
            };
            body.into_bytes()
        })
        .collect()
}

fn main() {
    let smoke = flag("--smoke");
    let corpus: String = arg("--corpus", "../shared/corpus".to_owned());
    let seed = arg("--seed", 20261126u64);
    let base = Path::new(&corpus).join("spamassassin");
    let (mut ham, mut spam): (Vec<Vec<u8>>, Vec<Vec<u8>>) = if base.join("ham").is_dir() {
        let read = |dir: &str| -> Vec<Vec<u8>> {
            let mut all: Vec<Vec<u8>> = files(&base.join(dir))
                .iter()
                .filter_map(|p| std::fs::read(p).ok())
                .collect();
            if smoke {
                all.truncate(200);
            }
            all
        };
        (read("ham"), read("spam"))
    } else {
        assert!(smoke, "no corpus at {} (give --corpus DIR)", base.display());
        eprintln!(
            "spam-eval: no corpus at {}; smoke run on synthetic mail",
            base.display()
        );
        (synthetic(false, 50), synthetic(true, 50))
    };
    shuffle(&mut ham, seed);
    shuffle(&mut spam, seed ^ 0x5eed);
    let split = |all: &[Vec<u8>]| all.len() * 4 / 5;
    let (ham_train, ham_test) = ham.split_at(split(&ham));
    let (spam_train, spam_test) = spam.split_at(split(&spam));

    let started = Instant::now();
    let mut model = Model::new();
    for message in ham_train {
        model.train(&tokens(message), false);
    }
    for message in spam_train {
        model.train(&tokens(message), true);
    }
    let train_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let judged = |messages: &[Vec<u8>]| messages.iter().filter(|m| model.score(&tokens(m)) >= SPAM_AT).count();
    let false_positives = judged(ham_test);
    let true_positives = judged(spam_test);
    let classify_secs = started.elapsed().as_secs_f64();
    let tested = ham_test.len() + spam_test.len();

    let (tp, fp) = (true_positives as f64, false_positives as f64);
    let fn_ = (spam_test.len() - true_positives) as f64;
    let tn = (ham_test.len() - false_positives) as f64;
    let precision = tp / (tp + fp).max(1.0);
    let recall = tp / (tp + fn_).max(1.0);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    println!(
        "spam-eval: seed {seed}, train {} ham + {} spam, test {} ham + {} spam; spam at score >= {SPAM_AT}",
        ham_train.len(),
        spam_train.len(),
        ham_test.len(),
        spam_test.len()
    );
    println!(
        "  estafeta bayes   precision {:.4}  recall {:.4}  ham FP rate {:.4}  F1 {:.4}  {:.0} msg/s ({} tokens, trained in {train_secs:.2} s)",
        precision,
        recall,
        fp / (fp + tn).max(1.0),
        f1,
        tested as f64 / classify_secs,
        model.len()
    );
}
