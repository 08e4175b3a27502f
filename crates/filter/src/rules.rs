//! Rules that need no training. GTUBE (the Generic Test for Unsolicited
//! Bulk Email) first: a message carrying it is always spam, so operators
//! can test the whole path with a harmless message.

/// The GTUBE string, as SpamAssassin publishes it.
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

pub fn is_gtube(message: &[u8]) -> bool {
    message.windows(GTUBE.len()).any(|window| window == GTUBE.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtube_anywhere_in_the_message() {
        let message = format!("Subject: test\r\n\r\nhello\r\n{GTUBE}\r\n");
        assert!(is_gtube(message.as_bytes()));
        assert!(!is_gtube(b"Subject: test\r\n\r\nXJS*C4JDBQADN1 but not all of it\r\n"));
    }
}
