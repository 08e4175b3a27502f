//! Support for interop tests: finding the real clients, and running a
//! private Postfix instance on loopback as a peer MTA.
//!
//! A tool that is missing fails the test under CI (which installs every
//! one of them) and is skipped with a message elsewhere, so the README's
//! test command still works on a machine without them.

pub mod fetchmail;
pub mod postfix;

use std::path::Path;
use std::process::{Command, Output};

/// Whether `tool` is on this machine; panics under CI if it is not.
pub fn require(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        estafeta_testkit::skip(&format!("{tool} is not installed (apt-get install it, or run .ci/run)"));
    }
    found
}

/// Whether Python has `module`; under CI (which pip-installs them) a
/// missing one fails the test.
pub fn require_python(module: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        estafeta_testkit::skip(&format!(
            "Python's {module} is not installed (pip install it, or run .ci/run)"
        ));
    }
    found
}

/// Runs a command off the async runtime and returns its output.
pub async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run command"))
        .await
        .unwrap()
}

/// Output as text, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Makes `dir` traversable by other users (the postfix user).
pub fn open_up(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
