//! Running an Estafeta binary for a benchmark: its CLI, its server.

use crate::arg;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub fn estafeta_binary() -> PathBuf {
    let given: String = arg("--estafeta", String::new());
    if !given.is_empty() {
        return PathBuf::from(given);
    }
    // Next to this binary: target/<profile>/estafeta.
    std::env::current_exe().unwrap().with_file_name("estafeta")
}

pub fn estafeta(binary: &Path, config: &Path, args: &[&str]) -> String {
    let output = Command::new(binary)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run estafeta");
    assert!(
        output.status.success(),
        "estafeta {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `estafeta account add USER --password-stdin`, as an operator would.
pub fn add_account(binary: &Path, config: &Path, user: &str, password: &str) {
    let mut add = Command::new(binary)
        .arg("--config")
        .arg(config)
        .args(["account", "add", user, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run estafeta account add");
    let mut stdin = add.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, format!("{password}\n").as_bytes()).expect("write the password");
    drop(stdin);
    assert!(
        add.wait().expect("account add").success(),
        "estafeta account add {user} failed"
    );
}

/// An installation in `dir` listening for IMAP and HTTP on free loopback
/// ports (plaintext allowed: a bench measures the protocol, not TLS), with
/// the domain `bench.test` and one account.
pub struct Install {
    pub config: PathBuf,
    pub imap_port: u16,
    pub http_port: u16,
}

pub fn install_with_http(binary: &Path, dir: &Path, user: &str, password: &str) -> Install {
    let (imap_port, http_port) = (estafeta_interop::free_port(), estafeta_interop::free_port());
    let config = dir.join("estafeta.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nhostname = \"mx.bench.test\"\n[listen]\nimap = \"127.0.0.1:{imap_port}\"\n\
http = \"127.0.0.1:{http_port}\"\n[auth]\nallow_plaintext = true\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    estafeta(binary, &config, &["domain", "add", "bench.test"]);
    add_account(binary, &config, user, password);
    Install {
        config,
        imap_port,
        http_port,
    }
}

/// A server process, stopped gracefully (SIGTERM) when dropped.
pub struct Server(pub Child);

impl Server {
    /// `estafeta --config CONFIG serve`, once it listens on `port`.
    pub fn start(binary: &Path, config: &Path, port: u16) -> Server {
        let child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start estafeta serve");
        let server = Server(child);
        wait_port(port);
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM: the server's own graceful stop.
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}
