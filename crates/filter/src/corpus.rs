//! Reading labelled mail for training: a file of one message, a directory
//! of such files, or an mbox (messages after `From ` lines, RFC 4155,
//! with mboxrd's `>From ` quoting undone).

use std::io;
use std::path::{Path, PathBuf};

/// Every message under `path`, in a stable order (file names sorted).
pub fn read(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let mut messages = Vec::new();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            messages.extend(read_file(&file)?);
        }
    } else {
        messages.extend(read_file(path)?);
    }
    Ok(messages)
}

fn read_file(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path)?;
    Ok(if data.starts_with(b"From ") {
        split_mbox(&data)
    } else {
        vec![data]
    })
}

/// RFC 4155: each message starts with a `From ` line, which is not part of it.
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            messages.extend(current.take());
            current = Some(Vec::new());
            continue;
        }
        let Some(message) = current.as_mut() else { continue };
        // mboxrd: ">From " (with any number of '>') lost one '>' when written.
        let quoted = line.iter().take_while(|&&b| b == b'>').count();
        if quoted > 0 && line[quoted..].starts_with(b"From ") {
            message.extend_from_slice(&line[1..]);
        } else {
            message.extend_from_slice(line);
        }
    }
    messages.extend(current);
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mbox_splits_into_its_messages() {
        let mbox = b"From a@x Thu Nov 26 10:00:00 2026\nSubject: one\n\n>From the start\n>>From deeper\n\nFrom b@x Thu Nov 26 10:00:01 2026\nSubject: two\n\nbody\n";
        let messages = split_mbox(mbox);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], b"Subject: one\n\nFrom the start\n>From deeper\n\n");
        assert_eq!(messages[1], b"Subject: two\n\nbody\n");
    }

    #[test]
    fn directories_are_read_in_name_order() {
        let dir = std::env::temp_dir().join(format!("estafeta-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b"), b"Subject: b\n\nb\n").unwrap();
        std::fs::write(dir.join("a"), b"Subject: a\n\na\n").unwrap();
        std::fs::write(dir.join("c.mbox"), b"From x\nSubject: c1\n\n\nFrom y\nSubject: c2\n\n").unwrap();
        let messages = read(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let subjects: Vec<String> = messages
            .iter()
            .map(|m| String::from_utf8_lossy(&m[9..11]).trim().to_owned())
            .collect();
        assert_eq!(subjects, ["a", "b", "c1", "c2"]);
    }
}
