//! What a power loss keeps. SIGKILL cannot test it (the page cache
//! survives a killed process), so the server runs under strace and the
//! order of its system calls is checked instead: by the time the `250`
//! that acknowledges a message is written, every file the transaction
//! wrote has been fsynced after its last write (the WAL; and for a large
//! message its blob file), and every blob renamed into place has had its
//! directory fsynced. A missing fsync, or SQLite's
//! `synchronous=NORMAL` (WAL without a sync at commit), fails this test.

use crate::common::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One system call as strace logged it, entry and exit joined.
#[derive(Debug)]
struct Call {
    name: String,
    /// The arguments as strace printed them (paths of fds with `-y`).
    args: String,
}

/// Parses `strace -f -y` output: `PID name(args) = ret`, or a call split
/// into `name(args <unfinished ...>` and `<... name resumed>rest) = ret`
/// by other threads' calls between. Each call is placed where it began,
/// since that is when its effect can first be seen.
fn parse(log: &str) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    let mut open: HashMap<&str, usize> = HashMap::new();
    for line in log.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(resumed) = rest.strip_prefix("<... ") {
            if let (Some(at), Some((_, tail))) = (open.remove(pid), resumed.split_once(" resumed>")) {
                calls[at].args.push_str(tail);
            }
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else {
            continue;
        };
        if let Some(head) = args.strip_suffix(" <unfinished ...>") {
            open.insert(pid, calls.len());
            calls.push(Call {
                name: name.to_owned(),
                args: head.to_owned(),
            });
        } else {
            calls.push(Call {
                name: name.to_owned(),
                args: args.to_owned(),
            });
        }
    }
    calls
}

/// The path strace's `-y` shows for a call's first argument, `5</x/y>`.
fn fd_path(call: &Call) -> Option<&str> {
    let start = call.args.find('<')? + 1;
    let end = start + call.args[start..].find('>')?;
    let path = &call.args[start..end];
    path.starts_with('/').then_some(path)
}

/// The second quoted path of a rename/renameat/renameat2.
fn rename_target(call: &Call) -> Option<&str> {
    let quoted: Vec<&str> = call.args.split('"').collect();
    // rename("a", "b"): a at 1, b at 3; renameat(fd, "a", fd, "b", ...) alike.
    quoted.get(3).copied()
}

fn is_write(call: &Call) -> bool {
    matches!(
        call.name.as_str(),
        "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2"
    )
}

fn is_sync(call: &Call) -> bool {
    matches!(call.name.as_str(), "fsync" | "fdatasync")
}

fn is_send(call: &Call, text: &str) -> bool {
    matches!(call.name.as_str(), "write" | "sendto" | "sendmsg" | "writev") && call.args.contains(text)
}

/// What is not durable by the time of the reply at `reply`, for the
/// transaction whose data began at `start`.
fn unsynced(calls: &[Call], start: usize, reply: usize) -> Vec<String> {
    let window = &calls[start..reply];
    let mut problems = Vec::new();
    let mut last_write: HashMap<&str, usize> = HashMap::new();
    for (i, call) in window.iter().enumerate() {
        if let Some(path) = fd_path(call).filter(|_| is_write(call)) {
            // The shared-memory index of the WAL is rebuilt on open.
            if !path.ends_with("-shm") {
                last_write.insert(path, i);
            }
        }
    }
    for (path, written) in &last_write {
        let synced = window[*written..]
            .iter()
            .any(|call| is_sync(call) && fd_path(call) == Some(path));
        if !synced {
            problems.push(format!("{path} written but not fsynced before the 250"));
        }
    }
    for (i, call) in window.iter().enumerate() {
        if !call.name.starts_with("rename") {
            continue;
        }
        let Some(target) = rename_target(call) else {
            continue;
        };
        let dir = target.rsplit_once('/').map_or("", |(dir, _)| dir);
        let synced = window[i..]
            .iter()
            .any(|call| is_sync(call) && fd_path(call) == Some(dir));
        if !synced {
            problems.push(format!(
                "{target} renamed into place but {dir} not fsynced before the 250"
            ));
        }
    }
    problems
}

fn strace_available() -> bool {
    let found = Command::new("strace")
        .args(["-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        estafeta_testkit::skip("strace is not installed or cannot trace here (apt-get install strace)");
    }
    found
}

/// `estafeta serve` under strace, logging the calls that make or break
/// durability to `log`.
fn serve_traced(dir: &std::path::Path, log: &std::path::Path) -> Child {
    let server = configured(dir, ALL_EPHEMERAL);
    let mut command = Command::new("strace");
    command
        .args(["-f", "-qq", "-y", "-s", "128", "-o"])
        .arg(log)
        .args([
            "-e",
            "trace=write,pwrite64,writev,pwritev,pwritev2,sendto,sendmsg,fsync,fdatasync,rename,renameat,renameat2",
            "--",
        ])
        .arg(server.get_program())
        .args(server.get_args())
        .arg("serve")
        .env_remove("ESTAFETA_CONFIG")
        .env_remove("ESTAFETA_DATA_DIR")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command.spawn().expect("start strace")
}

/// One SMTP transaction to `to`, returning the reply to the data.
fn send(addr: std::net::SocketAddr, to: &str, body: &str) -> String {
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let reply = |reader: &mut BufReader<std::net::TcpStream>| {
        let mut whole = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            whole.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return whole;
            }
        }
    };
    reply(&mut reader);
    for command in [
        "EHLO client.test",
        "MAIL FROM:<s@remote.test>",
        &format!("RCPT TO:<{to}>"),
        "DATA",
    ] {
        writer.write_all(format!("{command}\r\n").as_bytes()).unwrap();
        reply(&mut reader);
    }
    writer
        .write_all(format!("Subject: durable\r\n\r\n{body}\r\n.\r\n").as_bytes())
        .unwrap();
    let answer = reply(&mut reader);
    writer.write_all(b"QUIT\r\n").unwrap();
    answer
}

#[test]
fn every_write_of_an_acknowledged_message_is_fsynced_before_the_250() {
    if !strace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_in(&data, &["domain", "add", "example.test"], None).ok();
    run_in(
        &data,
        &["account", "add", "ann@example.test", "--password-stdin"],
        Some("pw\n"),
    )
    .ok();
    let log = dir.path().join("strace.log");
    let mut child = serve_traced(dir.path(), &log);
    let (banner, _stderr) = banner(&mut child);
    let smtp = endpoint(&banner, "smtp");
    let mut replies = Vec::new();
    // Small messages are kept in the database (the WAL), large ones in
    // blob files: two of each, the first of which makes the blob directory
    // and the second finds it.
    let line = format!("{}\r\n", "x".repeat(76));
    let bodies = [
        format!("message 0: {line}"),
        format!("message 1: {line}"),
        format!("message 2: {}", line.repeat(1_500)),
        format!("message 3: {}", line.repeat(1_500)),
    ];
    for body in &bodies {
        let reply = send(smtp, "ann@example.test", body);
        assert!(reply.starts_with("250 "), "{reply}");
        replies.push(reply);
    }
    let server =
        std::fs::read_to_string(format!("/proc/{}/task/{}/children", child.id(), child.id())).unwrap_or_default();
    for pid in server.split_whitespace() {
        unsafe { libc::kill(pid.parse().unwrap(), libc::SIGTERM) };
    }
    assert_eq!(wait_exit(&mut child), 0, "the server stopped cleanly");
    let calls = parse(&std::fs::read_to_string(&log).unwrap());
    let mut checked = 0;
    let mut from = 0;
    for reply in &replies {
        let text = reply.trim_end();
        let start = from
            + calls[from..]
                .iter()
                .position(|call| is_send(call, "354 "))
                .expect("the 354 in the trace");
        let at = start
            + calls[start..]
                .iter()
                .position(|call| is_send(call, text))
                .unwrap_or_else(|| panic!("`{text}` not in the trace"));
        let problems = unsynced(&calls, start, at);
        assert!(problems.is_empty(), "{text}: {problems:#?}");
        let written: Vec<&str> = calls[start..at]
            .iter()
            .filter(|call| is_write(call))
            .filter_map(fd_path)
            .collect();
        assert!(
            written.iter().any(|path| path.ends_with("-wal")),
            "{text}: the WAL was written in the window: {written:?}"
        );
        let large = checked >= 2;
        assert_eq!(
            written.iter().any(|path| path.contains("/blobs/")),
            large,
            "{text}: only a large message has a blob file: {written:?}"
        );
        checked += 1;
        from = at;
    }
    assert_eq!(checked, 4);
}

#[test]
fn the_checker_finds_a_write_left_unsynced() {
    // The rule itself, on a hand-written trace: a WAL write with no sync,
    // and a rename whose directory was never synced.
    let log = "\
10 write(5<socket:[1]>, \"354 Start mail input\\r\\n\", 20) = 20
11 pwrite64(7</d/estafeta.db-wal>, \"...\", 4096, 0 <unfinished ...>
12 write(9</d/blobs/tmp/1.0.ab>, \"Subject\", 7) = 7
11 <... pwrite64 resumed>) = 4096
12 fsync(9</d/blobs/tmp/1.0.ab>) = 0
12 rename(\"/d/blobs/tmp/1.0.ab\", \"/d/blobs/ab/abcd\") = 0
10 write(5<socket:[1]>, \"250 2.0.0 Message accepted\\r\\n\", 28) = 28
";
    let calls = parse(log);
    let reply = calls.iter().position(|c| is_send(c, "250 2.0.0")).unwrap();
    let problems = unsynced(&calls, 0, reply);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("estafeta.db-wal")));
    assert!(problems.iter().any(|p| p.contains("/d/blobs/ab not fsynced")));
}
