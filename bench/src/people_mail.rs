//! Mail as people get it, for the mailbox benchmarks (IMAP, JMAP): the same
//! messages, in the same order, every run.

/// The account the messages are addressed to.
pub const USER: &str = "user@bench.test";
/// Rare enough that a TEXT search finds about one message in a hundred.
pub const RARE: &str = "zephyrine";

/// Deterministic pseudo-random numbers, the same for both servers.
pub struct Rng(pub u64);

impl Rng {
    pub fn draw(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.draw() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "meeting", "report", "invoice", "project", "schedule", "update", "review", "budget", "team", "launch", "customer",
    "design", "travel", "lunch", "contract", "deadline", "summary", "draft", "question", "thanks",
];

/// Mail as people get it: plain or multipart/alternative, 1-6 KiB.
pub fn messages(count: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(7);
    (0..count)
        .map(|n| {
            let mut words = |len: usize| {
                let mut text = String::new();
                for i in 0..len {
                    let word = if rng.below(3000) == 0 { RARE } else { WORDS[rng.below(WORDS.len())] };
                    text.push_str(word);
                    text.push_str(if i % 12 == 11 { ".\r\n" } else { " " });
                }
                text
            };
            let subject = words(5).trim().to_owned();
            let body = words(150 + n % 600);
            let head = format!(
                "From: Sender {n} <sender{n}@remote.test>\r\nTo: User <{USER}>\r\nCc: team{}@remote.test\r\n\
Subject: {subject}\r\nDate: Wed, 25 Nov 2026 {:02}:{:02}:00 +0000\r\nMessage-ID: <{n}@remote.test>\r\nMIME-Version: 1.0\r\n",
                n % 7,
                n / 60 % 24,
                n % 60
            );
            if n % 5 < 3 {
                format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").into_bytes()
            } else {
                format!(
                    "{head}Content-Type: multipart/alternative; boundary=\"b{n}\"\r\n\r\n--b{n}\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--b{n}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>{body}</p></body></html>\r\n--b{n}--\r\n"
                )
                .into_bytes()
            }
        })
        .collect()
}
