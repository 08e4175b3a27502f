//! Spam filter evaluation on the labelled corpus (../shared/corpus, never
//! copied into the repository), with fixed, seeded 80/20 splits, in three
//! experiments: the same corpus (SpamAssassin's, learned on 80%, judged on
//! the 20%); across corpora (learned on SpamAssassin's 2002-2005 mail,
//! judged on modern phishing it never saw, as a new server meets it); and
//! with phishing learned (80% of it added to the training, judged on the
//! rest). Ham is always SpamAssassin's held-out 20%. Estafeta (its whole
//! pipeline: rules, auth, Bayes), its Bayes alone, SpamAssassin (sa-learn,
//! network tests off) and Rspamd (rspamc learn, offline) each learn and
//! judge the same files. Prints precision, recall, the false-positive rate
//! on ham, F1 and messages per second; `--verbose` adds how often each of
//! Estafeta's rules fired on spam and ham, `--mistakes` lists each missed
//! spam and each ham filed in Junk with its score and rules.
//!
//!   cargo run --release -p estafeta-bench --bin spam-eval [-- --corpus DIR] [--smoke] [--no-peers] [--verbose] [--mistakes]

use estafeta_bench::spam_peers::{Peer, Rspamd, SpamAssassin};
use estafeta_bench::{arg, flag, shuffle};
use estafeta_core::Config;
use estafeta_filter::bayes::Model;
use estafeta_filter::tokens::tokens;
use estafeta_filter::{Filter, Input, Verdict};
use std::collections::BTreeMap;
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

/// Modern phishing stand-ins for the smoke run.
fn synthetic_phishing(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let text = format!(
                "From: \"Account Security\" <alert{i}@secure-mail.example>\r\nSubject: Your mailbox is suspended {i}\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <p{i}@secure-mail.example>\r\nContent-Type: text/html\r\n\r\n\
<p>Verify your account within 24 hours: <a href=\"http://login-verify{i}.example/\">https://mail.example/login</a></p>\r\n"
            );
            let path = dir.join(format!("phishing-{i}.eml"));
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

/// Estafeta's whole pipeline over a fresh embedded store, and each
/// verdict (test spam first, then test ham) for `--verbose`.
async fn estafeta(split: &Split) -> (Score, Vec<Verdict>, Vec<Verdict>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = estafeta_store::open_sqlite(dir.path()).await.expect("store");
    let labelled = read(&split.train_spam)
        .into_iter()
        .map(|m| (m, true))
        .chain(read(&split.train_ham).into_iter().map(|m| (m, false)));
    estafeta_filter::train_spam(store.as_ref(), None, labelled)
        .await
        .expect("train");
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let filter = Arc::new(Filter::new(Arc::new(config), store, None));
    let (spam, ham) = (read(&split.test_spam), read(&split.test_ham));
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
                            parsed: None,
                            ip: None,
                            mail_from: "",
                            auth: Default::default(),
                            smtputf8: false,
                        };
                        let analysis = filter.analyze(&input).await;
                        filter.verdict(&analysis, None).await
                    })
                })
                .collect();
            let mut verdicts = Vec::with_capacity(tasks.len());
            for task in tasks {
                verdicts.push(task.await.expect("task"));
            }
            verdicts
        }
    };
    let spam_verdicts = judge(spam).await;
    let ham_verdicts = judge(ham).await;
    let score = Score {
        name: "estafeta",
        spam_flags: spam_verdicts.iter().map(Verdict::is_spam).collect(),
        ham_flags: ham_verdicts.iter().map(Verdict::is_spam).collect(),
        secs: started.elapsed().as_secs_f64(),
    };
    (score, spam_verdicts, ham_verdicts)
}

/// How often each rule fired on the test spam and on the test ham, and
/// which of them the missed spam and the false positives carried: what
/// to look at when a figure moves.
fn print_rules(spam: &[Verdict], ham: &[Verdict]) {
    let mut rules: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for (verdicts, column) in [(spam, 0), (ham, 1)] {
        for verdict in verdicts {
            for reason in &verdict.reasons {
                let row = rules.entry(reason.rule.as_str()).or_default();
                row[column] += 1;
                // Missed spam, or ham filed in Junk.
                if verdict.is_spam() == (column == 1) {
                    row[column + 2] += 1;
                }
            }
        }
    }
    println!(
        "    {:<24} {:>9} {:>9} {:>12} {:>9}",
        "rule", "spam %", "ham %", "missed spam", "ham in Junk"
    );
    let percent = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    for (rule, [in_spam, in_ham, missed, false_positive]) in rules {
        println!(
            "    {rule:<24} {:>9.1} {:>9.1} {missed:>12} {false_positive:>9}",
            percent(in_spam, spam.len()),
            percent(in_ham, ham.len()),
        );
    }
    // How far from the line the mistakes are: what a rule worth a point
    // or two could still change.
    let bands = |verdicts: &[Verdict]| {
        let mut counts = [0usize; 8];
        for verdict in verdicts {
            let band = (verdict.score.floor() + 2.0).clamp(0.0, 7.0) as usize;
            counts[band] += 1;
        }
        counts
    };
    let missed: Vec<Verdict> = spam.iter().filter(|v| !v.is_spam()).cloned().collect();
    let close_ham: Vec<Verdict> = ham.iter().filter(|v| v.score >= 0.0).cloned().collect();
    println!("    score band                <-1  -1..0  0..1  1..2  2..3  3..4  4..5   5+");
    for (name, verdicts) in [("missed spam", &missed), ("ham scoring 0 or more", &close_ham)] {
        let c = bands(verdicts);
        println!(
            "    {name:<24} {:>5} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>4}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        );
    }
}

/// Each missed spam and each ham filed in Junk, with its score and rules:
/// the messages to read when a figure moves.
fn print_mistakes(spam_paths: &[PathBuf], spam: &[Verdict], ham_paths: &[PathBuf], ham: &[Verdict]) {
    let wrong = |paths: &'static str, list: &[PathBuf], verdicts: &[Verdict], spam_wanted: bool| {
        for (path, verdict) in list.iter().zip(verdicts) {
            if verdict.is_spam() != spam_wanted {
                let rules: Vec<String> = verdict
                    .reasons
                    .iter()
                    .map(|r| format!("{} {:+.1}", r.rule, r.score))
                    .collect();
                println!(
                    "    {paths} {:5.1} {} | {}",
                    verdict.score,
                    path.display(),
                    rules.join(", ")
                );
            }
        }
    };
    wrong("missed spam", spam_paths, spam, true);
    wrong("ham in Junk", ham_paths, ham, false);
}

/// The Bayesian classifier alone, in memory: what the tokens carry.
fn bayes_only(split: &Split) -> Score {
    let mut model = Model::new();
    for message in read(&split.train_ham) {
        model.train(&tokens(&message), false);
    }
    for message in read(&split.train_spam) {
        model.train(&tokens(&message), true);
    }
    let (spam, ham) = (read(&split.test_spam), read(&split.test_ham));
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

/// One experiment: what the filters learn from and what they judge.
struct Split {
    title: String,
    train_spam: Vec<PathBuf>,
    train_ham: Vec<PathBuf>,
    test_spam: Vec<PathBuf>,
    test_ham: Vec<PathBuf>,
}

impl Split {
    async fn run(&self, peers: bool) {
        println!(
            "{}: train {} ham + {} spam, test {} ham + {} spam",
            self.title,
            self.train_ham.len(),
            self.train_spam.len(),
            self.test_ham.len(),
            self.test_spam.len()
        );
        let (score, spam, ham) = estafeta(self).await;
        score.print();
        bayes_only(self).print();
        if flag("--verbose") {
            print_rules(&spam, &ham);
        }
        if flag("--mistakes") {
            print_mistakes(&self.test_spam, &spam, &self.test_ham, &ham);
        }
        if !peers {
            return;
        }
        if let Some(score) = peer(
            SpamAssassin::start(&self.train_spam, &self.train_ham),
            &self.test_spam,
            &self.test_ham,
        ) {
            score.print();
        }
        if let Some(score) = peer(
            Rspamd::start(&self.train_spam, &self.train_ham),
            &self.test_spam,
            &self.test_ham,
        ) {
            score.print();
        }
    }
}

/// The first four fifths to learn from, the last to judge.
fn split(all: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (train, test) = all.split_at(all.len() * 4 / 5);
    (train.to_vec(), test.to_vec())
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
    let phishing_dir = Path::new(&corpus).join("phishing");
    let mut phishing = if phishing_dir.is_dir() {
        files(&phishing_dir)
    } else {
        assert!(smoke, "no corpus at {} (give --corpus DIR)", phishing_dir.display());
        synthetic_phishing(scratch.path(), 40)
    };
    shuffle(&mut ham, seed);
    shuffle(&mut spam, seed ^ 0x5eed);
    shuffle(&mut phishing, seed ^ 0xf154);
    if smoke {
        ham.truncate(150);
        spam.truncate(150);
        phishing.truncate(60);
    }
    let (ham_train, ham_test) = split(&ham);
    let (spam_train, spam_test) = split(&spam);
    let (phishing_train, phishing_test) = split(&phishing);
    println!("spam-eval: seed {seed}");
    let peers = !flag("--no-peers");
    let experiments = [
        Split {
            title: "same corpus (SpamAssassin 80% -> SpamAssassin 20%)".into(),
            train_spam: spam_train.clone(),
            train_ham: ham_train.clone(),
            test_spam: spam_test,
            test_ham: ham_test.clone(),
        },
        // Mail from sources the filter never learned from: what a new
        // server meets on its first day.
        Split {
            title: "cross corpus (SpamAssassin 80% -> all phishing, never learned)".into(),
            train_spam: spam_train.clone(),
            train_ham: ham_train.clone(),
            test_spam: phishing.clone(),
            test_ham: ham_test.clone(),
        },
        Split {
            title: "phishing learned (SpamAssassin 80% + phishing 80% -> phishing 20%)".into(),
            train_spam: spam_train.into_iter().chain(phishing_train).collect(),
            train_ham: ham_train,
            test_spam: phishing_test,
            test_ham: ham_test,
        },
    ];
    for experiment in &experiments {
        experiment.run(peers).await;
    }
}
