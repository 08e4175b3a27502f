//! Lists of addresses in CSV files: the input (any CSV whose address
//! column is named or can be spotted, or one address a line), the results
//! file written as verdicts come in (so an interrupted run resumes where
//! it stopped), and the summary a sender reads before sending.

use crate::{Report, Verdict};
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },
}

fn file_error(path: &Path) -> impl Fn(std::io::Error) -> ListError + '_ {
    move |error| ListError::File {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

fn csv_error(path: &Path) -> impl Fn(csv::Error) -> ListError + '_ {
    move |error| ListError::Csv {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

/// Header names taken as the address column.
const ADDRESS_HEADERS: [&str; 6] = ["email", "e-mail", "email address", "address", "mail", "emailaddress"];

/// The addresses of a list, each once, in the order first seen.
pub struct InputList {
    pub addresses: Vec<String>,
    /// Rows repeating an address already in the list.
    pub duplicates: usize,
}

pub fn read_input(path: &Path) -> Result<InputList, ListError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(csv_error(path))?;
    let mut column = None;
    let mut seen = HashSet::new();
    let mut list = InputList {
        addresses: Vec::new(),
        duplicates: 0,
    };
    for record in reader.records() {
        let record = record.map_err(csv_error(path))?;
        let at = match column {
            Some(at) => at,
            None => {
                // The first row names the column, or is data whose
                // address column is the first field holding an `@`.
                let named = record
                    .iter()
                    .position(|field| ADDRESS_HEADERS.contains(&field.to_ascii_lowercase().as_str()));
                if let Some(at) = named {
                    column = Some(at);
                    continue;
                }
                let at = record.iter().position(|field| field.contains('@')).unwrap_or(0);
                column = Some(at);
                at
            }
        };
        let Some(address) = record.get(at).filter(|a| !a.is_empty()) else {
            continue;
        };
        if seen.insert(address.to_owned()) {
            list.addresses.push(address.to_owned());
        } else {
            list.duplicates += 1;
        }
    }
    Ok(list)
}

const COLUMNS: [&str; 13] = [
    "address",
    "verdict",
    "reason",
    "normalised",
    "smtp_code",
    "smtp_enhanced",
    "smtp_text",
    "mx",
    "catch_all",
    "disposable",
    "role",
    "free",
    "suggestion",
];

fn row(report: &Report) -> Vec<String> {
    let flag = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let smtp = report.smtp.as_ref();
    vec![
        report.address.clone(),
        report.verdict.name().to_owned(),
        report.reason.clone(),
        report.normalised.clone().unwrap_or_default(),
        smtp.map(|s| s.code.to_string()).unwrap_or_default(),
        smtp.and_then(|s| s.enhanced.clone()).unwrap_or_default(),
        smtp.map(|s| s.text.clone()).unwrap_or_default(),
        report.mx.first().cloned().unwrap_or_default(),
        report.catch_all.map(flag).unwrap_or_default(),
        flag(report.disposable),
        flag(report.role),
        flag(report.free),
        report.suggestion.clone().unwrap_or_default(),
    ]
}

/// The results file, one row per address, appended and flushed as each
/// verdict comes in.
pub struct Results {
    path: PathBuf,
    writer: csv::Writer<File>,
    /// Address and verdict of every row, resumed ones included.
    verdicts: HashMap<String, String>,
}

impl Results {
    /// Opens `path`, keeping the rows of an earlier, interrupted run; a
    /// row cut off by the interruption is dropped (and verified again).
    pub fn open(path: &Path) -> Result<Results, ListError> {
        let mut rows = Vec::new();
        if path.exists() {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_path(path)
                .map_err(csv_error(path))?;
            let headers = reader.headers().map_err(csv_error(path))?.clone();
            if headers.iter().ne(COLUMNS) {
                return Err(ListError::Csv {
                    path: path.to_owned(),
                    message: "exists and is not an earlier results file; give another --output".into(),
                });
            }
            for record in reader.records() {
                match record {
                    Ok(record) if record.len() == COLUMNS.len() => rows.push(record),
                    _ => break,
                }
            }
        }
        // Written whole again, so appends start on a clean line.
        let temporary = path.with_extension("partial");
        let mut writer = csv::Writer::from_path(&temporary).map_err(csv_error(path))?;
        writer.write_record(COLUMNS).map_err(csv_error(path))?;
        let mut verdicts = HashMap::new();
        for record in &rows {
            writer.write_record(record).map_err(csv_error(path))?;
            verdicts.insert(record[0].to_owned(), record[1].to_owned());
        }
        writer.flush().map_err(file_error(path))?;
        drop(writer);
        std::fs::rename(&temporary, path).map_err(file_error(path))?;
        let file = OpenOptions::new().append(true).open(path).map_err(file_error(path))?;
        Ok(Results {
            path: path.to_owned(),
            writer: csv::WriterBuilder::new().has_headers(false).from_writer(file),
            verdicts,
        })
    }

    pub fn contains(&self, address: &str) -> bool {
        self.verdicts.contains_key(address)
    }

    pub fn add(&mut self, report: &Report) -> Result<(), ListError> {
        self.writer.write_record(row(report)).map_err(csv_error(&self.path))?;
        self.writer.flush().map_err(file_error(&self.path))?;
        self.verdicts
            .insert(report.address.clone(), report.verdict.name().to_owned());
        Ok(())
    }

    /// Puts the rows in the input's order and syncs the file.
    pub fn finish(mut self, order: &[String]) -> Result<Summary, ListError> {
        self.writer.flush().map_err(file_error(&self.path))?;
        let path = self.path.clone();
        let mut reader = csv::Reader::from_path(&path).map_err(csv_error(&path))?;
        let mut by_address = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(csv_error(&path))?;
            by_address.insert(record[0].to_owned(), record);
        }
        let temporary = path.with_extension("partial");
        let mut writer = csv::Writer::from_path(&temporary).map_err(csv_error(&path))?;
        writer.write_record(COLUMNS).map_err(csv_error(&path))?;
        for address in order {
            if let Some(record) = by_address.get(address) {
                writer.write_record(record).map_err(csv_error(&path))?;
            }
        }
        let file = writer.into_inner().map_err(|e| ListError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        file.sync_all().map_err(file_error(&path))?;
        std::fs::rename(&temporary, &path).map_err(file_error(&path))?;
        Ok(self.summary())
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for verdict in self.verdicts.values() {
            match verdict.as_str() {
                "deliverable" => summary.deliverable += 1,
                "undeliverable" => summary.undeliverable += 1,
                "risky" => summary.risky += 1,
                _ => summary.unknown += 1,
            }
        }
        summary
    }
}

/// Counts per verdict and what sending the list as is would cost.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub deliverable: usize,
    pub undeliverable: usize,
    pub risky: usize,
    pub unknown: usize,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.deliverable + self.undeliverable + self.risky + self.unknown
    }

    pub fn count(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Deliverable => self.deliverable += 1,
            Verdict::Undeliverable => self.undeliverable += 1,
            Verdict::Risky => self.risky += 1,
            Verdict::Unknown => self.unknown += 1,
        }
    }

    /// The share that would surely bounce, and the share that might
    /// (risky and unknown addresses bounce often, not always).
    pub fn bounce_rate(&self) -> (f64, f64) {
        let total = self.total().max(1) as f64;
        let sure = self.undeliverable as f64 / total;
        let worst = (self.undeliverable + self.risky + self.unknown) as f64 / total;
        (sure, worst)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.total();
        let share = |n: usize| 100.0 * n as f64 / total.max(1) as f64;
        writeln!(f, "{total} addresses")?;
        for (name, n) in [
            ("deliverable", self.deliverable),
            ("undeliverable", self.undeliverable),
            ("risky", self.risky),
            ("unknown", self.unknown),
        ] {
            writeln!(f, "  {name:<14} {n:>8}  {:5.1}%", share(n))?;
        }
        let (sure, worst) = self.bounce_rate();
        write!(
            f,
            "estimated bounce rate if sent as is: {:.1}% (undeliverable), up to {:.1}% with risky and unknown",
            100.0 * sure,
            100.0 * worst
        )?;
        // Receivers start blocking senders whose lists bounce about 3%.
        if sure >= 0.03 {
            write!(
                f,
                "\nabove 3%: sending this list as is would hurt your reputation; drop the undeliverable"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_column_is_named_or_spotted() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("named.csv");
        std::fs::write(
            &named,
            "Name,Email\nAna,ana@example.com\nBo,\"bo@example.com\"\nAna,ana@example.com\n",
        )
        .unwrap();
        let list = read_input(&named).unwrap();
        assert_eq!(list.addresses, ["ana@example.com", "bo@example.com"]);
        assert_eq!(list.duplicates, 1);
        let bare = dir.path().join("bare.txt");
        std::fs::write(&bare, "x@example.com\n\ny@example.com\n").unwrap();
        assert_eq!(read_input(&bare).unwrap().addresses, ["x@example.com", "y@example.com"]);
        let spotted = dir.path().join("spotted.csv");
        std::fs::write(&spotted, "1,z@example.com,vip\n2,w@example.com,\n").unwrap();
        assert_eq!(
            read_input(&spotted).unwrap().addresses,
            ["z@example.com", "w@example.com"]
        );
    }

    #[test]
    fn the_summary_estimates_the_bounce_rate() {
        let summary = Summary {
            deliverable: 90,
            undeliverable: 5,
            risky: 3,
            unknown: 2,
        };
        assert_eq!(summary.bounce_rate(), (0.05, 0.10));
        let text = summary.to_string();
        assert!(text.contains("5.0% (undeliverable), up to 10.0%"), "{text}");
        assert!(text.contains("above 3%"), "{text}");
    }
}
