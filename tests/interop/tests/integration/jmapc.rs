//! Python's jmapc (a JMAP client library) against the http listener: mail
//! that arrived over SMTP is found, read and flagged through JMAP, the
//! change is seen by Email/changes, and an IMAP client sees the flags.

use estafeta_core::config::Service;
use estafeta_interop::{require_python, run, text};
use estafeta_testkit::TestServer;
use estafeta_testkit::imap::ImapProbe;
use estafeta_testkit::smtp::smtp_deliver;
use std::process::Command;

const SCRIPT: &str = r#"
import sys
from jmapc import Client, Comparator, EmailQueryFilterCondition, Ref
from jmapc.methods import EmailChanges, EmailGet, EmailQuery, EmailSet, MailboxGet, MailboxQuery
from jmapc.session import Session

host, user, password = sys.argv[1:4]
client = Client.create_with_password(host, user, password)
# The http listener speaks plain HTTP (TLS comes from a proxy in front of
# it, or it is loopback as here); jmapc asks https:// for the session
# resource, so the session is read over http and handed to it.
reply = client.requests_session.get(f"http://{host}/.well-known/jmap")
reply.raise_for_status()
client.__dict__["jmap_session"] = Session.from_dict(reply.json())

results = client.request([
    EmailQuery(filter=EmailQueryFilterCondition(mail_from="carla"),
               sort=[Comparator(property="receivedAt", is_ascending=False)]),
    EmailGet(ids=Ref("/ids"),
             properties=["id", "subject", "from", "keywords", "mailboxIds", "preview", "receivedAt"]),
])
query, got = results[0].response, results[1].response
assert len(query.ids) == 1, query
email = got.data[0]
assert email.subject == "Lunch on Friday", email
assert email.mail_from[0].email == "carla@remote.test", email.mail_from
assert email.preview == "Shall we meet at noon?", email.preview
assert not email.keywords, email.keywords
assert email.received_at is not None

mailboxes = client.request([MailboxQuery(), MailboxGet(ids=Ref("/ids"))])[1].response.data
names = {m.id: m.name for m in mailboxes}
assert "Inbox" in names.values() or "INBOX" in names.values(), names
where = [names[m] for m in email.mailbox_ids]

flagged = client.request(EmailSet(update={email.id: {"keywords/$seen": True, "keywords/$flagged": True}}))
assert email.id in flagged.updated, flagged
changes = client.request(EmailChanges(since_state=got.state))
assert changes.updated == [email.id] and not changes.created and not changes.destroyed, changes
print("jmapc: all done in", where[0])
"#;

#[tokio::test]
async fn jmapc_reads_and_flags_mail_that_came_over_smtp() {
    if !require_python("jmapc") {
        return;
    }
    let server = TestServer::start().await;
    server.add_account("ann@example.com", "ann's password").await;
    let message = "From: Carla Dias <carla@remote.test>\r\nTo: ann@example.com\r\nSubject: Lunch on Friday\r\n\
Message-ID: <lunch@remote.test>\r\nDate: Mon, 7 Dec 2026 09:00:00 -0300\r\n\r\nShall we meet at noon?\r\n";
    smtp_deliver(&server, "carla@remote.test", "ann@example.com", message).await;

    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg(server.addr(Service::Http).to_string())
        .arg("ann@example.com")
        .arg("ann's password");
    let output = run(command).await;
    let said = text(&output);
    assert!(output.status.success(), "python failed:\n{said}");
    let mailbox = said
        .lines()
        .find_map(|l| l.strip_prefix("jmapc: all done in "))
        .unwrap_or_else(|| panic!("{said}"))
        .to_owned();

    // IMAP sees what jmapc set.
    let mut imap = ImapProbe::login(&server, "ann@example.com", "ann's password").await;
    imap.command(&format!("SELECT \"{mailbox}\"")).await;
    let flags = imap.command("FETCH 1 (FLAGS)").await;
    assert!(
        flags[0].contains("\\Seen") && flags[0].contains("\\Flagged"),
        "{flags:?}"
    );
}
