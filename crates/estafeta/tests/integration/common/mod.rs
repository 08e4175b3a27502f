#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

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
