//! Scoring the bounce reader on labelled bounce messages: a directory of
//! `.eml` files and an `expected.tsv` naming, per file, each recipient's
//! action, class and severity (or `-` for mail that is not a bounce).

use super::{Action, BounceClass, Severity, parse};
use std::collections::BTreeMap;
use std::path::Path;

/// One labelled outcome and what the reader made of it.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    pub recipient: String,
    pub expected: String,
    pub found: String,
    pub class: Option<BounceClass>,
}

impl Case {
    pub fn is_right(&self) -> bool {
        self.expected == self.found
    }
}

pub struct Evaluation {
    pub cases: Vec<Case>,
}

fn label(action: Action, class: BounceClass, severity: Severity) -> String {
    let action = match action {
        Action::Failed => "failed",
        Action::Delayed => "delayed",
    };
    let severity = match severity {
        Severity::Hard => "hard",
        Severity::Soft => "soft",
    };
    format!("{action} {} {severity}", class.code())
}

pub fn evaluate(dir: &Path) -> std::io::Result<Evaluation> {
    let expected = std::fs::read_to_string(dir.join("expected.tsv"))?;
    let mut cases = Vec::new();
    let mut parsed = BTreeMap::new();
    for line in expected.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let file = fields[0];
        let bounce = match parsed.get(file) {
            Some(bounce) => bounce,
            None => {
                let raw = std::fs::read(dir.join(format!("{file}.eml")))?;
                parsed.entry(file.to_owned()).or_insert(parse(&raw))
            }
        };
        if fields.get(1) == Some(&"-") {
            let found = match bounce {
                None => "not a bounce".to_owned(),
                Some(b) => format!("a bounce for {} recipient(s)", b.failures.len()),
            };
            cases.push(Case {
                file: file.to_owned(),
                recipient: "-".into(),
                expected: "not a bounce".into(),
                found,
                class: None,
            });
            continue;
        }
        let recipient = fields.get(1).copied().unwrap_or("");
        let expected = fields.get(2..5).map(|f| f.join(" ")).unwrap_or_default();
        let failure = bounce
            .as_ref()
            .and_then(|b| b.failures.iter().find(|f| f.recipient == recipient));
        cases.push(Case {
            file: file.to_owned(),
            recipient: recipient.to_owned(),
            found: failure.map_or_else(
                || "not found".to_owned(),
                |f| label(f.action, f.classification.class, f.classification.severity),
            ),
            expected,
            class: BounceClass::parse(fields.get(3).copied().unwrap_or("")),
        });
    }
    Ok(Evaluation { cases })
}

impl Evaluation {
    pub fn wrong(&self) -> Vec<&Case> {
        self.cases.iter().filter(|c| !c.is_right()).collect()
    }

    /// Accuracy per expected class, then in all.
    pub fn table(&self) -> String {
        let mut rows: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for case in &self.cases {
            let name = case.class.map_or("not a bounce", BounceClass::code).to_owned();
            let row = rows.entry(name).or_default();
            row.0 += usize::from(case.is_right());
            row.1 += 1;
        }
        let mut out = format!("{:<20} {:>7} {:>9}\n", "class", "right", "accuracy");
        for (name, (right, total)) in &rows {
            out.push_str(&format!(
                "{name:<20} {:>7} {:>8.1}%\n",
                format!("{right}/{total}"),
                100.0 * *right as f64 / *total as f64
            ));
        }
        let right = self.cases.iter().filter(|c| c.is_right()).count();
        out.push_str(&format!(
            "{:<20} {:>7} {:>8.1}%\n",
            "all",
            format!("{right}/{}", self.cases.len()),
            100.0 * right as f64 / self.cases.len().max(1) as f64
        ));
        for case in self.wrong() {
            out.push_str(&format!(
                "  wrong: {} {}: {} (expected {})\n",
                case.file, case.recipient, case.found, case.expected
            ));
        }
        out
    }
}
