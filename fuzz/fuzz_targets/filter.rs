//! Whatever a message holds, the filter's tokens, rules, tab rules, HTML
//! reading and link extraction finish without a panic (they read raw mail
//! from the network).
#![no_main]

use estafeta_filter::dnsbl::{linked_domains, registered_domain};
use estafeta_filter::rules::{check, Context};
use estafeta_filter::tabs::signals;
use estafeta_filter::tokens::tokens;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let found = tokens(data);
    assert!(found.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    let ours = ["example.com".to_owned()];
    // Both ways a message can arrive: with SMTPUTF8 announced or without.
    let smtputf8 = data.len() % 2 == 1;
    for hit in check(data, &Context { our_domains: &ours, now: 1_795_687_200, smtputf8 }) {
        // Rules count for or (a bulk sender's practice) against spam.
        assert!(hit.score != 0.0 && !hit.text.is_empty());
    }
    // Every tag, comment or reference shrinks to at most its own length.
    let html = String::from_utf8_lossy(data);
    assert!(estafeta_filter::html::visible_text(&html).len() <= html.len());
    if let Some(parsed) = mail_parser::MessageParser::default().parse(data) {
        let tab_signals = signals(&parsed, &[]);
        let _ = tab_signals.choice();
        for domain in linked_domains(&parsed) {
            assert!(domain.contains('.') && !domain.starts_with('.'), "{domain}");
            assert_eq!(registered_domain(&domain).as_deref(), Some(domain.as_str()));
        }
    }
});
