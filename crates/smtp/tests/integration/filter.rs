//! The filter on the MX path, end to end: GTUBE and the reject score,
//! DNS blocklists of the client and of linked domains (the test DNS
//! answering as a list would), forged verdict headers, tabs, greylisting,
//! correspondents, senders' learned history, and learning from IMAP moves
//! changing later verdicts.

use crate::common::*;
use estafeta_core::config::{DnsList, Service};
use estafeta_testkit::TestServer;
use estafeta_testkit::imap::ImapProbe;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const ALICE: &str = "alice@example.com";
const LISTED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn mail(from: &str, subject: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {ALICE}\r\nSubject: {subject}\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\n\
Message-ID: <{}@remote.test>\r\n{extra_headers}\r\n{body}\r\n",
        rand_id()
    )
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

async fn send_from(client: &mut Client, mail_from: &str, message: &str) -> Reply {
    client
        .cmd(&format!("MAIL FROM:<{mail_from}>"))
        .await
        .expect(250, "2.1.0");
    client.cmd(&format!("RCPT TO:<{ALICE}>")).await.expect(250, "2.1.5");
    client.data(message).await
}

async fn send(server: &TestServer, message: &str) -> Reply {
    let mut client = Client::ready(server, Service::Smtp).await;
    send_from(&mut client, "sender@remote.test", message).await
}

async fn server_with(adjust: impl FnOnce(&mut estafeta_core::Config)) -> TestServer {
    let server = TestServer::start_with(|config| {
        config.filter.dnsbl = vec![DnsList {
            zone: "bl.test".into(),
            weight: 6.0,
            codes: Vec::new(),
        }];
        config.filter.uribl = vec![DnsList {
            zone: "uribl.test".into(),
            weight: 5.5,
            codes: Vec::new(),
        }];
        adjust(config);
    })
    .await;
    server.add_account(ALICE, "pw").await;
    server
}

#[tokio::test]
async fn gtube_goes_to_junk_with_the_verdict_in_its_headers() {
    let server = server_with(|_| {}).await;
    let gtube = mail(
        "sender@remote.test",
        "test",
        "",
        &format!("testing\r\n{}", estafeta_filter::rules::GTUBE),
    );
    send(&server, &gtube).await.expect(250, "2.0.0");
    assert!(inbox(&server, ALICE).await.is_empty());
    let junk = mailbox(&server, ALICE, "Junk").await;
    assert_eq!(junk.len(), 1);
    assert!(junk[0].contains("X-Spam-Status: Yes, score=1000."), "{}", junk[0]);
    assert!(junk[0].contains("tests=GTUBE"), "{}", junk[0]);
    assert!(junk[0].contains("\r\nX-Spam-Score: 1000."), "{}", junk[0]);
}

#[tokio::test]
async fn the_reject_score_refuses_at_data_when_set() {
    let server = server_with(|config| config.filter.reject_score = Some(15.0)).await;
    let gtube = mail("sender@remote.test", "test", "", estafeta_filter::rules::GTUBE);
    let reply = send(&server, &gtube).await.clone();
    reply.expect(550, "5.7.1");
    assert!(reply.text().contains("GTUBE"), "{reply:?}");
    // Below the reject score, mail is taken as before.
    send(&server, &mail("sender@remote.test", "Lunch?", "", "Noon?"))
        .await
        .expect(250, "2.0.0");
    assert_eq!(inbox(&server, ALICE).await.len(), 1);
}

#[tokio::test]
async fn mail_refused_as_spam_leaves_nothing_behind_for_remote_recipients() {
    // An alias forwarding outside makes the MX transaction carry a remote
    // recipient beside the local one. The 550 must hold for all of them:
    // nothing queued to leave, nothing filed.
    let server = server_with(|config| config.filter.reject_score = Some(15.0)).await;
    let store = server.store();
    store
        .alias_add(
            &estafeta_core::Address::parse("fwd@example.com").unwrap(),
            &estafeta_core::Address::parse("friend@remote.test").unwrap(),
        )
        .await
        .unwrap();
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<sender@remote.test>").await.expect(250, "2.1.0");
    client.cmd(&format!("RCPT TO:<{ALICE}>")).await.expect(250, "2.1.5");
    client.cmd("RCPT TO:<fwd@example.com>").await.expect(250, "2.1.5");
    let gtube = mail("sender@remote.test", "test", "", estafeta_filter::rules::GTUBE);
    client.data(&gtube).await.expect(550, "5.7.1");
    assert!(store.queue_list().await.unwrap().is_empty(), "refused mail was queued");
    assert!(inbox(&server, ALICE).await.is_empty());
    assert!(mailbox(&server, ALICE, "Junk").await.is_empty());
}

#[tokio::test]
async fn a_client_on_a_blocklist_is_filed_in_junk() {
    let server = server_with(|_| {}).await;
    // RFC 5782 5: every list answers for 127.0.0.2.
    server.dns.ip("2.0.0.127.bl.test", LISTED);
    let message = mail("sender@remote.test", "Lunch on Friday?", "", "Shall we meet at noon?");
    let mut listed = Client::from_address(&server, LISTED).await;
    send_from(&mut listed, "sender@remote.test", &message)
        .await
        .expect(250, "2.0.0");
    let junk = mailbox(&server, ALICE, "Junk").await;
    assert_eq!(junk.len(), 1);
    assert!(junk[0].contains("RBL_BL"), "{}", junk[0]);
    // The same message from an address not listed is fine.
    send(&server, &message).await.expect(250, "2.0.0");
    assert_eq!(inbox(&server, ALICE).await.len(), 1);
}

#[tokio::test]
async fn a_link_to_a_listed_domain_is_filed_in_junk_and_errors_are_not_listings() {
    let server = server_with(|_| {}).await;
    server.dns.ip("spammy.test.uribl.test", LISTED);
    // 127.255.255.254 is how lists say "you may not ask": not a listing.
    server
        .dns
        .ip("refused.test.uribl.test", IpAddr::V4(Ipv4Addr::new(127, 255, 255, 254)));
    let linking = mail(
        "sender@remote.test",
        "Look at this",
        "",
        "See https://www.click.spammy.test/offer today.",
    );
    send(&server, &linking).await.expect(250, "2.0.0");
    let junk = mailbox(&server, ALICE, "Junk").await;
    assert_eq!(junk.len(), 1);
    assert!(junk[0].contains("URIBL_URIBL"), "{}", junk[0]);
    let refused = mail(
        "sender@remote.test",
        "Look at this",
        "",
        "See https://refused.test/ today.",
    );
    send(&server, &refused).await.expect(250, "2.0.0");
    assert_eq!(inbox(&server, ALICE).await.len(), 1);
}

#[tokio::test]
async fn a_verdict_forged_by_the_sender_is_removed() {
    let server = server_with(|_| {}).await;
    let forged = mail(
        "sender@remote.test",
        "hi",
        "X-Spam-Status: No, score=-100.0\r\nX-Spam-Score: -100.0\r\n",
        estafeta_filter::rules::GTUBE,
    );
    send(&server, &forged).await.expect(250, "2.0.0");
    let junk = mailbox(&server, ALICE, "Junk").await;
    assert_eq!(junk.len(), 1);
    assert!(!junk[0].contains("-100.0"), "{}", junk[0]);
    assert_eq!(junk[0].matches("X-Spam-Status:").count(), 1);
}

fn promotion() -> String {
    mail(
        "Shop <news@shop.test>",
        "30% off everything - last chance",
        "List-Unsubscribe: <https://shop.test/u>\r\nPrecedence: bulk\r\n",
        "Shop now, the sale ends tonight.",
    )
}

#[tokio::test]
async fn mail_is_sorted_into_tabs_unless_tabs_are_off() {
    let server = server_with(|_| {}).await;
    send(&server, &promotion()).await.expect(250, "2.0.0");
    let social = mail(
        "LinkedIn <invitations@linkedin.com>",
        "Ana Souza wants to connect",
        "X-LinkedIn-Class: INVITE\r\n",
        "Accept Ana's invitation.",
    );
    send(&server, &social).await.expect(250, "2.0.0");
    let receipt = mail(
        "Store <no-reply@store.test>",
        "Your order receipt #1234",
        "",
        "Total: 12.00",
    );
    send(&server, &receipt).await.expect(250, "2.0.0");
    let personal = mail(
        "Ana <ana@remote.test>",
        "Lunch on Friday?",
        "",
        "Shall we meet at noon?",
    );
    send(&server, &personal).await.expect(250, "2.0.0");

    let subjects = |messages: Vec<String>| -> Vec<String> {
        messages
            .iter()
            .filter_map(|m| m.lines().find(|l| l.starts_with("Subject: ")).map(str::to_owned))
            .collect()
    };
    assert_eq!(
        subjects(mailbox(&server, ALICE, "Promotions").await),
        ["Subject: 30% off everything - last chance"]
    );
    assert_eq!(
        subjects(mailbox(&server, ALICE, "Social").await),
        ["Subject: Ana Souza wants to connect"]
    );
    assert_eq!(
        subjects(mailbox(&server, ALICE, "Updates").await),
        ["Subject: Your order receipt #1234"]
    );
    let primary = inbox(&server, ALICE).await;
    assert_eq!(subjects(primary.clone()), ["Subject: Lunch on Friday?"]);
    assert!(primary[0].contains("X-Spam-Status: No"), "{}", primary[0]);

    let flat = server_with(|config| config.filter.tabs = false).await;
    send(&flat, &promotion()).await.expect(250, "2.0.0");
    assert_eq!(inbox(&flat, ALICE).await.len(), 1);
    assert!(mailbox(&flat, ALICE, "Promotions").await.is_empty());
}

/// A post as Mailman delivers it: the list's headers (RFC 2369) on a
/// person's mail, `n` telling the posts apart.
fn list_post(list_post: &str, n: usize) -> String {
    mail(
        "Ana Souza <ana@remote.test>",
        &format!("[garden-talk] tomato seedlings, week {n}"),
        &format!(
            "List-Id: <garden-talk.lists.remote.test>\r\nList-Post: {list_post}\r\n\
             List-Unsubscribe: <https://lists.remote.test/u/garden-talk>\r\nPrecedence: list\r\n"
        ),
        "Mine sprouted this week; the new seed mix from the shop works well.",
    )
}

#[tokio::test]
async fn posts_to_a_discussion_list_land_in_primary_even_when_the_model_leans_elsewhere() {
    let server = server_with(|_| {}).await;
    // The server learned promotions full of the post's words, and updates:
    // enough for the tab model to speak.
    let promotions = (0..12).map(|n| {
        let message = mail(
            "Shop <news@shop.test>",
            &format!("New seed mix for tomato seedlings {n}"),
            "List-Unsubscribe: <https://shop.test/u>\r\n",
            "The new seed mix from the shop: sprouted this week in every garden.",
        );
        (message.into_bytes(), estafeta_filter::Tab::Promotions)
    });
    let updates = (0..12).map(|n| {
        let message = mail(
            "Bank <alerts@bank.test>",
            &format!("Statement {n}"),
            "",
            "Your statement is ready.",
        );
        (message.into_bytes(), estafeta_filter::Tab::Updates)
    });
    estafeta_filter::train_tabs(server.store().as_ref(), None, promotions.chain(updates))
        .await
        .unwrap();

    send(&server, &list_post("<mailto:garden-talk@lists.remote.test>", 1))
        .await
        .expect(250, "2.0.0");
    let primary = inbox(&server, ALICE).await;
    assert_eq!(primary.len(), 1, "the post is in INBOX");
    // RFC 2369 3.4: "NO" is an announcement list, which is bulk mail.
    send(&server, &list_post("NO", 2)).await.expect(250, "2.0.0");
    assert_eq!(mailbox(&server, ALICE, "Promotions").await.len(), 1);
    assert_eq!(inbox(&server, ALICE).await.len(), 1);
}

#[tokio::test]
async fn greylisting_defers_a_new_sender_until_it_retries() {
    let server = server_with(|config| {
        config.filter.greylist.enabled = true;
        config.filter.greylist.delay = Duration::from_secs(1);
    })
    .await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<new@remote.test>").await.expect(250, "2.1.0");
    client.cmd(&format!("RCPT TO:<{ALICE}>")).await.expect(451, "4.7.1");
    // Postmaster is never greylisted (RFC 5321 4.5.1).
    client.cmd("RCPT TO:<postmaster>").await.expect(250, "2.1.5");
    client.cmd("RSET").await.expect(250, "");
    client.cmd("MAIL FROM:<new@remote.test>").await.expect(250, "2.1.0");
    client.cmd(&format!("RCPT TO:<{ALICE}>")).await.expect(451, "4.7.1");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    client.cmd("RSET").await.expect(250, "");
    let message = mail("new@remote.test", "hello", "", "hi");
    send_from(&mut client, "new@remote.test", &message)
        .await
        .expect(250, "2.0.0");
    // Authenticated submission is never greylisted.
    let mut submission = submission_login(&server, ALICE, "pw").await;
    submission
        .cmd(&format!("MAIL FROM:<{ALICE}>"))
        .await
        .expect(250, "2.1.0");
    submission.cmd("RCPT TO:<alice@example.com>").await.expect(250, "2.1.5");
}

#[tokio::test]
async fn people_our_user_wrote_to_land_in_primary() {
    let server = server_with(|_| {}).await;
    let bulk_from_friend = mail(
        "Ana <ana@remote.test>",
        "Our summer sale - 20% off",
        "List-Unsubscribe: <https://remote.test/u>\r\n",
        "Shop now",
    );
    send(&server, &bulk_from_friend).await.expect(250, "2.0.0");
    assert_eq!(mailbox(&server, ALICE, "Promotions").await.len(), 1);

    let mut submission = submission_login(&server, ALICE, "pw").await;
    submission
        .cmd(&format!("MAIL FROM:<{ALICE}>"))
        .await
        .expect(250, "2.1.0");
    submission.cmd("RCPT TO:<ana@remote.test>").await.expect(250, "2.1.5");
    let note = format!(
        "From: {ALICE}\r\nTo: ana@remote.test\r\nSubject: hello\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\n\r\nHi Ana\r\n"
    );
    submission.data(&note).await.expect(250, "2.0.0");

    let personal = mail("Ana <ana@remote.test>", "Re: hello", "", "Hi Alice");
    send(&server, &personal).await.expect(250, "2.0.0");
    let primary = inbox(&server, ALICE).await;
    assert_eq!(primary.len(), 1);
    assert!(primary[0].contains("KNOWN_CORRESPONDENT"), "{}", primary[0]);
}

fn pills(n: usize) -> String {
    mail(
        &format!("Pharmacy <rx{n}@pills.test>"),
        &format!("Cheap meds {n}"),
        "",
        "Genuine pharmacy pills, cheap meds, no prescription, order pills today.",
    )
}

fn work(n: usize) -> String {
    mail(
        &format!("Colleague <colleague{n}@remote.test>"),
        &format!("Quarterly report {n}"),
        "",
        "Attached are the quarterly figures for the project review meeting.",
    )
}

/// The score in a filed message's X-Spam-Status.
fn spam_score(message: &str) -> f64 {
    let at = message.find("score=").expect("an X-Spam-Status") + "score=".len();
    let end = message[at..].find(' ').unwrap() + at;
    message[at..end].parse().unwrap()
}

#[tokio::test]
async fn bayes_vouches_for_mail_only_as_far_as_it_knows_its_words() {
    let server = server_with(|config| config.filter.min_learned = 2).await;
    let mut examples: Vec<(Vec<u8>, bool)> = (0..5).map(|n| (work(n).into_bytes(), false)).collect();
    examples.extend((0..5).map(|n| (pills(n).into_bytes(), true)));
    estafeta_filter::train_spam(server.store().as_ref(), None, examples)
        .await
        .unwrap();
    send(&server, &work(7)).await.expect(250, "2.0.0");
    // The same words, drowned in words the model never saw.
    let strange = mail(
        "Colleague <colleague8@remote.test>",
        "Quarterly report 8",
        "",
        "Attached are the quarterly figures for the project review meeting. \
         Zorvath quelmir daskeni florubat wimplex trasogen velkuri omnastrel \
         pyrandel cosmuth birelon stavique mornathel grelvin oskutar plimeron \
         vastrique dornelli keshavo tuvanel brisquet ulmaroth fendrigo saplevi",
    );
    send(&server, &strange).await.expect(250, "2.0.0");
    let filed = inbox(&server, ALICE).await;
    assert_eq!(filed.len(), 2);
    let (known, unknown) = (spam_score(&filed[0]), spam_score(&filed[1]));
    assert!(
        filed[0].contains("BAYES_00") || filed[0].contains("BAYES_20"),
        "{}",
        filed[0]
    );
    assert!(known < 0.0, "familiar ham is vouched for: {}", filed[0]);
    assert!(!filed[0].contains("UNFAMILIAR_WORDS"), "{}", filed[0]);
    assert!(filed[1].contains("UNFAMILIAR_WORDS"), "{}", filed[1]);
    assert!(
        unknown > known,
        "mostly unknown words are not vouched for as much: {known} then {unknown}\n{}",
        filed[1]
    );
}

#[tokio::test]
async fn moves_in_imap_teach_the_filter() {
    let server = server_with(|config| config.filter.min_learned = 2).await;
    // The server knows a little ham; nothing about pills yet.
    let ham: Vec<(Vec<u8>, bool)> = (0..3).map(|n| (work(n).into_bytes(), false)).collect();
    estafeta_filter::train_spam(server.store().as_ref(), None, ham)
        .await
        .unwrap();
    for n in 0..3 {
        send(&server, &pills(n)).await.expect(250, "2.0.0");
    }
    assert_eq!(inbox(&server, ALICE).await.len(), 3, "not known as spam yet");

    let mut imap = ImapProbe::login(&server, ALICE, "pw").await;
    imap.command("SELECT INBOX").await;
    imap.command("MOVE 1:3 Junk").await;
    send(&server, &pills(9)).await.expect(250, "2.0.0");
    let junk = mailbox(&server, ALICE, "Junk").await;
    assert_eq!(junk.len(), 4, "learned from the moves");
    assert!(junk[3].contains("BAYES_"), "{}", junk[3]);

    // The user rescues one: its sender becomes a correspondent and its
    // mail comes through from now on.
    imap.command("SELECT Junk").await;
    imap.command("UID MOVE 4 INBOX").await;
    send(&server, &pills(9)).await.expect(250, "2.0.0");
    let inbox_now = inbox(&server, ALICE).await;
    assert_eq!(inbox_now.len(), 2, "the rescued one and the next from that sender");
    assert!(inbox_now[1].contains("KNOWN_CORRESPONDENT"), "{}", inbox_now[1]);

    // Moving a sender's mail to a tab sends its next message there.
    send(&server, &work(7)).await.expect(250, "2.0.0");
    imap.command("SELECT INBOX").await;
    let found = imap.command("UID SEARCH FROM colleague7").await;
    let uid = found
        .iter()
        .find_map(|l| l.strip_prefix("* SEARCH "))
        .expect("found")
        .trim()
        .to_owned();
    imap.command(&format!("UID MOVE {uid} Updates")).await;
    send(&server, &work(7)).await.expect(250, "2.0.0");
    let updates = mailbox(&server, ALICE, "Updates").await;
    assert_eq!(updates.len(), 2, "the moved one and the next");
}

#[tokio::test]
async fn words_alone_do_not_junk_mail_a_domain_signed() {
    let server = server_with(|config| config.filter.min_learned = 2).await;
    let mut examples: Vec<(Vec<u8>, bool)> = (0..20).map(|n| (pills(n).into_bytes(), true)).collect();
    examples.extend((0..20).map(|n| (work(n).into_bytes(), false)));
    estafeta_filter::train_spam(server.store().as_ref(), None, examples)
        .await
        .unwrap();
    let pills_signer = crate::sender_auth::Signer::new(&server, "pills.test");
    let gmail_signer = crate::sender_auth::Signer::new(&server, "gmail.com");

    // Unsigned, Bayes alone files it in Junk.
    send(&server, &pills(50)).await.expect(250, "2.0.0");
    assert_eq!(mailbox(&server, ALICE, "Junk").await.len(), 1);

    // Signed by its own domain, the same words are not enough alone: the
    // Bayes points stop short of the threshold.
    send(&server, &pills_signer.sign("pills.test", &pills(51)))
        .await
        .expect(250, "2.0.0");
    let inbox_now = inbox(&server, ALICE).await;
    assert_eq!(inbox_now.len(), 1, "junk: {:?}", mailbox(&server, ALICE, "Junk").await);
    assert!(
        inbox_now[0].contains("BAYES_99") && inbox_now[0].contains("dkim=pass"),
        "{}",
        inbox_now[0]
    );
    assert!(spam_score(&inbox_now[0]) < 5.0, "{}", inbox_now[0]);

    // A rule that agrees (a brand's name over another domain) lets Bayes
    // count in full.
    let branded = pills(52).replace("Pharmacy <", "PayPal Pharmacy <");
    send(&server, &pills_signer.sign("pills.test", &branded))
        .await
        .expect(250, "2.0.0");
    let junk = mailbox(&server, ALICE, "Junk").await;
    assert_eq!(junk.len(), 2);
    assert!(
        junk[1].contains("FROM_NAME_BRAND") && junk[1].contains("BAYES_99"),
        "{}",
        junk[1]
    );

    // A free mailbox provider's signature vouches for anyone.
    let free = pills(53).replace("rx53@pills.test", "rx53@gmail.com");
    send(&server, &gmail_signer.sign("gmail.com", &free))
        .await
        .expect(250, "2.0.0");
    assert_eq!(mailbox(&server, ALICE, "Junk").await.len(), 3);
    assert_eq!(inbox(&server, ALICE).await.len(), 1);
}

/// HTML spam as a 2002 corpus has it: a style sheet and shouting text.
fn styled_spam(n: usize) -> String {
    mail(
        &format!("Deals <deals{n}@cheap.test>"),
        &format!("Amazing offer {n}"),
        "Content-Type: text/html\r\n",
        &format!("<html><head><style>{STYLE}</style></head><body><p>Buy cheap watches now {n}</p></body></html>"),
    )
}

const STYLE: &str = ".button { padding: 12px 24px; font-family: Helvetica, Arial, sans-serif; \
background-color: #ff6600; border-radius: 4px; line-height: 20px; text-align: center; \
max-width: 600px; margin: 0 auto; color: #ffffff; font-weight: bold; font-size: 14px }";

#[tokio::test]
async fn a_newsletters_style_sheet_does_not_make_it_spam() {
    // Bayes learned spam that had style sheets and ham that had none (as
    // SpamAssassin's 2002 corpus is). A newsletter with the same CSS and
    // words the model never saw must not be judged on the CSS: a style
    // sheet is not shown, so its words are not the message's.
    let server = server_with(|config| config.filter.min_learned = 2).await;
    let mut examples: Vec<(Vec<u8>, bool)> = (0..20).map(|n| (styled_spam(n).into_bytes(), true)).collect();
    examples.extend((0..20).map(|n| (work(n).into_bytes(), false)));
    estafeta_filter::train_spam(server.store().as_ref(), None, examples)
        .await
        .unwrap();
    send(&server, &styled_spam(99)).await.expect(250, "2.0.0");
    assert_eq!(
        mailbox(&server, ALICE, "Junk").await.len(),
        1,
        "the spam it learned is still caught"
    );

    let newsletter = mail(
        "Orchard Society <letters@orchard.test>",
        "Our autumn letter",
        "List-Unsubscribe: <https://orchard.test/unsubscribe>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n",
        &format!(
            "--b1\r\nContent-Type: text/plain\r\n\r\nApples ripened early in the orchard this year.\r\n\
--b1\r\nContent-Type: text/html\r\n\r\n<html><head><style>{STYLE}</style></head><body>\
<p>Apples ripened early in the orchard this year.</p></body></html>\r\n--b1--"
        ),
    );
    send(&server, &newsletter).await.expect(250, "2.0.0");
    let promotions = mailbox(&server, ALICE, "Promotions").await;
    assert_eq!(promotions.len(), 1, "junk: {:?}", mailbox(&server, ALICE, "Junk").await);
    assert!(promotions[0].contains("X-Spam-Status: No"), "{}", promotions[0]);
    assert!(!promotions[0].contains("BAYES_9"), "{}", promotions[0]);
}

/// A plain digest: nothing in its words or headers says spam.
fn digest(from: &str, n: usize) -> String {
    mail(
        &format!("Weekly Digest <{from}>"),
        &format!("This week's digest, issue {n}"),
        "",
        "Here is what happened this week in the community garden.",
    )
}

#[tokio::test]
async fn a_sender_whose_mail_users_junked_is_filed_in_junk() {
    let server = server_with(|_| {}).await;
    for n in 0..2 {
        send(&server, &digest("digest@news.test", n)).await.expect(250, "2.0.0");
    }
    assert_eq!(inbox(&server, ALICE).await.len(), 2, "nothing against it yet");

    let mut imap = ImapProbe::login(&server, ALICE, "pw").await;
    imap.command("SELECT INBOX").await;
    imap.command("MOVE 1:2 Junk").await;
    send(&server, &digest("digest@news.test", 2)).await.expect(250, "2.0.0");
    let junk = mailbox(&server, ALICE, "Junk").await;
    assert_eq!(junk.len(), 3, "the two moved and the next from that sender");
    assert!(junk[2].contains("SENDER_SPAM_HISTORY"), "{}", junk[2]);

    // The same words from another sender are not held against it.
    send(&server, &digest("digest@garden.test", 3))
        .await
        .expect(250, "2.0.0");
    let inbox_now = inbox(&server, ALICE).await;
    assert_eq!(inbox_now.len(), 1, "the other sender's digest");
    assert!(!inbox_now[0].contains("SENDER_SPAM_HISTORY"), "{}", inbox_now[0]);

    // Rescuing one turns the history around: a correspondent now, and its
    // next mail comes through.
    imap.command("SELECT Junk").await;
    imap.command("UID MOVE 1:2 INBOX").await;
    send(&server, &digest("digest@news.test", 4)).await.expect(250, "2.0.0");
    let last = inbox(&server, ALICE).await.pop().expect("delivered to INBOX");
    assert!(last.contains("issue 4"), "{last}");
}

/// A list's copy of Bob's reply in a thread: bulk by its headers.
fn list_reply(in_reply_to: &str) -> String {
    mail(
        "Bob <bob@other.test>",
        "Re: [rust-users] async drop",
        &format!(
            "List-Id: <rust-users.lists.remote.test>\r\nList-Unsubscribe: <https://lists.remote.test/u>\r\n\
             Precedence: list\r\nIn-Reply-To: <{in_reply_to}>\r\nReferences: <root@lists.remote.test> <{in_reply_to}>\r\n"
        ),
        "I had the same problem; a guard struct fixed it.",
    )
}

#[tokio::test]
async fn replies_to_mail_our_user_sent_land_in_primary_even_through_a_list() {
    let server = server_with(|_| {}).await;
    let mut submission = submission_login(&server, ALICE, "pw").await;
    // One post with its own Message-ID, one without (we add it).
    for (subject, id_header) in [
        ("async drop", "Message-ID: <post-1@example.com>\r\n"),
        ("follow-up", ""),
    ] {
        submission
            .cmd(&format!("MAIL FROM:<{ALICE}>"))
            .await
            .expect(250, "2.1.0");
        submission
            .cmd("RCPT TO:<rust-users@lists.remote.test>")
            .await
            .expect(250, "2.1.5");
        let post = format!(
            "From: {ALICE}\r\nTo: rust-users@lists.remote.test\r\nSubject: {subject}\r\n{id_header}\r\nHow do I...\r\n"
        );
        submission.data(&post).await.expect(250, "2.0.0");
    }
    // The Message-ID we gave the second, as it waits in the queue.
    let store = server.store();
    let mut added = None;
    for queued in store.queue_list().await.unwrap() {
        let content = String::from_utf8(store.message_content(&queued.blob).await.unwrap()).unwrap();
        if content.contains("Subject: follow-up") {
            added = content
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: <"))
                .map(|id| id.trim_end_matches('>').to_owned());
        }
    }
    let added = added.expect("a Message-ID added at submission");

    // A list message answering someone else's post: Promotions.
    send(&server, &list_reply("someone-else@other.test"))
        .await
        .expect(250, "2.0.0");
    assert_eq!(mailbox(&server, ALICE, "Promotions").await.len(), 1);
    assert!(inbox(&server, ALICE).await.is_empty());
    // Answers to Alice's posts: her conversations, so Primary.
    send(&server, &list_reply("post-1@example.com"))
        .await
        .expect(250, "2.0.0");
    send(&server, &list_reply(&added)).await.expect(250, "2.0.0");
    let primary = inbox(&server, ALICE).await;
    assert_eq!(primary.len(), 2);
    for message in &primary {
        assert!(message.contains("REPLY_TO_OWN_MAIL"), "{message}");
    }
    assert_eq!(mailbox(&server, ALICE, "Promotions").await.len(), 1);
}
