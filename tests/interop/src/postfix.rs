//! A throwaway Postfix on loopback: its own config and queue in a temp dir,
//! an smtpd on a free port, relaying everything to one host:port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postfix {
    dir: tempfile::TempDir,
    child: Child,
    pub smtp_port: u16,
}

impl Postfix {
    /// Starts Postfix relaying all mail to `relay` (no DNS anywhere).
    pub fn start(relay: SocketAddr, extra_main_cf: &str) -> Postfix {
        let dir = tempfile::Builder::new().prefix("estafeta-postfix").tempdir().unwrap();
        super::open_up(dir.path());
        let conf = dir.path().join("conf");
        let queue = dir.path().join("queue");
        let data = dir.path().join("data");
        for sub in [&conf, &queue, &data] {
            std::fs::create_dir_all(sub).unwrap();
        }
        let smtp_port = super::free_port();
        let main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = peer.test
mydomain = peer.test
myorigin = peer.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [{ip}]:{port}
smtp_tls_security_level = none
smtpd_peername_lookup = no
smtp_host_lookup = native
maillog_file = /dev/stdout
alias_maps =
alias_database =
{extra_main_cf}
",
            queue = queue.display(),
            data = data.display(),
            ip = relay.ip(),
            port = relay.port(),
        );
        let mail = dir.path().join("mail");
        std::fs::create_dir_all(&mail).unwrap();
        chown_postfix(&mail);
        let main_cf = main_cf.replace("__BASE__", &mail.display().to_string());
        std::fs::write(conf.join("main.cf"), main_cf).unwrap();
        let master = std::fs::read_to_string("/etc/postfix/master.cf").expect("postfix installed");
        let master: String = master
            .lines()
            .map(|line| {
                if line.starts_with("smtp ") && line.contains(" inet ") {
                    format!("127.0.0.1:{smtp_port} inet n - n - - smtpd")
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(conf.join("master.cf"), master + "\n").unwrap();
        postconf(&conf, &["-F", "*/*/chroot = n"]);
        chown_postfix(&data);
        let status = Command::new("postfix")
            .arg("-c")
            .arg(&conf)
            .arg("set-permissions")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "postfix set-permissions failed");
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new("postfix")
            .arg("-c")
            .arg(&conf)
            .arg("start-fg")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let postfix = Postfix { dir, child, smtp_port };
        postfix.wait_listening();
        postfix
    }

    /// Its private directory (queue, config, and any mail it stores).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Releases every message on hold and asks for them to go now.
    pub fn release_held(&self) {
        self.admin("postsuper", &["-H", "ALL"]);
        self.admin("postqueue", &["-f"]);
    }

    fn admin(&self, program: &str, args: &[&str]) {
        let status = Command::new(program)
            .arg("-c")
            .arg(self.conf())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{program} {args:?} failed");
    }

    /// Starts Postfix as the final destination of `domain`: every
    /// recipient there lands in the Maildir `<path>/mail/<domain>/`.
    pub fn start_receiving(domain: &str) -> Postfix {
        let (uid, gid) = Postfix::ids();
        let extra = format!(
            "virtual_mailbox_domains = {domain}\nvirtual_mailbox_base = __BASE__\nvirtual_mailbox_maps = static:{domain}/\nvirtual_uid_maps = static:{uid}\nvirtual_gid_maps = static:{gid}\n"
        );
        // The discard relay is never used: the domain is ours to keep.
        Postfix::start("127.0.0.1:9".parse().unwrap(), &extra)
    }

    /// The postfix user's uid and gid on this machine (they differ from
    /// one machine to the next: whatever the package was given).
    pub fn ids() -> (u32, u32) {
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, "postfix"]).output().expect("run id");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("no postfix user (id {flag} postfix): is postfix installed?"))
        };
        (id("-u"), id("-g"))
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.smtp_port)).is_err() {
            assert!(Instant::now() < deadline, "postfix did not start:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the log shows `needle` (e.g. `status=sent`).
    pub async fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(Instant::now() < deadline, "`{needle}` not in the postfix log:\n{log}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn postconf(conf: &Path, args: &[&str]) {
    let status = Command::new("postconf")
        .arg("-c")
        .arg(conf)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "postconf {args:?} failed");
}

fn chown_postfix(dir: &Path) {
    let status = Command::new("chown").arg("postfix").arg(dir).status().unwrap();
    assert!(status.success(), "chown postfix failed");
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(self.conf())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
