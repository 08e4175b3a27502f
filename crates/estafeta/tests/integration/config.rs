use crate::common::*;
use std::path::Path;

fn with_config(dir: &Path, toml: &str, args: &[&str]) -> Run {
    let mut command = configured(dir, toml);
    command.args(args);
    run(command, None)
}

#[test]
fn unknown_key_is_named_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = with_config(dir.path(), "[listen]\nsmpt = \"127.0.0.1:25\"\n", &["serve"]);
    out.refused("`listen.smpt`");
    assert!(out.stderr.contains("estafeta.toml"), "{}", out.stderr);
}

#[test]
fn bad_address_is_named_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = with_config(dir.path(), "[listen]\nimap = \"999.1.1.1:143\"\n", &["domain", "list"]);
    out.refused("`listen.imap`");
    assert!(out.stderr.contains("estafeta.toml"), "{}", out.stderr);
}

#[test]
fn bad_value_type_and_syntax() {
    let dir = tempfile::tempdir().unwrap();
    with_config(dir.path(), "[limits]\nidle_timeout = 300\n", &["serve"]).refused("`limits.idle_timeout`");
    with_config(dir.path(), "hostname = [\n", &["serve"]).refused("estafeta.toml");
}

#[test]
fn missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = estafeta();
    command
        .arg("--config")
        .arg(dir.path().join("absent.toml"))
        .args(["domain", "list"]);
    run(command, None).refused("absent.toml");
}

#[test]
fn missing_cert_file_stops_serve() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[listen]\nsmtp = \"127.0.0.1:0\"\n[tls]\ncert = \"{0}/missing-cert.pem\"\nkey = \"{0}/missing-key.pem\"\n",
        dir.path().display()
    );
    let out = with_config(dir.path(), &toml, &["serve"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("`tls.cert`") && out.stderr.contains("missing-cert.pem"),
        "{}",
        out.stderr
    );
}

#[test]
fn data_dir_flag_overrides_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("data_dir = \"{}/from-config\"\n", dir.path().display());
    with_config(dir.path(), &toml, &["domain", "add", "example.com"]).ok();
    assert!(dir.path().join("data/estafeta.db").exists());
    assert!(!dir.path().join("from-config").exists());
}
