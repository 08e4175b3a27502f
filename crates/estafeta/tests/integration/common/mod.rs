#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// A refusal: non-zero exit and exactly one line saying why.
    pub fn refused(&self, reason: &str) {
        assert_ne!(self.code, 0, "expected a refusal, got success: {}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one-line reason expected, got: {:?}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        assert!(lines[0].contains(reason), "`{reason}` not in: {}", lines[0]);
    }

    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "command failed: {}", self.stderr);
        &self.stdout
    }
}

pub fn estafeta() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_estafeta"));
    command
        .env_remove("ESTAFETA_CONFIG")
        .env_remove("ESTAFETA_DATA_DIR")
        .env_remove("RUST_LOG");
    command
}

/// `estafeta --config DIR/estafeta.toml --data-dir DIR/data`, with `toml`
/// written to that file.
pub fn configured(dir: &Path, toml: &str) -> Command {
    let file = dir.join("estafeta.toml");
    std::fs::write(&file, toml).unwrap();
    let mut command = estafeta();
    command
        .arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.join("data"));
    command
}

pub fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = estafeta();
    command.arg("--data-dir").arg(dir).args(args);
    run(command, stdin)
}

pub fn run(mut command: Command, stdin: Option<&str>) -> Run {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run estafeta");
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            pipe.write_all(text.as_bytes()).unwrap();
        }
    }
    let Output { status, stdout, stderr } = child.wait_with_output().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

pub const ALL_EPHEMERAL: &str = "[listen]
smtp = \"127.0.0.1:0\"
submission = \"127.0.0.1:0\"
submissions = \"127.0.0.1:0\"
imap = \"127.0.0.1:0\"
imaps = \"127.0.0.1:0\"
pop3 = \"127.0.0.1:0\"
pop3s = \"127.0.0.1:0\"
http = \"127.0.0.1:0\"
";

pub fn spawn_serve(dir: &std::path::Path, toml: &str) -> Child {
    let mut command = configured(dir, toml);
    command
        .arg("serve")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command.spawn().unwrap()
}

/// Reads the log until the banner and returns it.
pub fn banner(child: &mut Child) -> (String, BufReader<std::process::ChildStderr>) {
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "server exited before its banner"
        );
        if line.contains("serving ") {
            return (line, stderr);
        }
    }
}

pub fn endpoint(banner: &str, service: &str) -> std::net::SocketAddr {
    let start = banner
        .find(&format!(" {service}="))
        .unwrap_or_else(|| panic!("{service} missing: {banner}"))
        + service.len()
        + 2;
    banner[start..].split_whitespace().next().unwrap().parse().unwrap()
}

pub fn wait_exit(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}
