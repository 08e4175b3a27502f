//! Sequence sets (RFC 9051 9: `sequence-set`): `1:5,7,10:*`, and `$`, the
//! result of the last SEARCH (RFC 5182).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    Value(u32),
    /// `*`: the largest number in use (or UIDNEXT-1 for UIDs).
    Largest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    /// Ranges as given; `a:b` and `b:a` mean the same (RFC 9051 9).
    Ranges(Vec<(SeqNumber, SeqNumber)>),
    /// `$` (RFC 5182).
    SavedResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceError;

fn number(text: &str) -> Result<SeqNumber, SequenceError> {
    if text == "*" {
        return Ok(SeqNumber::Largest);
    }
    // nz-number: no leading zero, no sign, fits 32 bits, not zero.
    if text.is_empty() || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SequenceError);
    }
    text.parse::<u32>().map(SeqNumber::Value).map_err(|_| SequenceError)
}

impl SequenceSet {
    pub fn parse(text: &str) -> Result<SequenceSet, SequenceError> {
        if text == "$" {
            return Ok(SequenceSet::SavedResult);
        }
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let range = match part.split_once(':') {
                Some((low, high)) => (number(low)?, number(high)?),
                None => {
                    let one = number(part)?;
                    (one, one)
                }
            };
            ranges.push(range);
        }
        Ok(SequenceSet::Ranges(ranges))
    }

    /// Whether `n` is in the set, where `*` stands for `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let SequenceSet::Ranges(ranges) = self else {
            return false;
        };
        let value = |number: SeqNumber| match number {
            SeqNumber::Value(v) => v,
            SeqNumber::Largest => largest,
        };
        ranges.iter().any(|&(a, b)| {
            let (low, high) = (value(a).min(value(b)), value(a).max(value(b)));
            (low..=high).contains(&n)
        })
    }

    /// The members among `existing` (sorted ascending), with `*` as the
    /// last of them. Cost follows `existing`, not the numbers in the set,
    /// so `1:4294967295` is cheap.
    pub fn select(&self, existing: &[u32]) -> Vec<u32> {
        let largest = existing.last().copied().unwrap_or(0);
        existing
            .iter()
            .copied()
            .filter(|&n| self.contains(n, largest))
            .collect()
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SequenceSet::Ranges(ranges) = self else {
            return f.write_str("$");
        };
        let show = |n: SeqNumber| match n {
            SeqNumber::Value(v) => v.to_string(),
            SeqNumber::Largest => "*".to_owned(),
        };
        let parts: Vec<String> = ranges
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    show(a)
                } else {
                    format!("{}:{}", show(a), show(b))
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Writes numbers compactly in the order given, ascending runs as ranges:
/// `1:3,5,7:8` (for COPYUID, ESEARCH), `3,1:2,4` (for ESORT).
pub fn compact(numbers: &[u32]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        while i + 1 < numbers.len() && numbers[i + 1] == numbers[i] + 1 {
            i += 1;
        }
        out.push(if numbers[i] == start {
            start.to_string()
        } else {
            format!("{start}:{}", numbers[i])
        });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for text in ["1", "1:5", "1:*", "*", "2,4:7,9,12:*", "$", "7:3"] {
            assert_eq!(SequenceSet::parse(text).unwrap().to_string(), text);
        }
        for bad in ["", "0", "01", "1:", ":2", "1,,2", "-1", "a", "4294967296", "1 2"] {
            assert!(SequenceSet::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn membership_with_star_and_reversed_ranges() {
        let set = SequenceSet::parse("2,4:6,9:*").unwrap();
        assert_eq!(set.select(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), vec![2, 4, 5, 6, 9, 10]);
        // RFC 9051 6.4.8 example idea: "*:4" on 1..=3 still means 3:4.
        assert_eq!(SequenceSet::parse("*:4").unwrap().select(&[1, 2, 3]), vec![3]);
        assert_eq!(SequenceSet::parse("6:2").unwrap().select(&[1, 3, 7]), vec![3]);
        assert_eq!(
            SequenceSet::parse("1:4294967295").unwrap().select(&[5, 4_000_000_000]),
            vec![5, 4_000_000_000]
        );
        assert!(SequenceSet::parse("*").unwrap().select(&[]).is_empty());
    }

    #[test]
    fn compact_ranges() {
        assert_eq!(compact(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(compact(&[]), "");
        assert_eq!(compact(&[4]), "4");
    }
}
