//! Python's poplib, every command it has, against the POP3 listeners, with
//! imaplib checking what a POP3 QUIT left behind.

use estafeta_core::config::Service;
use estafeta_interop::{require, run, text};
use estafeta_store::DeliveryTarget;
use estafeta_testkit::TestServer;
use std::process::Command;

const SCRIPT: &str = r#"
import imaplib, poplib, ssl, sys
port, tls_port, imaps_port, cafile = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
context = ssl.create_default_context(cafile=cafile)
USER, PASSWORD = "alice@example.test", "correct horse"

def refused(call, what):
    try:
        reply = call()
    except poplib.error_proto as error:
        return str(error)
    raise AssertionError((what, "should have failed", reply))

# Plain port: STLS first; USER before it is refused with [AUTH].
p = poplib.POP3("localhost", port)
assert p.getwelcome().startswith(b"+OK"), p.getwelcome()
caps = p.capa()
assert "STLS" in caps and "USER" not in caps, caps
assert "[AUTH]" in refused(lambda: p.user(USER), "user before TLS")
p.stls(context=context)
caps = p.capa()
for tag in ("TOP", "UIDL", "USER", "SASL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE", "LOGIN-DELAY", "IMPLEMENTATION", "UTF8"):
    assert tag in caps, (tag, caps)
assert caps["SASL"] == ["PLAIN", "LOGIN"], caps
assert "STLS" not in caps, caps
p.utf8()
p.user(USER)
p.pass_(PASSWORD)
count, size = p.stat()
assert count == 3, (count, size)
reply, listing, _ = p.list()
sizes = [int(line.split()[1]) for line in listing]
assert sum(sizes) == size, (sizes, size)
assert p.list(2).split()[2] == str(sizes[1]).encode()
reply, uidls, _ = p.uidl()
assert len(set(line.split()[1] for line in uidls)) == 3, uidls
assert p.uidl(1).split()[2] == uidls[0].split()[1]
reply, lines, octets = p.retr(1)
assert b".leading dot" in lines and b"." in lines, lines
assert octets == sizes[0], (octets, sizes[0])
reply, lines, _ = p.top(2, 0)
assert lines[-1] == b"" and any(l.startswith(b"Subject: message 1") for l in lines), lines
p.dele(3)
assert "already deleted" in refused(lambda: p.retr(3), "retr deleted")
assert "No message" in refused(lambda: p.dele(9), "dele absent")
p.rset()
p.dele(2)
p.noop()
refused(lambda: p.apop(USER, PASSWORD), "apop")
refused(lambda: p.rpop(USER), "rpop")
assert b"1 messages deleted" in p.quit()

# A second session on the same maildrop is refused while one is open.
a = poplib.POP3_SSL("localhost", tls_port, context=context)
a.user(USER); a.pass_(PASSWORD)
b = poplib.POP3_SSL("localhost", tls_port, context=context)
b.user(USER)
assert "[IN-USE]" in refused(lambda: b.pass_(PASSWORD), "second session")
a.quit()
b.user(USER); b.pass_(PASSWORD)
assert b.stat()[0] == 2
b.quit()

# IMAP sees the result: message 2 gone, message 1 retrieved so \Seen.
m = imaplib.IMAP4_SSL("localhost", imaps_port, ssl_context=context)
m.login(USER, PASSWORD)
typ, data = m.select("INBOX")
assert data == [b"2"], data
typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
flat = b" ".join(part if isinstance(part, bytes) else b" ".join(part) for part in data)
assert b"message 0" in flat and b"message 2" in flat and b"message 1" not in flat, flat
assert flat.count(b"\\Seen") == 1, flat
m.logout()
print("poplib: all done")
"#;

#[tokio::test]
async fn poplib_every_command_and_imap_sees_the_result() {
    if !require("python3") {
        return;
    }
    let server = TestServer::start().await;
    let account = server.add_account("alice@example.test", "correct horse").await;
    let store = server.store();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    for i in 0..3 {
        let message = format!(
            "From: bob@remote.test\r\nTo: alice@example.test\r\nSubject: message {i}\r\n\r\nbody\r\n.leading dot\r\n.\r\n"
        );
        let target = DeliveryTarget {
            mailbox: inbox.id,
            flags: Default::default(),
        };
        store
            .deliver(message.as_bytes(), 1_764_000_000 + i, &[target])
            .await
            .unwrap();
    }
    let cert = server.server().shared.tls.cert_path.clone();
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg(server.addr(Service::Pop3).port().to_string())
        .arg(server.addr(Service::Pop3s).port().to_string())
        .arg(server.addr(Service::Imaps).port().to_string())
        .arg(cert);
    let output = run(command).await;
    assert!(output.status.success(), "python failed:\n{}", text(&output));
    assert!(text(&output).contains("poplib: all done"), "{}", text(&output));
}
