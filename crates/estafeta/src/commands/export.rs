//! `estafeta account export ADDRESS --output DIR`: everything the store
//! keeps for one account, in formats other programs read (GDPR art. 20,
//! LGPD art. 18 V: portability):
//!
//! ```text
//! DIR/account.json                 the account, its aliases, identities, mailboxes
//!                                  (with each message's flags by UID), calendars,
//!                                  address books
//! DIR/mail/<mailbox>.mbox          each mailbox as mboxrd, in UID order
//! DIR/calendars/<calendar>/<name>  each calendar resource as stored (a "vdir")
//! DIR/contacts/<book>/<name>       each vCard as stored
//! DIR/files/<path>                 the WebDAV file space
//! ```
//!
//! The directory is made private (0700) and must be new or empty: it will
//! hold someone's mail.

use anyhow::{Context, bail};
use estafeta_core::model::{Flags, SystemFlags};
use estafeta_store::dav::DavKind;
use estafeta_store::{Account, Store};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What was written, for the command's one line of output.
#[derive(Debug, Default)]
pub struct Exported {
    pub messages: usize,
    pub mailboxes: usize,
    pub resources: usize,
    pub files: usize,
}

/// A path segment made safe to be a file name: `/`, NUL and a leading
/// dot are escaped as `%XX`, and so is `%` itself, so names stay apart.
fn segment(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        match c {
            '/' | '\0' | '%' | '\\' => out.push_str(&format!("%{:02X}", c as u32)),
            '.' if i == 0 => out.push_str("%2E"),
            c => out.push(c),
        }
    }
    if out.is_empty() { "%".into() } else { out }
}

/// A `/`-separated name as a relative path of safe segments.
fn relative(name: &str) -> PathBuf {
    name.split('/').map(segment).collect()
}

fn flag_names(flags: &Flags) -> Vec<String> {
    let mut names = Vec::new();
    for (bit, name) in [
        (SystemFlags::SEEN, "\\Seen"),
        (SystemFlags::ANSWERED, "\\Answered"),
        (SystemFlags::FLAGGED, "\\Flagged"),
        (SystemFlags::DELETED, "\\Deleted"),
        (SystemFlags::DRAFT, "\\Draft"),
    ] {
        if flags.system.contains(bit) {
            names.push(name.to_owned());
        }
    }
    names.extend(flags.keywords.iter().cloned());
    names
}

/// The mboxrd "From " line's date (asctime, UTC).
fn asctime(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|time| time.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_else(|| "Thu Jan  1 00:00:00 1970".into())
}

/// Appends one message as mboxrd: a "From " line, then the message with
/// LF line ends and every line matching `>*From ` given one more `>`.
fn mbox_append(out: &mut Vec<u8>, message: &[u8], internal_date: i64) {
    out.extend_from_slice(format!("From MAILER-DAEMON {}\n", asctime(internal_date)).as_bytes());
    for line in message.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let quoted = line.iter().position(|b| *b != b'>').map(|at| &line[at..]);
        if quoted.is_some_and(|rest| rest.starts_with(b"From ")) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    if !out.ends_with(b"\n\n") {
        out.push(b'\n');
    }
}

fn private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot make {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        private_dir(parent)?;
    }
    let mut file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

pub async fn export(store: &dyn Store, account: &Account, output: &Path) -> anyhow::Result<Exported> {
    if output.exists() && std::fs::read_dir(output)?.next().is_some() {
        bail!("{} is not empty: export into a new directory", output.display());
    }
    private_dir(output)?;
    let mut exported = Exported::default();

    let mut mailboxes = Vec::new();
    for mailbox in store.mailbox_list(account.id).await? {
        let messages = store.messages(mailbox.id).await?;
        let mut mbox = Vec::new();
        let mut flags = serde_json::Map::new();
        for message in &messages {
            let content = store
                .message_content(&message.blob)
                .await
                .with_context(|| format!("message {} of {}", message.uid, mailbox.name))?;
            mbox_append(&mut mbox, &content, message.internal_date);
            flags.insert(message.uid.to_string(), json!(flag_names(&message.flags)));
        }
        let mut path = output.join("mail").join(relative(&mailbox.name));
        path.as_mut_os_string().push(".mbox");
        write(&path, &mbox)?;
        exported.messages += messages.len();
        exported.mailboxes += 1;
        mailboxes.push(json!({
            "name": mailbox.name,
            "role": mailbox.role.map(|role| role.as_str()),
            "subscribed": mailbox.subscribed,
            "messages": messages.len(),
            "flags": flags,
        }));
    }

    let mut collections: Vec<Value> = Vec::new();
    for (kind, folder) in [(DavKind::Calendar, "calendars"), (DavKind::AddressBook, "contacts")] {
        for collection in store.dav_collections(account.id, kind).await? {
            let dir = output.join(folder).join(segment(&collection.name));
            private_dir(&dir)?;
            for object in store.dav_objects(collection.id).await? {
                write(&dir.join(segment(&object.name)), object.content.as_bytes())?;
                exported.resources += 1;
            }
            collections.push(json!({
                "kind": kind.as_str(),
                "name": collection.name,
                "display_name": collection.props.display_name,
                "description": collection.props.description,
                "color": collection.props.color,
                "components": collection.props.components,
                "properties": collection.props.dead,
            }));
        }
    }

    for entry in store.dav_file_tree(account.id, "").await? {
        let path = output.join("files").join(relative(&entry.path));
        if entry.collection {
            private_dir(&path)?;
        } else if let Some(file) = store.dav_file(account.id, &entry.path).await? {
            write(&path, &file.content)?;
            exported.files += 1;
        }
    }

    let aliases: Vec<String> = store
        .alias_list()
        .await?
        .into_iter()
        .filter(|alias| alias.target.eq_ignore_ascii_case(&account.address))
        .map(|alias| alias.address)
        .collect();
    let identities: Vec<serde_json::Value> = store
        .identities(account.id)
        .await?
        .into_iter()
        .map(|identity| {
            let addresses = |stored: &str| serde_json::from_str(stored).unwrap_or(serde_json::Value::Null);
            json!({
                "name": identity.name,
                "email": identity.email,
                "reply_to": addresses(&identity.reply_to),
                "bcc": addresses(&identity.bcc),
                "text_signature": identity.text_signature,
                "html_signature": identity.html_signature,
            })
        })
        .collect();
    let summary = json!({
        "address": account.address,
        "created_at": account.created_at,
        "aliases": aliases,
        "identities": identities,
        "mailboxes": mailboxes,
        "collections": collections,
    });
    write(
        &output.join("account.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(exported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_quotes_from_lines_and_keeps_the_rest() {
        let mut out = Vec::new();
        mbox_append(
            &mut out,
            b"Subject: x\r\n\r\nFrom here\r\n>From there\r\nFromage\r\n",
            0,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nSubject: x\n\n>From here\n>>From there\nFromage\n\n"
        );
    }

    #[test]
    fn names_become_file_names_that_stay_inside_and_apart() {
        assert_eq!(relative("Archive/2026"), PathBuf::from("Archive/2026"));
        assert_eq!(relative("../etc"), PathBuf::from("%2E./etc"));
        assert_eq!(segment(".."), "%2E.");
        assert_eq!(segment("a%2Fb"), "a%252Fb");
        assert_eq!(segment(""), "%");
    }
}
