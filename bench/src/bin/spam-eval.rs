//! Spam filter evaluation on the labelled corpus (../shared/corpus, never
//! copied into the repository): a fixed, seeded 80/20 split per class.
//! Estafeta (its whole pipeline: rules, auth, Bayes trained on the 80),
//! SpamAssassin (sa-learn on the 80, network tests off) and Rspamd
//! (rspamc learn on the 80, offline) each judge the 20. Prints precision,
//! recall, the false-positive rate on ham, F1 and messages per second.
//!
//!   cargo run --release -p estafeta-bench --bin spam-eval [-- --corpus DIR] [--smoke] [--no-peers]

use estafeta_bench::spam_peers::{Peer, Rspamd, SpamAssassin};
use estafeta_bench::{arg, flag, shuffle};
use estafeta_core::Config;
use estafeta_filter::bayes::Model;
use estafeta_filter::tokens::tokens;
use estafeta_filter::{Filter, Input};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

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

/// Stand-ins when the corpus is not on this machine (CI's smoke run).
fn synthetic(dir: &Path, spam: bool, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let text = if spam {
                format!("From: win{i}@prize.example\r\nSubject: WIN a FREE prize {i}\r\n\r\nClick now http://cheap-pills.example/{i} limited offer money\r\n")
            } else {
                format!("From: colleague{i}@work.example\r\nSubject: meeting notes {i}\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{i}@work.example>\r\n\r\nHi, attached are the notes from Tuesday's meeting about the build {i}.\r\n")
            };
            let path = dir.join(format!("{}-{i}.eml", if spam { "spam" } else { "ham" }));
            std::fs::write(&path, text).expect("write");
            path
        })
        .collect()
}

struct Score {
    name: &'static str,
    spam_flags: Vec<bool>,
    ham_flags: Vec<bool>,
    secs: f64,
}

impl Score {
    fn print(&self) {
        let tp = self.spam_flags.iter().filter(|s| **s).count() as f64;
        let fn_ = self.spam_flags.len() as f64 - tp;
        let fp = self.ham_flags.iter().filter(|s| **s).count() as f64;
        let tn = self.ham_flags.len() as f64 - fp;
        let precision = tp / (tp + fp).max(1.0);
        let recall = tp / (tp + fn_).max(1.0);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        let tested = (self.spam_flags.len() + self.ham_flags.len()) as f64;
        println!(
            "  {:<22} precision {precision:.4}  recall {recall:.4}  ham FP rate {:.4} ({} of {})  F1 {f1:.4}  {:>8.0} msg/s",
            self.name,
            fp / (fp + tn).max(1.0),
            fp,
            fp + tn,
            tested / self.secs.max(1e-9),
        );
    }
}

fn read(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths.iter().map(|p| std::fs::read(p).expect("read message")).collect()
}

/// Estafeta's whole pipeline over a fresh embedded store.
async fn estafeta(train_spam: &[PathBuf], train_ham: &[PathBuf], test_spam: &[PathBuf], test_ham: &[PathBuf]) -> Score {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = estafeta_store::open_sqlite(dir.path()).await.expect("store");
    let labelled = read(train_spam)
        .into_iter()
        .map(|m| (m, true))
        .chain(read(train_ham).into_iter().map(|m| (m, false)));
    estafeta_filter::train_spam(store.as_ref(), None, labelled)
        .await
        .expect("train");
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let filter = Arc::new(Filter::new(Arc::new(config), store, None));
    let (spam, ham) = (read(test_spam), read(test_ham));
    let started = Instant::now();
    // As many at once as the server would have: a task per message, on all cores.
    let judge = |messages: Vec<Vec<u8>>| {
        let filter = Arc::clone(&filter);
        async move {
            let tasks: Vec<_> = messages
                .into_iter()
                .map(|message| {
                    let filter = Arc::clone(&filter);
                    tokio::spawn(async move {
                        let input = Input {
                            message: &message,
                            ip: None,
                            mail_from: "",
                            auth: Default::default(),
                        };
                        let analysis = filter.analyze(&input).await;
                        filter.verdict(&analysis, None).await.is_spam()
                    })
                })
                .collect();
            let mut flags = Vec::with_capacity(tasks.len());
            for task in tasks {
                flags.push(task.await.expect("task"));
            }
            flags
        }
    };
    let spam_flags = judge(spam).await;
    let ham_flags = judge(ham).await;
    Score {
        name: "estafeta",
        spam_flags,
        ham_flags,
        secs: started.elapsed().as_secs_f64(),
    }
}

/// The Bayesian classifier alone, in memory: what the tokens carry.
fn bayes_only(train_spam: &[PathBuf], train_ham: &[PathBuf], test_spam: &[PathBuf], test_ham: &[PathBuf]) -> Score {
    let mut model = Model::new();
    for message in read(train_ham) {
        model.train(&tokens(&message), false);
    }
    for message in read(train_spam) {
        model.train(&tokens(&message), true);
    }
    let (spam, ham) = (read(test_spam), read(test_ham));
    let started = Instant::now();
    let judge = |messages: &[Vec<u8>]| messages.iter().map(|m| model.score(&tokens(m)) >= 0.9).collect();
    let spam_flags = judge(&spam);
    let ham_flags = judge(&ham);
    Score {
        name: "estafeta (bayes only)",
        spam_flags,
        ham_flags,
        secs: started.elapsed().as_secs_f64(),
    }
}

fn peer(peer: Option<impl Peer>, test_spam: &[PathBuf], test_ham: &[PathBuf]) -> Option<Score> {
    let mut peer = peer?;
    let started = Instant::now();
    let spam_flags = peer.classify(test_spam);
    let ham_flags = peer.classify(test_ham);
    Some(Score {
        name: peer.name(),
        spam_flags,
        ham_flags,
        secs: started.elapsed().as_secs_f64(),
    })
}

#[tokio::main]
async fn main() {
    let smoke = flag("--smoke");
    let corpus: String = arg("--corpus", "../shared/corpus".to_owned());
    let seed = arg("--seed", 20261126u64);
    let base = Path::new(&corpus).join("spamassassin");
    let scratch = tempfile::tempdir().expect("temp dir");
    let (mut ham, mut spam) = if base.join("ham").is_dir() {
        (files(&base.join("ham")), files(&base.join("spam")))
    } else {
        assert!(smoke, "no corpus at {} (give --corpus DIR)", base.display());
        eprintln!(
            "spam-eval: no corpus at {}; smoke run on synthetic mail",
            base.display()
        );
        (
            synthetic(scratch.path(), false, 80),
            synthetic(scratch.path(), true, 80),
        )
    };
    shuffle(&mut ham, seed);
    shuffle(&mut spam, seed ^ 0x5eed);
    if smoke {
        ham.truncate(150);
        spam.truncate(150);
    }
    let split = |all: &[PathBuf]| all.len() * 4 / 5;
    let (ham_train, ham_test) = ham.split_at(split(&ham));
    let (spam_train, spam_test) = spam.split_at(split(&spam));
    println!(
        "spam-eval: seed {seed}, train {} ham + {} spam, test {} ham + {} spam",
        ham_train.len(),
        spam_train.len(),
        ham_test.len(),
        spam_test.len()
    );
    estafeta(spam_train, ham_train, spam_test, ham_test).await.print();
    bayes_only(spam_train, ham_train, spam_test, ham_test).print();
    if flag("--no-peers") {
        return;
    }
    if let Some(score) = peer(SpamAssassin::start(spam_train, ham_train), spam_test, ham_test) {
        score.print();
    }
    if let Some(score) = peer(Rspamd::start(spam_train, ham_train), spam_test, ham_test) {
        score.print();
    }
}
