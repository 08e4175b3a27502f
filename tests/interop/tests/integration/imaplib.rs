//! Python's imaplib, every command it has, against the IMAP listeners:
//! what Estafeta offers must work, what it does not must fail cleanly
//! (a NO or BAD, the session going on).

use estafeta_core::config::Service;
use estafeta_interop::{require, run, text};
use estafeta_testkit::TestServer;
use std::process::Command;

const SCRIPT: &str = r#"
import imaplib, ssl, sys, time
port, tls_port, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=cafile)
USER, PASSWORD = "alice@example.test", "correct horse"

def ok(result, what):
    typ, data = result
    assert typ == "OK", (what, typ, data)
    return data

def refused(call, what):
    try:
        typ, data = call()
    except imaplib.IMAP4.error as error:
        return str(error)
    assert typ != "OK", (what, "should have failed")
    return typ

# Plain port: STARTTLS first; LOGIN before it is refused.
m = imaplib.IMAP4("localhost", port)
assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities, m.capabilities
refused(lambda: m.login(USER, PASSWORD), "login before TLS")
ok(m.starttls(ssl_context=context), "starttls")
ok(m.login(USER, PASSWORD), "login")
m.logout()

# Implicit TLS, AUTHENTICATE PLAIN.
m = imaplib.IMAP4_SSL("localhost", tls_port, ssl_context=context)
ok(m.authenticate("PLAIN", lambda _: b"\0" + USER.encode() + b"\0" + PASSWORD.encode()), "authenticate")
refused(lambda: m.login_cram_md5(USER, PASSWORD), "CRAM-MD5 (not offered)")
ok(m.capability(), "capability")
ok(m.noop(), "noop")
ok(m.enable("CONDSTORE"), "enable")
ok(m.namespace(), "namespace")
ok(m.create("Projects/Alpha"), "create")
names = b" ".join(ok(m.list(), "list"))
assert b'"Projects/Alpha"' in names and b"\\Sent" in names, names
ok(m.subscribe("Projects/Alpha"), "subscribe")
assert any(b"Projects/Alpha" in l for l in ok(m.lsub(), "lsub"))
ok(m.unsubscribe("Projects/Alpha"), "unsubscribe")
ok(m.rename("Projects/Alpha", "Projects/Beta"), "rename")
for i in range(3):
    msg = ("From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: note %d\r\n"
           "Message-ID: <n%d@remote.test>\r\nDate: Thu, 26 Nov 2026 0%d:00:00 +0000\r\n\r\nLine %d, café.\r\n" % (i, i, i, i))
    data = ok(m.append("INBOX", "(\\Seen)" if i == 0 else None, imaplib.Time2Internaldate(time.time()), msg.encode()), "append")
    assert b"APPENDUID" in data[0], data
status = ok(m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)"), "status")[0]
assert b"MESSAGES 3" in status and b"UNSEEN 2" in status, status
assert ok(m.select("INBOX"), "select") == [b"3"]
ok(m.check(), "check")
fetched = ok(m.fetch("1:3", "(UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)"), "fetch")
assert len(fetched) == 3 and b"note 0" in fetched[0], fetched
body = ok(m.fetch("2", "(BODY.PEEK[TEXT])"), "fetch body")[0][1]
assert body == "Line 1, café.\r\n".encode(), body
assert ok(m.search(None, "UNSEEN"), "search") == [b"2 3"]
assert ok(m.search("UTF-8", "BODY", '"café"'.encode()), "search charset") == [b"1 2 3"]
assert ok(m.sort("(REVERSE DATE)", "UTF-8", "ALL"), "sort") == [b"3 2 1"]
assert ok(m.thread("REFERENCES", "UTF-8", "ALL"), "thread") == [b"(1)(2)(3)"]
stored = ok(m.store("1", "+FLAGS", "(\\Flagged)"), "store")
assert b"\\Flagged" in stored[0], stored
ok(m.copy("1:2", "Projects/Beta"), "copy")
uids = ok(m.uid("SEARCH", None, "ALL"), "uid search")[0].split()
ok(m.uid("FETCH", uids[0], "(FLAGS)"), "uid fetch")
ok(m.uid("STORE", uids[1], "+FLAGS", "(\\Deleted)"), "uid store")
ok(m.uid("COPY", uids[2], "Archive"), "uid copy")
ok(m.uid("MOVE", uids[2], "Trash"), "uid move")
ok(m.expunge(), "expunge")
assert ok(m.search(None, "ALL"), "search after expunge") == [b"1"]
assert ok(m.getquotaroot("INBOX"), "getquotaroot")
refused(lambda: m.getquota(""), "getquota without quota")
refused(lambda: m.setquota("", "(STORAGE 10)"), "setquota")
refused(lambda: m.getacl("INBOX"), "getacl")
refused(lambda: m.setacl("INBOX", "bob", "lr"), "setacl")
refused(lambda: m.deleteacl("INBOX", "bob"), "deleteacl")
refused(lambda: m.myrights("INBOX"), "myrights")
refused(lambda: m.getannotation("INBOX", "/comment", "value.priv"), "getannotation")
refused(lambda: m.proxyauth("bob"), "proxyauth")
refused(lambda: m.xatom("XFOO"), "xatom")
ok(m.noop(), "still usable after refusals")
ok(m.unselect(), "unselect")
ok(m.select("Projects/Beta", readonly=True), "examine")
refused(lambda: m.store("1", "+FLAGS", "(\\Seen)"), "store read-only")
ok(m.close(), "close")
ok(m.delete("Projects/Beta"), "delete")
print("imaplib: all done")
m.logout()
"#;

#[tokio::test]
async fn imaplib_every_command() {
    if !require("python3") {
        return;
    }
    let server = TestServer::start().await;
    server.add_account("alice@example.test", "correct horse").await;
    let cert = server.server().shared.tls.cert_path.clone();
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg(server.addr(Service::Imap).port().to_string())
        .arg(server.addr(Service::Imaps).port().to_string())
        .arg(cert);
    let output = run(command).await;
    assert!(output.status.success(), "python failed:\n{}", text(&output));
    assert!(text(&output).contains("imaplib: all done"), "{}", text(&output));
}
