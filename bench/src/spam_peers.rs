//! SpamAssassin and Rspamd as the spam filter's peers, each run from a
//! private config on loopback (no network tests), trained on the same
//! messages and asked about the same ones. Either is skipped, with a
//! note, when it is not installed.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Daemons drop to their own user only when started as root.
fn root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `command` on each chunk of `files` (at most `per_run` a run).
fn in_chunks(files: &[PathBuf], per_run: usize, mut command: impl FnMut() -> Command) -> String {
    let mut out = String::new();
    for chunk in files.chunks(per_run.max(1)) {
        let output = command().args(chunk).stderr(Stdio::null()).output().expect("run");
        out.push_str(&String::from_utf8_lossy(&output.stdout));
    }
    out
}

/// Kills its processes when dropped.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A peer that learns and classifies files.
pub trait Peer {
    fn name(&self) -> &'static str;
    /// Whether each file is spam, in order.
    fn classify(&mut self, files: &[PathBuf]) -> Vec<bool>;
}

pub struct SpamAssassin {
    _dir: tempfile::TempDir,
    port: u16,
    _children: Children,
}

impl SpamAssassin {
    /// Trains a fresh Bayes database with `sa-learn` and starts `spamd`.
    pub fn start(spam: &[PathBuf], ham: &[PathBuf]) -> Option<SpamAssassin> {
        if !(installed("sa-learn") && installed("spamd") && installed("spamc")) {
            eprintln!("spam-eval: SpamAssassin not installed (apt-get install spamassassin spamc); skipped");
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(&conf).ok()?;
        // The plugin loads (Bayes among them) live in the .pre files.
        for entry in std::fs::read_dir("/etc/spamassassin").ok()?.flatten() {
            if entry.path().extension().is_some_and(|e| e == "pre") {
                std::fs::copy(entry.path(), conf.join(entry.file_name())).ok()?;
            }
        }
        let bayes = dir.path().join("bayes");
        std::fs::create_dir_all(&bayes).ok()?;
        let mut local = std::fs::File::create(conf.join("local.cf")).ok()?;
        writeln!(
            local,
            "use_bayes 1\nbayes_auto_learn 0\nbayes_path {}/bayes\nbayes_file_mode 0777\nskip_rbl_checks 1",
            bayes.display()
        )
        .ok()?;
        let open = |path: &Path| Command::new("chmod").args(["-R", "a+rwX"]).arg(path).status();
        let _ = open(dir.path());
        let learn = |kind: &str, files: &[PathBuf]| {
            in_chunks(files, 500, || {
                let mut command = Command::new("sa-learn");
                command.args(["-L", "--siteconfigpath"]).arg(&conf).arg(kind);
                command
            })
        };
        learn("--spam", spam);
        learn("--ham", ham);
        let _ = open(dir.path());
        let port = free_port();
        let mut spamd = Command::new("spamd");
        spamd.args(["-L", "-i", "127.0.0.1", "-A", "127.0.0.1", "-m", "4"]);
        if root() {
            spamd.args(["-u", "nobody"]);
        }
        let spamd = spamd
            .arg("--siteconfigpath")
            .arg(&conf)
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let children = Children(vec![spamd]);
        wait_for(port, "spamd");
        Some(SpamAssassin {
            _dir: dir,
            port,
            _children: children,
        })
    }
}

impl Peer for SpamAssassin {
    fn name(&self) -> &'static str {
        "spamassassin"
    }

    fn classify(&mut self, files: &[PathBuf]) -> Vec<bool> {
        // Two clients at once, as many as this machine has cores.
        let port = self.port;
        let half = files.len().div_ceil(2);
        std::thread::scope(|scope| {
            let workers: Vec<_> = files
                .chunks(half.max(1))
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|file| {
                                // spamc -c: exit 1 when spam, 0 when not.
                                let input = std::fs::File::open(file).expect("message");
                                let status = Command::new("spamc")
                                    .args(["-p", &port.to_string(), "-c"])
                                    .stdin(input)
                                    .stdout(Stdio::null())
                                    .status()
                                    .expect("spamc");
                                status.code() == Some(1)
                            })
                            .collect::<Vec<bool>>()
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
        })
    }
}

pub struct Rspamd {
    _dir: tempfile::TempDir,
    normal: u16,
    _children: Children,
}

impl Rspamd {
    /// Starts Redis (Rspamd's Bayes store), a DNS server refusing every
    /// query (offline) and Rspamd, then trains it with `rspamc learn_*`.
    pub fn start(spam: &[PathBuf], ham: &[PathBuf]) -> Option<Rspamd> {
        if !(installed("rspamd") && installed("rspamc") && installed("redis-server") && installed("dnsmasq")) {
            eprintln!("spam-eval: Rspamd not installed (apt-get install rspamd redis-server dnsmasq-base); skipped");
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let root = dir.path();
        for sub in ["local.d", "override.d", "db", "run", "log"] {
            std::fs::create_dir_all(root.join(sub)).ok()?;
        }
        let (redis, dns, normal, controller, proxy) = (free_port(), free_port(), free_port(), free_port(), free_port());
        let write = |path: &str, text: String| std::fs::write(root.join(path), text);
        write(
            "local.d/options.inc",
            format!("dns {{ nameserver = [\"127.0.0.1:{dns}\"]; timeout = 0.5s; retransmits = 1; }}\n"),
        )
        .ok()?;
        write("local.d/redis.conf", format!("servers = \"127.0.0.1:{redis}\";\n")).ok()?;
        write("local.d/fuzzy_check.conf", "enabled = false;\n".into()).ok()?;
        write(
            "local.d/logging.inc",
            format!(
                "type = \"file\"; filename = \"{}/log/rspamd.log\"; level = \"error\";\n",
                root.display()
            ),
        )
        .ok()?;
        write(
            "override.d/worker-normal.inc",
            format!("bind_socket = \"127.0.0.1:{normal}\";\n"),
        )
        .ok()?;
        write(
            "override.d/worker-controller.inc",
            format!("bind_socket = \"127.0.0.1:{controller}\";\n"),
        )
        .ok()?;
        write(
            "override.d/worker-proxy.inc",
            format!("bind_socket = \"127.0.0.1:{proxy}\";\n"),
        )
        .ok()?;
        let _ = Command::new("chmod").args(["-R", "a+rwX"]).arg(root).status();

        let mut children = Children(Vec::new());
        children.0.push(
            Command::new("redis-server")
                .args(["--port", &redis.to_string(), "--bind", "127.0.0.1", "--save", ""])
                .stdout(Stdio::null())
                .spawn()
                .ok()?,
        );
        children.0.push(
            Command::new("dnsmasq")
                .args([
                    "-k",
                    "--no-resolv",
                    "--no-hosts",
                    "--bind-interfaces",
                    "--listen-address=127.0.0.1",
                ])
                .arg(format!("--port={dns}"))
                .arg(format!("--pid-file={}/run/dnsmasq.pid", root.display()))
                .stderr(Stdio::null())
                .spawn()
                .ok()?,
        );
        wait_for(redis, "redis-server");
        let var = |name: &str, sub: &str| format!("--var={name}={}", root.join(sub).display());
        let mut rspamd = Command::new("rspamd");
        rspamd.args(["-f", "-c", "/etc/rspamd/rspamd.conf"]);
        if self::root() {
            rspamd.args(["-u", "_rspamd", "-g", "_rspamd"]);
        }
        children.0.push(
            rspamd
                .arg(format!("--var=LOCAL_CONFDIR={}", root.display()))
                .arg(var("DBDIR", "db"))
                .arg(var("RUNDIR", "run"))
                .arg(var("LOGDIR", "log"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?,
        );
        wait_for(normal, "rspamd");
        wait_for(controller, "rspamd controller");
        let learn = |kind: &str, files: &[PathBuf]| {
            in_chunks(files, 500, || {
                let mut command = Command::new("rspamc");
                command.args(["-h", &format!("127.0.0.1:{controller}"), "-n", "4", kind]);
                command
            })
        };
        learn("learn_spam", spam);
        learn("learn_ham", ham);
        Some(Rspamd {
            _dir: dir,
            normal,
            _children: children,
        })
    }
}

impl Peer for Rspamd {
    fn name(&self) -> &'static str {
        "rspamd"
    }

    fn classify(&mut self, files: &[PathBuf]) -> Vec<bool> {
        let normal = self.normal;
        let out = in_chunks(files, 500, || {
            let mut command = Command::new("rspamc");
            command.args(["-h", &format!("127.0.0.1:{normal}"), "-n", "4"]);
            command
        });
        // Results come back as they finish: match them to files by name.
        let mut verdicts = std::collections::HashMap::new();
        let mut current: Option<String> = None;
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("Results for file: ") {
                current = Some(rest.rsplit_once(" (").map_or(rest, |(f, _)| f).to_owned());
            } else if let (Some(action), Some(file)) = (line.strip_prefix("Action: "), &current) {
                // "add header", "rewrite subject" and "reject" mean spam;
                // "no action" and "greylist" do not.
                let spam = !matches!(action.trim(), "no action" | "greylist");
                verdicts.insert(file.clone(), spam);
            }
        }
        files
            .iter()
            .map(|f| verdicts.get(&f.display().to_string()).copied().unwrap_or(false))
            .collect()
    }
}
