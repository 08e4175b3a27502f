//! `estafeta spam train` and `estafeta spam classify` on a store on disk.

use crate::common::*;
use std::path::Path;

const CONFIG: &str = "[filter]\nmin_learned = 2\n";

fn pills(n: usize) -> String {
    format!(
        "From: Pharmacy <rx{n}@pills.test>\nSubject: Cheap meds {n}\nDate: Thu, 26 Nov 2026 05:00:00 +0000\n\
Message-ID: <p{n}@pills.test>\n\nGenuine pharmacy pills, cheap meds, no prescription, order pills today.\n"
    )
}

fn work(n: usize) -> String {
    format!(
        "From: Colleague <c{n}@remote.test>\nSubject: Quarterly report {n}\nDate: Thu, 26 Nov 2026 05:00:00 +0000\n\
Message-ID: <w{n}@remote.test>\n\nAttached are the quarterly figures for the project review meeting.\n"
    )
}

fn spam(dir: &Path, args: &[&str]) -> Run {
    let mut command = configured(dir, CONFIG);
    command.arg("spam").args(args);
    run(command, None)
}

#[test]
fn train_then_classify_explains_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spam_dir = d.join("spam");
    std::fs::create_dir(&spam_dir).unwrap();
    for n in 0..3 {
        std::fs::write(spam_dir.join(format!("{n}.eml")), pills(n)).unwrap();
    }
    // Ham as an mbox.
    let mbox: String = (0..3)
        .map(|n| format!("From c{n}@remote.test Thu Nov 26 05:00:00 2026\n{}\n", work(n)))
        .collect();
    std::fs::write(d.join("ham.mbox"), mbox).unwrap();
    let promo = d.join("promo");
    std::fs::create_dir(&promo).unwrap();
    std::fs::write(promo.join("1"), "From: news@shop.test\nSubject: sale\n\nshop\n").unwrap();

    let trained = spam(
        d,
        &[
            "train",
            "--spam",
            spam_dir.to_str().unwrap(),
            "--ham",
            d.join("ham.mbox").to_str().unwrap(),
            "--tab",
            &format!("promotions={}", promo.display()),
        ],
    );
    let out = trained.ok();
    assert!(out.contains("learned 3 spam and 3 ham"), "{out}");
    assert!(out.contains("learned 1 tab examples"), "{out}");

    std::fs::write(d.join("new-spam.eml"), pills(7)).unwrap();
    let verdict = spam(d, &["classify", "--offline", d.join("new-spam.eml").to_str().unwrap()]);
    let out = verdict.ok();
    assert!(out.contains("Junk"), "{out}");
    assert!(out.contains("BAYES_99") || out.contains("BAYES_999"), "{out}");

    std::fs::write(d.join("new-ham.eml"), work(7)).unwrap();
    let verdict = spam(d, &["classify", "--offline", d.join("new-ham.eml").to_str().unwrap()]);
    let out = verdict.ok();
    assert!(out.contains("not spam, primary tab"), "{out}");
    assert!(out.contains("BAYES_00"), "{out}");

    std::fs::write(
        d.join("gtube.eml"),
        format!("Subject: t\n\n{}\n", estafeta_filter::rules::GTUBE),
    )
    .unwrap();
    let out = spam(d, &["classify", "--offline", d.join("gtube.eml").to_str().unwrap()])
        .ok()
        .to_owned();
    assert!(out.contains("GTUBE") && out.contains("Junk"), "{out}");
}

#[test]
fn a_senders_examples_decide_its_tab() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let updates = d.join("updates");
    std::fs::create_dir(&updates).unwrap();
    for n in 0..2 {
        let notice = format!("From: Club <news@club.test>\nSubject: Club notice {n}\n\nMeeting minutes.\n");
        std::fs::write(updates.join(format!("{n}")), notice).unwrap();
    }
    spam(d, &["train", "--tab", &format!("updates={}", updates.display())]).ok();
    // By its rules this one is a promotion; the sender's mail goes to Updates.
    let offer = "From: Club <news@club.test>\nSubject: 30% off - last chance\nList-Unsubscribe: <https://club.test/u>\n\nShop now.\n";
    std::fs::write(d.join("offer.eml"), offer).unwrap();
    let out = spam(d, &["classify", "--offline", d.join("offer.eml").to_str().unwrap()])
        .ok()
        .to_owned();
    assert!(out.contains("not spam, updates tab"), "{out}");
    assert!(out.contains("2 of 2 examples from news@club.test are updates"), "{out}");
    // Another sender with the same message is judged by the rules.
    std::fs::write(d.join("other.eml"), offer.replace("news@club.test", "deals@shop.test")).unwrap();
    let out = spam(d, &["classify", "--offline", d.join("other.eml").to_str().unwrap()])
        .ok()
        .to_owned();
    assert!(out.contains("not spam, promotions tab"), "{out}");
}

#[test]
fn bad_arguments_get_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    spam(d, &["train"]).refused("nothing to learn");
    spam(d, &["train", "--tab", "junk=/tmp"]).refused("no tab junk");
    spam(d, &["train", "--tab", "promotions"]).refused("TAB=PATH");
    spam(d, &["train", "--spam", "/nonexistent/x"]).refused("cannot read /nonexistent/x");
    spam(d, &["classify", "/nonexistent/y"]).refused("cannot read /nonexistent/y");
    spam(
        d,
        &[
            "classify",
            "--account",
            "nobody@example.com",
            "--offline",
            "/etc/hostname",
        ],
    )
    .refused("no account nobody@example.com");
}
