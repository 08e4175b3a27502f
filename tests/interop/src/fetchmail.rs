//! Runs fetchmail once against a test server, delivering what it fetches
//! into an mbox file, with its rc and UIDL state in a private directory.

use crate::{run, text};
use std::path::Path;
use std::process::Command;

pub struct Poll<'a> {
    pub port: u16,
    /// `IMAP`, or `POP3` with options such as `uidl`.
    pub protocol: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    /// TLS and retrieval options: `ssl no sslcertck keep fetchall`...
    pub options: &'a str,
}

/// One verbose fetchmail run; panics if it fails. Its log.
pub async fn fetch(dir: &Path, mbox: &Path, poll: Poll<'_>) -> String {
    let rc = dir.join("fetchmailrc");
    let local_user = String::from_utf8(run(Command::new("whoami")).await.stdout).unwrap();
    std::fs::write(
        &rc,
        format!(
            "poll 127.0.0.1 service {port} protocol {protocol} auth password\n  user \"{user}\" password \"{password}\" is \"{local}\" here\n  {options}\n  mda \"/bin/sh -c 'cat >> {mbox}'\"\n",
            port = poll.port,
            protocol = poll.protocol,
            user = poll.user,
            password = poll.password,
            local = local_user.trim(),
            options = poll.options,
            mbox = mbox.display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    // fetchmail refuses an rc others can read.
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut command = Command::new("fetchmail");
    command
        .arg("-f")
        .arg(&rc)
        .arg("--nodetach")
        .arg("--nosyslog")
        .arg("-v")
        .env("FETCHMAILHOME", dir);
    let output = run(command).await;
    assert!(output.status.success(), "fetchmail failed:\n{}", text(&output));
    text(&output)
}
