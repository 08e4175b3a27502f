//! Process metrics in the Prometheus text exposition format (version 0.0.4).
//! A registry of labelled counters and gauges; a handle is an `Arc` to one
//! atomic, so the hot path is a single atomic add.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// Failed logins per protocol; every protocol counts into the same family.
pub const AUTH_FAILURES: &str = "estafeta_auth_failures_total";
pub const AUTH_FAILURES_HELP: &str = "Failed logins, per protocol.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

struct Family {
    help: &'static str,
    kind: Kind,
    series: BTreeMap<String, Arc<AtomicI64>>,
}

#[derive(Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

/// A monotonically increasing count.
#[derive(Clone)]
pub struct Counter(Arc<AtomicI64>);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n as i64, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed) as u64
    }
}

/// A value that goes up and down (open connections).
#[derive(Clone)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// One failed login over `protocol` (`smtp`, `imap`, `pop3`).
    pub fn auth_failure(&self, protocol: &str) {
        self.counter(AUTH_FAILURES, AUTH_FAILURES_HELP, &[("protocol", protocol)])
            .inc();
    }

    pub fn counter(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)]) -> Counter {
        Counter(self.series(name, help, Kind::Counter, labels))
    }

    pub fn gauge(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)]) -> Gauge {
        Gauge(self.series(name, help, Kind::Gauge, labels))
    }

    fn series(&self, name: &'static str, help: &'static str, kind: Kind, labels: &[(&str, &str)]) -> Arc<AtomicI64> {
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind,
            series: BTreeMap::new(),
        });
        debug_assert_eq!(family.kind, kind, "metric {name} registered as two kinds");
        family.series.entry(render_labels(labels)).or_default().clone()
    }

    /// The whole registry as Prometheus text.
    pub fn render(&self) -> String {
        let families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for (name, family) in families.iter() {
            let kind = match family.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in &family.series {
                let _ = writeln!(out, "{name}{labels} {}", value.load(Ordering::Relaxed));
            }
        }
        out
    }
}

fn render_labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let body: Vec<String> = labels
        .iter()
        .map(|(key, value)| {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            format!("{key}=\"{escaped}\"")
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_with_labels() {
        let metrics = Metrics::new();
        let smtp = metrics.counter(
            "estafeta_connections_total",
            "Accepted connections.",
            &[("listener", "smtp")],
        );
        let imap = metrics.counter(
            "estafeta_connections_total",
            "Accepted connections.",
            &[("listener", "imap")],
        );
        smtp.inc();
        smtp.inc();
        imap.add(5);
        let open = metrics.gauge("estafeta_connections_open", "Open connections.", &[]);
        open.inc();
        let text = metrics.render();
        assert!(text.contains("# TYPE estafeta_connections_total counter\n"), "{text}");
        assert!(
            text.contains("estafeta_connections_total{listener=\"smtp\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("estafeta_connections_total{listener=\"imap\"} 5\n"),
            "{text}"
        );
        assert!(text.contains("estafeta_connections_open 1\n"), "{text}");
    }

    #[test]
    fn same_series_shares_one_value() {
        let metrics = Metrics::new();
        metrics.counter("c", "h", &[("a", "1")]).inc();
        metrics.counter("c", "h", &[("a", "1")]).inc();
        assert_eq!(metrics.counter("c", "h", &[("a", "1")]).get(), 2);
    }

    #[test]
    fn escapes_label_values() {
        let metrics = Metrics::new();
        metrics.counter("c", "h", &[("v", "a\"b\\c")]).inc();
        assert!(metrics.render().contains(r#"c{v="a\"b\\c"} 1"#));
    }
}
