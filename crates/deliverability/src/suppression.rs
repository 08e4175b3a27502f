//! Suppression lists as files: the export an operator keeps or moves to
//! another system, and imports from one (our export, or any list of
//! addresses, one a line or in the first column holding an `@`).

use estafeta_core::model::TenantId;
use estafeta_store::{Suppression, SuppressionReason};
use std::io::{Read, Write};

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{0}")]
    Csv(#[from] csv::Error),
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
}

const HEADER: [&str; 6] = [
    "address",
    "sender_domain",
    "reason",
    "detail",
    "created_at",
    "expires_at",
];

/// Writes `entries` as CSV with a header; times are Unix seconds, an
/// empty `expires_at` never lapses.
pub fn export(entries: &[Suppression], out: impl Write) -> Result<(), ListError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(HEADER)?;
    for entry in entries {
        writer.write_record([
            entry.address.as_str(),
            entry.sender_domain.as_str(),
            entry.reason.code(),
            entry.detail.as_str(),
            &entry.created_at.to_string(),
            &entry.expires_at.map(|t| t.to_string()).unwrap_or_default(),
        ])?;
    }
    writer.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// Reads entries for `tenant`. Our own export keeps every column; a
/// plain list takes `reason` (manual unless said), `now` and no expiry.
pub fn import(
    input: impl Read,
    tenant: TenantId,
    reason: SuppressionReason,
    now: i64,
) -> Result<Vec<Suppression>, ListError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut entries = Vec::new();
    let mut ours = false;
    let mut column = None;
    for record in reader.records() {
        let record = record?;
        let line = record.position().map_or(0, |p| p.line());
        if line == 1 && record.iter().eq(HEADER) {
            ours = true;
            continue;
        }
        if ours {
            let field = |i: usize| record.get(i).unwrap_or("").to_owned();
            let time = |i: usize| -> Result<Option<i64>, ListError> {
                let text = field(i);
                if text.is_empty() {
                    return Ok(None);
                }
                text.parse().map(Some).map_err(|_| ListError::Row {
                    line,
                    message: format!("`{text}` is not a time in Unix seconds"),
                })
            };
            let code = field(2);
            let reason = SuppressionReason::parse(&code).ok_or_else(|| ListError::Row {
                line,
                message: format!("unknown reason `{code}`"),
            })?;
            entries.push(Suppression {
                tenant,
                address: checked(&field(0), line)?,
                sender_domain: field(1),
                reason,
                detail: field(3),
                created_at: time(4)?.unwrap_or(now),
                expires_at: time(5)?,
            });
            continue;
        }
        let at = *column.get_or_insert_with(|| record.iter().position(|f| f.contains('@')).unwrap_or(0));
        let Some(address) = record.get(at).filter(|a| !a.is_empty()) else {
            continue;
        };
        if line == 1 && !address.contains('@') {
            // A header row of some other export.
            continue;
        }
        entries.push(Suppression {
            tenant,
            address: checked(address, line)?,
            sender_domain: String::new(),
            reason,
            detail: "imported".into(),
            created_at: now,
            expires_at: None,
        });
    }
    Ok(entries)
}

fn checked(address: &str, line: u64) -> Result<String, ListError> {
    match address.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !address.contains(char::is_whitespace) =>
        {
            Ok(address.to_lowercase())
        }
        _ => Err(ListError::Row {
            line,
            message: format!("`{address}` is not an address"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_export_comes_back_unchanged() {
        let entries = vec![
            Suppression {
                tenant: TenantId(2),
                address: "gone@example.com".into(),
                sender_domain: String::new(),
                reason: SuppressionReason::HardBounce,
                detail: "550 5.1.1 user unknown, \"quoted\"".into(),
                created_at: 1_700_000_000,
                expires_at: None,
            },
            Suppression {
                tenant: TenantId(2),
                address: "reader@example.org".into(),
                sender_domain: "news.example".into(),
                reason: SuppressionReason::Unsubscribe,
                detail: "RFC 8058 one-click".into(),
                created_at: 1_700_000_001,
                expires_at: Some(1_800_000_000),
            },
        ];
        let mut file = Vec::new();
        export(&entries, &mut file).unwrap();
        let back = import(file.as_slice(), TenantId(2), SuppressionReason::Manual, 5).unwrap();
        assert_eq!(back, entries);
    }

    #[test]
    fn plain_lists_and_bad_rows() {
        let plain = "Email,Name\nOne@Example.com,One\ntwo@example.com,Two\n\n";
        let entries = import(plain.as_bytes(), TenantId(1), SuppressionReason::Complaint, 9).unwrap();
        let addresses: Vec<&str> = entries.iter().map(|e| e.address.as_str()).collect();
        assert_eq!(addresses, ["one@example.com", "two@example.com"]);
        assert!(
            entries
                .iter()
                .all(|e| e.reason == SuppressionReason::Complaint && e.created_at == 9)
        );
        let bad = import(
            "a@example.com\nnot an address\n".as_bytes(),
            TenantId(1),
            SuppressionReason::Manual,
            0,
        );
        assert_eq!(
            bad.unwrap_err().to_string(),
            "line 2: `not an address` is not an address"
        );
    }
}
