//! Which conversation a message belongs to, as a number kept with its
//! content: the first Message-ID of its References (RFC 5322 3.6.4: the
//! thread's first message, which every reply carries forward), else the
//! one it answers (In-Reply-To), else its own. A reply and the message
//! it answers share it; it depends on the message alone, so it never
//! changes (JMAP's threadId is immutable, RFC 8621 3). 0 means unknown:
//! content stored before threads were kept, which stays a thread of its
//! own.

use mail_parser::{HeaderValue, MessageParser};

/// 64-bit FNV-1a of the root Message-ID, kept to 63 bits so it is
/// positive in either database, and never 0.
fn number(message_id: &str) -> i64 {
    let h = estafeta_core::fnv::fnv1a(message_id.as_bytes());
    ((h >> 1) as i64).max(1)
}

fn first(value: &HeaderValue) -> Option<String> {
    value
        .as_text_list()
        .and_then(|ids| ids.iter().map(|id| id.trim()).find(|id| !id.is_empty()))
        .map(str::to_owned)
}

/// The thread number of `message` (its header is enough); 0 when it names
/// no Message-ID at all.
pub fn thread_root(message: &[u8]) -> i64 {
    let Some(parsed) = MessageParser::new().parse_headers(message) else {
        return 0;
    };
    first(parsed.references())
        .or_else(|| first(parsed.in_reply_to()))
        .or_else(|| parsed.message_id().map(str::to_owned).filter(|id| !id.is_empty()))
        .map_or(0, |root| number(&root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_shares_its_first_message_id() {
        let first = thread_root(b"Message-ID: <a@x.test>\r\nSubject: plan\r\n\r\nhi\r\n");
        let reply =
            thread_root(b"Message-ID: <b@y.test>\r\nIn-Reply-To: <a@x.test>\r\nReferences: <a@x.test>\r\n\r\nok\r\n");
        let deeper = thread_root(
            b"Message-ID: <c@x.test>\r\nIn-Reply-To: <b@y.test>\r\nReferences: <a@x.test>\r\n <b@y.test>\r\n\r\nso\r\n",
        );
        let answer_only = thread_root(b"Message-ID: <d@z.test>\r\nIn-Reply-To: <a@x.test>\r\n\r\nyes\r\n");
        assert_ne!(first, 0);
        assert_eq!([reply, deeper, answer_only], [first; 3]);
        let other = thread_root(b"Message-ID: <e@x.test>\r\nSubject: plan\r\n\r\nhi\r\n");
        assert_ne!(other, first, "the same subject is not the same conversation");
        assert_eq!(thread_root(b"Subject: no ids\r\n\r\nx\r\n"), 0);
        assert_eq!(thread_root(b""), 0);
        for n in 0..1000 {
            assert!(number(&format!("<{n}@x.test>")) > 0);
        }
    }
}
