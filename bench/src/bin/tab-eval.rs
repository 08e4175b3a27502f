//! Tab evaluation: ../shared/corpus/tabs (a provider's own Primary,
//! Promotions, Updates and Spam labels) plus Social notifications built
//! from the networks' public formats (`estafeta_bench::social`). Seeded
//! 5-fold cross-validation: for each fold, a fresh store learns the other
//! four (tab examples; spam against the rest, on top of the SpamAssassin
//! corpus as the server's spam knowledge) and Estafeta's pipeline files
//! the fold. Prints accuracy per tab and the confusion table, for the
//! rules alone and for rules plus the trained classifiers, after how far
//! the sender alone gets (how consistently the labels follow senders).
//! Also files 300 posts to discussion lists held out of the SpamAssassin
//! ham (a reader of those lists finds them in Primary, not Promotions).
//!
//! First, across corpora: spam learned from SpamAssassin's corpus and the
//! phishing one, no tab examples (a new server after `estafeta spam
//! train`), Estafeta, SpamAssassin and Rspamd file the tab mail; wanted
//! bulk mail (Promotions, Updates) in Junk is the figure that counts.
//!
//!   cargo run --release -p estafeta-bench --bin tab-eval [-- --corpus DIR] [--smoke] [--verbose] [--no-peers]

use estafeta_bench::spam_peers::{Peer, Rspamd, SpamAssassin};
use estafeta_bench::{arg, flag, shuffle, social};
use estafeta_core::Config;
use estafeta_filter::{Destination, Filter, Input, Tab, Verdict, corpus};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FOLDS: usize = 5;
/// Rows and columns of the table: the four tabs, then Spam.
const CLASSES: [&str; 5] = ["primary", "promotions", "social", "updates", "spam"];
const SPAM: usize = 4;
/// Posts to discussion lists held out of the spam background and filed.
const LIST_POSTS: usize = 300;

/// RFC 2369 3.4: a list that takes posts names where (List-Post).
fn takes_posts(message: &[u8]) -> bool {
    mail_parser::MessageParser::default()
        .parse_headers(message)
        .and_then(|p| p.header_raw("List-Post").map(|v| !v.trim().eq_ignore_ascii_case("no")))
        .unwrap_or(false)
}

fn class_of(destination: Destination) -> usize {
    match destination {
        Destination::Junk => SPAM,
        Destination::Tab(tab) => tab.class() as usize,
    }
}

/// A filter over a fresh store; with `learn`, trained on `train` (tab
/// examples; spam against the rest) on top of the `background` spam
/// knowledge. The store lives as long as the returned directory.
async fn trained_filter(
    train: &[(Vec<u8>, usize)],
    background: &[(Vec<u8>, bool)],
    learn: bool,
) -> (Filter, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = estafeta_store::open_sqlite(dir.path()).await.expect("store");
    if learn {
        let spam = background
            .iter()
            .cloned()
            .chain(train.iter().map(|(m, class)| (m.clone(), *class == SPAM)));
        estafeta_filter::train_spam(store.as_ref(), None, spam)
            .await
            .expect("train spam");
        let tabs = train
            .iter()
            .filter(|(_, class)| *class != SPAM)
            .map(|(m, class)| (m.clone(), Tab::from_class(*class as u8).expect("tab")));
        estafeta_filter::train_tabs(store.as_ref(), None, tabs)
            .await
            .expect("train tabs");
    }
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    (Filter::new(Arc::new(config), store, None), dir)
}

async fn file(filter: &Filter, message: &[u8]) -> Verdict {
    let input = Input {
        message,
        parsed: None,
        ip: None,
        mail_from: "",
        auth: Default::default(),
        smtputf8: false,
    };
    let analysis = filter.analyze(&input).await;
    filter.verdict(&analysis, None).await
}

async fn run_fold(
    train: &[(Vec<u8>, usize)],
    test: &[(Vec<u8>, usize)],
    background: &[(Vec<u8>, bool)],
    learn: bool,
    table: &mut [[usize; 5]; 5],
) {
    let (filter, _dir) = trained_filter(train, background, learn).await;
    for (message, actual) in test {
        let verdict = file(&filter, message).await;
        let got = class_of(verdict.destination);
        table[*actual][got] += 1;
        if got != *actual && flag("--verbose") {
            let parsed = mail_parser::MessageParser::default().parse_headers(&message[..]);
            let header =
                |f: fn(&mail_parser::Message) -> Option<String>| parsed.as_ref().and_then(f).unwrap_or_default();
            println!(
                "    {} filed as {}: {} | {} | {}",
                CLASSES[*actual],
                CLASSES[got],
                header(|p| p
                    .from()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .map(str::to_owned)),
                header(|p| p.subject().map(str::to_owned)),
                if verdict.tab_reason.is_empty() {
                    // Filed in Junk: the score and what made most of it.
                    let mut reasons = verdict.reasons.clone();
                    reasons.sort_by(|a, b| b.score.total_cmp(&a.score));
                    let top: Vec<String> = reasons
                        .iter()
                        .take(4)
                        .map(|r| format!("{} {:+.1}", r.rule, r.score))
                        .collect();
                    format!("score {:.1}: {}", verdict.score, top.join(", "))
                } else {
                    verdict.tab_reason.clone()
                }
            );
        }
    }
}

fn print(title: &str, table: &[[usize; 5]; 5]) {
    println!("{title}");
    print!("  {:<12}", "actual \\ got");
    for class in CLASSES {
        print!("{class:>11}");
    }
    println!("   accuracy");
    for (row, class) in CLASSES.iter().enumerate() {
        let total: usize = table[row].iter().sum();
        if total == 0 {
            continue;
        }
        print!("  {class:<12}");
        for cell in table[row] {
            print!("{cell:>11}");
        }
        println!("   {:>6.1}% of {total}", 100.0 * table[row][row] as f64 / total as f64);
    }
    let right: usize = (0..5).map(|i| table[i][i]).sum();
    let all: usize = table.iter().flatten().sum();
    println!("  overall {:.1}% of {all}", 100.0 * right as f64 / all.max(1) as f64);
}

/// How far the sender alone gets: each message takes the label most of
/// its sender's other messages carry (leave one out; a tie or a sender
/// with no other message is a miss). A ceiling for any filter that files
/// by sender, and a measure of how consistently the labels follow senders.
fn sender_ceiling(labelled: &[(Vec<u8>, usize)]) {
    let senders: Vec<String> = labelled
        .iter()
        .map(|(m, _)| estafeta_filter::sender_of(m).unwrap_or_default())
        .collect();
    println!("the sender alone (each message labelled as most of its sender's other mail):");
    for (class, name) in CLASSES.iter().enumerate() {
        let mut total = 0;
        let mut right = 0;
        let mut alone = 0;
        for (i, (_, label)) in labelled.iter().enumerate() {
            if *label != class {
                continue;
            }
            total += 1;
            let mut votes = [0usize; 5];
            for (j, (_, other)) in labelled.iter().enumerate() {
                if j != i && senders[j] == senders[i] {
                    votes[*other] += 1;
                }
            }
            let best = votes.iter().copied().max().unwrap_or(0);
            if best == 0 {
                alone += 1;
            } else if votes[class] == best && votes.iter().filter(|v| **v == best).count() == 1 {
                right += 1;
            }
        }
        if total > 0 {
            println!(
                "  {name:<12} {:>6.1}% of {total} ({alone} from a sender with no other message)",
                100.0 * right as f64 / total as f64
            );
        }
    }
}

/// Across corpora: the server learned spam from SpamAssassin's corpus and
/// the phishing one and nothing of the tab mail (as after `estafeta spam
/// train` on a new server); where does the tab mail go? Wanted bulk mail
/// (Promotions, Updates) filed in Junk is the failure that counts most.
async fn cross_corpus(labelled: &[(Vec<u8>, usize)], background: &[(Vec<u8>, bool)], phishing: &[Vec<u8>]) {
    let spam_knowledge: Vec<(Vec<u8>, bool)> = background
        .iter()
        .cloned()
        .chain(phishing.iter().map(|m| (m.clone(), true)))
        .collect();
    let mut table = [[0usize; 5]; 5];
    run_fold(&[], labelled, &spam_knowledge, true, &mut table).await;
    print(
        &format!(
            "across corpora: spam learned from {} SpamAssassin and phishing messages, no tab examples:",
            spam_knowledge.len()
        ),
        &table,
    );
    let wanted = |class: &usize| *class == 1 || *class == 3;
    let junked: usize = (0..5).filter(wanted).map(|class| table[class][SPAM]).sum();
    let all: usize = (0..5)
        .filter(wanted)
        .map(|class| table[class].iter().sum::<usize>())
        .sum();
    println!(
        "  estafeta: promotions and updates filed in Junk: {:.1}% ({junked} of {all}); spam-labelled caught {} of {}",
        100.0 * junked as f64 / all.max(1) as f64,
        table[SPAM][SPAM],
        table[SPAM].iter().sum::<usize>()
    );
    if flag("--no-peers") {
        return;
    }
    // The peers learn the same spam and judge the same files.
    let scratch = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, messages: &mut dyn Iterator<Item = &Vec<u8>>| -> Vec<PathBuf> {
        messages
            .enumerate()
            .map(|(i, message)| {
                let path = scratch.path().join(format!("{name}-{i}.eml"));
                std::fs::write(&path, message).expect("write a message");
                path
            })
            .collect()
    };
    let train_spam = write("spam", &mut spam_knowledge.iter().filter(|(_, s)| *s).map(|(m, _)| m));
    let train_ham = write("ham", &mut spam_knowledge.iter().filter(|(_, s)| !*s).map(|(m, _)| m));
    let bulk = write("bulk", &mut labelled.iter().filter(|(_, c)| wanted(c)).map(|(m, _)| m));
    let spam = write(
        "tab-spam",
        &mut labelled.iter().filter(|(_, c)| *c == SPAM).map(|(m, _)| m),
    );
    let report = |name: &str, bulk_flags: Vec<bool>, spam_flags: Vec<bool>| {
        let junked = bulk_flags.iter().filter(|f| **f).count();
        println!(
            "  {name}: promotions and updates filed in Junk: {:.1}% ({junked} of {}); spam-labelled caught {} of {}",
            100.0 * junked as f64 / bulk_flags.len().max(1) as f64,
            bulk_flags.len(),
            spam_flags.iter().filter(|f| **f).count(),
            spam_flags.len()
        );
    };
    if let Some(mut peer) = SpamAssassin::start(&train_spam, &train_ham) {
        report(peer.name(), peer.classify(&bulk), peer.classify(&spam));
    }
    if let Some(mut peer) = Rspamd::start(&train_spam, &train_ham) {
        report(peer.name(), peer.classify(&bulk), peer.classify(&spam));
    }
}

#[tokio::main]
async fn main() {
    let smoke = flag("--smoke");
    let corpus_dir: String = arg("--corpus", "../shared/corpus".to_owned());
    let seed = arg("--seed", 20261126u64);
    let tabs = Path::new(&corpus_dir).join("tabs");
    let mut labelled: Vec<(Vec<u8>, usize)> = Vec::new();
    if tabs.is_dir() {
        for (dir, class) in [("personal", 0), ("promotions", 1), ("updates", 3), ("spam", SPAM)] {
            let messages = corpus::read(&tabs.join(dir)).expect("read the tab corpus");
            labelled.extend(messages.into_iter().map(|m| (m, class)));
        }
    } else {
        assert!(smoke, "no corpus at {} (give --corpus DIR)", tabs.display());
        eprintln!(
            "tab-eval: no corpus at {}; smoke run on the Social examples alone",
            tabs.display()
        );
    }
    let social = social::notifications(if smoke { 10 } else { 45 });
    labelled.extend(social.into_iter().map(|m| (m, 2)));
    shuffle(&mut labelled, seed);
    if smoke {
        labelled.truncate(40);
    }
    // The server's spam knowledge: the SpamAssassin corpus when present.
    let mut background = Vec::new();
    let sa = Path::new(&corpus_dir).join("spamassassin");
    if sa.is_dir() && !smoke {
        for (dir, spam) in [("spam", true), ("ham", false)] {
            let messages = corpus::read(&sa.join(dir)).expect("read the spam corpus");
            background.extend(messages.into_iter().map(|m| (m, spam)));
        }
    }
    let phishing_dir = Path::new(&corpus_dir).join("phishing");
    let phishing = if phishing_dir.is_dir() && !smoke {
        corpus::read(&phishing_dir).expect("read the phishing corpus")
    } else {
        Vec::new()
    };
    let counts: Vec<String> = CLASSES
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} {c}", labelled.iter().filter(|(_, k)| *k == i).count()))
        .collect();
    println!(
        "tab-eval: seed {seed}, {FOLDS}-fold cross-validation over {} messages ({}); spam background {}",
        labelled.len(),
        counts.join(", "),
        background.len()
    );
    // Posts to discussion lists, held out of the spam background: a
    // reader of those lists finds them in Primary, not Promotions.
    let mut posts: Vec<usize> = (0..background.len())
        .filter(|i| !background[*i].1 && takes_posts(&background[*i].0))
        .collect();
    shuffle(&mut posts, seed);
    posts.truncate(LIST_POSTS);
    let list_posts: Vec<Vec<u8>> = posts.iter().map(|i| background[*i].0.clone()).collect();
    let list_background: Vec<(Vec<u8>, bool)> = (0..background.len())
        .filter(|i| !posts.contains(i))
        .map(|i| background[i].clone())
        .collect();
    sender_ceiling(&labelled);
    cross_corpus(&labelled, &background, &phishing).await;
    for learn in [false, true] {
        let mut table = [[0usize; 5]; 5];
        for fold in 0..FOLDS {
            let (test, train): (Vec<_>, Vec<_>) = labelled.iter().enumerate().partition(|(i, _)| i % FOLDS == fold);
            let test: Vec<_> = test.into_iter().map(|(_, m)| m.clone()).collect();
            let train: Vec<_> = train.into_iter().map(|(_, m)| m.clone()).collect();
            run_fold(&train, &test, &background, learn, &mut table).await;
        }
        print(
            if learn {
                "rules and the classifiers trained on the other folds:"
            } else {
                "rules alone (nothing learned):"
            },
            &table,
        );
        if !list_posts.is_empty() {
            // Trained on every tab example, and on the spam background
            // without the held-out posts.
            let (filter, _dir) = trained_filter(&labelled, &list_background, learn).await;
            let mut filed = [0usize; 5];
            for message in &list_posts {
                filed[class_of(file(&filter, message).await.destination)] += 1;
            }
            let counts: Vec<String> = CLASSES
                .iter()
                .zip(filed)
                .map(|(class, n)| format!("{class} {n}"))
                .collect();
            println!(
                "  posts to discussion lists (SpamAssassin ham with List-Post, held out): {:.1}% primary of {} ({})",
                100.0 * filed[0] as f64 / list_posts.len() as f64,
                list_posts.len(),
                counts.join(", ")
            );
        }
    }
}
