//! The end of a transaction: trace headers, sender authentication, then
//! one durable write for all local recipients and one queue entry for the
//! remote ones, all before the 250 (nothing acknowledged is lost).
//!
//! The message is parsed once here, and that one parse serves the
//! submission checks, sender authentication, the complaint and bounce
//! readers and the filter. The bytes are held once too: every stored copy
//! is its own head before the one shared buffer.

use crate::Mode;
use crate::authcheck::{self, Envelope};
use crate::filtering;
use crate::proto::{Reply, ReversePath};
use crate::session::{Authenticated, Helo, Session, Target, Transaction};
use estafeta_store::{Acceptance, Composed, LocalCopy, NewQueuedMessage, QueueRecipient, QueuedCopy};
use mail_auth::AuthenticatedMessage;
use mail_parser::MessageParser;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Who handed a message over, and how: what delivery reads of the SMTP
/// session that brought it, or of a JMAP submission (RFC 8621 7).
pub struct Origin<'a> {
    pub mode: Mode,
    pub helo: Option<&'a Helo>,
    pub auth: Option<&'a Authenticated>,
    pub peer: std::net::IpAddr,
    pub tls: bool,
    /// The Received field's protocol when it is not SMTP's own (RFC 3848).
    pub protocol: Option<&'static str>,
}

pub async fn deliver(session: &mut Session, transaction: Transaction, message: Vec<u8>) -> Reply {
    let origin = Origin {
        mode: session.mode,
        helo: session.helo.as_ref(),
        auth: session.auth.as_ref(),
        peer: session.io.connection.peer.ip(),
        tls: session.io.connection.is_tls(),
        protocol: None,
    };
    accept(&session.context, &origin, transaction, message).await
}

/// Takes a message that came in as `origin` says: checks, filing, one
/// durable write, the reply.
pub async fn accept(
    context: &Arc<crate::SmtpContext>,
    origin: &Origin<'_>,
    transaction: Transaction,
    message: Vec<u8>,
) -> Reply {
    let context = Arc::clone(context);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let id = format!("{:016x}", rand::random::<u64>());
    let sender = match &transaction.from {
        ReversePath::Null => String::new(),
        ReversePath::Mailbox(mailbox) => mailbox.to_string(),
    };
    let helo = origin.helo.map(|h| h.name.clone()).unwrap_or_default();
    let ip = origin.peer;

    // RFC 5321 6.3: a message that has passed this many hosts is looping
    // (an alias forwarding to an address that forwards back, say).
    let hops = received_count(&message);
    if hops > context.config.smtp.max_hops as usize {
        tracing::warn!(%id, peer = %ip, from = %sender, hops, "refused: mail loop");
        return Reply::new(
            554,
            "5.4.6",
            format!("Too many hops ({hops} Received fields): mail loop"),
        );
    }

    let message = Arc::new(strip_foreign_verdicts(message, &context.config.hostname));
    let parsed = MessageParser::default().parse(&message[..]);
    // What DKIM, ARC and DMARC read (and the submission From: check): a
    // view over the same parse, made only when one of them runs. A
    // message with no header field has nothing for them to read.
    let checks_sender = origin.mode == Mode::Mx && context.config.smtp.verify_sender && context.resolver.is_some();
    let authenticated = parsed
        .as_ref()
        .filter(|p| (origin.auth.is_some() || checks_sender) && !p.root_part().headers.is_empty())
        .map(|p| AuthenticatedMessage::from_parsed(p, &message, true));

    if let Some(auth) = origin.auth {
        // RFC 6409 8: the MSA may check what it submits; the From: header
        // must name the authenticated user too, not only the envelope.
        let from = authenticated.as_ref().map(|m| m.from.clone()).unwrap_or_default();
        if from.is_empty() {
            return Reply::new(550, "5.7.1", "A From: header with your address is required");
        }
        for address in &from {
            match crate::policy::sender_belongs(&context, address, auth).await {
                Ok(true) => {}
                Ok(false) => return Reply::new(550, "5.7.1", format!("From: {address} is not your address")),
                Err(reply) => return reply,
            }
        }
    }

    let mut trace = String::new();
    let mut auth_summary = estafeta_filter::AuthSummary::default();
    if origin.mode == Mode::Mx
        && context.config.smtp.verify_sender
        && let Some(resolver) = &context.resolver
    {
        let envelope = Envelope {
            ip,
            helo: &helo,
            mail_from: &sender,
        };
        let verdict = authcheck::check(
            resolver,
            &context.config.hostname,
            &envelope,
            authenticated.as_ref(),
            context.config.smtp.dmarc_reject,
        )
        .await;
        if let Some(reply) = verdict.reject {
            return reply;
        }
        trace.push_str(&verdict.header);
        auth_summary = verdict.summary;
    }
    let single = (transaction.recipients.len() == 1).then(|| transaction.recipients[0].address.as_str());
    trace.push_str(&received(
        origin,
        &context.config.hostname,
        &transaction,
        &helo,
        &id,
        single,
        now,
    ));
    // The Message-ID the message leaves with: replies to it are the
    // sender's own conversations.
    let mut sent_id = parsed.as_ref().and_then(|p| p.message_id()).map(str::to_owned);
    if origin.auth.is_some() {
        let (fields, added) = missing_fields(&message, &id, &context.config.hostname, now);
        trace.push_str(&fields);
        sent_id = sent_id.or(added);
    }

    let mut accounts = BTreeSet::new();
    let mut remote = Vec::new();
    let mut bounces = Vec::new();
    // Our alias addresses that forward elsewhere, as the client named them.
    let mut forwarders: Vec<&str> = Vec::new();
    for recipient in &transaction.recipients {
        match &recipient.target {
            Target::Local(account) => {
                accounts.insert(*account);
            }
            Target::Bounce(delivery) => bounces.push(delivery),
            Target::Forward(address) | Target::Remote(address) | Target::Returned(address) => {
                if let Target::Forward(_) = &recipient.target {
                    forwarders.push(recipient.address.as_str());
                }
                if !remote.iter().any(|r: &QueueRecipient| r.address == *address) {
                    remote.push(QueueRecipient {
                        address: address.clone(),
                        orcpt: recipient.params.orcpt.clone(),
                        notify: recipient.params.notify.map(|n| n.to_param()),
                    });
                }
            }
        }
    }

    // A complaint (ARF) about mail we sent, to a VERP address or to an
    // abuse/feedback mailbox of ours: the recipient is suppressed at once.
    let mut complaint = false;
    if let Some(ledger) = &context.ledger
        && let Some(parsed) = &parsed
        && origin.mode == Mode::Mx
        && (!bounces.is_empty() || !accounts.is_empty())
    {
        match ledger.complaint_received(parsed).await {
            Ok(found) => complaint = found.is_some(),
            Err(error) => {
                tracing::error!(%error, "could not record a complaint");
                return Reply::new(451, "4.3.0", "Temporary failure recording the report, try again later");
            }
        }
    }
    // A bounce (null reverse-path, RFC 5321 4.5.5) that reached a user
    // rather than a VERP address still names what it is about.
    if let Some(ledger) = &context.ledger
        && let Some(parsed) = &parsed
        && origin.mode == Mode::Mx
        && !complaint
        && bounces.is_empty()
        && !accounts.is_empty()
        && sender.is_empty()
        && let Err(error) = ledger.quoted_bounce(parsed).await
    {
        tracing::error!(%error, "could not record a bounce");
        return Reply::new(451, "4.3.0", "Temporary failure recording the bounce, try again later");
    }
    // What the transaction leaves behind is gathered here and written in
    // one store transaction at the end, after every decision: a refusal
    // leaves nothing behind, and a 451 leaves nothing a retry duplicates.
    let mut local_copies = Vec::new();
    // Bounces to our VERP addresses go to the ledger, then to the user
    // who sent the message, as a bounce to their own address would.
    if let Some(ledger) = &context.ledger
        && !complaint
    {
        for delivery in bounces.iter().copied() {
            if let Some(parsed) = &parsed
                && let Err(error) = ledger.bounce_received(delivery, parsed).await
            {
                tracing::error!(%error, "could not record a bounce");
                return Reply::new(451, "4.3.0", "Temporary failure recording the bounce, try again later");
            }
            if let Some((local, domain)) = delivery.sender.rsplit_once('@')
                && let Ok(Some(Target::Local(account))) =
                    crate::policy::local_target(&context, &local.to_lowercase(), &domain.to_lowercase()).await
            {
                match bounce_to_sender(&context, account, &trace, &message).await {
                    Ok(Some(copy)) => local_copies.push(copy),
                    Ok(None) => {}
                    Err(reply) => return reply,
                }
            }
        }
    }

    // The filter judges mail from outside; our own users' mail to each
    // other is person-to-person.
    let analysis = match (&context.filter, origin.mode) {
        (Some(filter), Mode::Mx) if filter.enabled() && (!accounts.is_empty() || !forwarders.is_empty()) => {
            let input = estafeta_filter::Input {
                message: &message,
                parsed: parsed.as_ref(),
                ip: Some(ip),
                mail_from: &sender,
                auth: auth_summary,
                smtputf8: transaction.params.smtputf8,
            };
            Some(filter.analyze(&input).await)
        }
        _ => None,
    };
    if let (Some(analysis), Some(filter)) = (&analysis, &context.filter) {
        let verdict = filter.verdict(analysis, None).await;
        let score = verdict.score;
        if let Some(reply) = filtering::refusal(&context, analysis, score) {
            tracing::info!(%id, peer = %ip, from = %sender, score, "refused as spam");
            return reply;
        }
        // Spam is not forwarded: we would relay it, and its bounces would
        // go to a forged sender (backscatter). Refused when nobody here
        // gets it, so the sending server, not we, tells its sender.
        if verdict.is_spam() && !forwarders.is_empty() {
            let forwarded: Vec<String> = forwarders.iter().map(|f| (*f).to_owned()).collect();
            remote.retain(|r| !is_forward_of(&transaction, &r.address));
            forwarders.clear();
            if accounts.is_empty() && bounces.is_empty() && remote.is_empty() {
                tracing::info!(%id, peer = %ip, from = %sender, score, "refused: spam for forwarding");
                return Reply::new(
                    550,
                    "5.7.1",
                    format!("Message looks like spam (score {score:.1}); not forwarded"),
                );
            }
            tracing::info!(%id, peer = %ip, from = %sender, score, ?forwarded, "spam not forwarded; filed for local recipients");
        }
    }
    if let Some(auth) = origin.auth {
        let recipients: Vec<String> = transaction.recipients.iter().map(|r| r.address.clone()).collect();
        filtering::remember_sent(&context, &auth.address, &recipients, sent_id.as_deref()).await;
    }

    if !accounts.is_empty() {
        let groups = match filtering::targets(&context, analysis.as_ref(), accounts).await {
            Ok(groups) => groups,
            Err(reply) => return reply,
        };
        // RFC 5321 4.4: Return-Path is added at final delivery.
        let return_path = format!("Return-Path: <{sender}>\r\n");
        for group in groups {
            let head = [return_path.as_bytes(), group.headers.as_bytes(), trace.as_bytes()].concat();
            local_copies.push(LocalCopy {
                message: Composed::new(head, Arc::clone(&message)),
                targets: group.targets,
            });
        }
    }
    let queued = if !remote.is_empty() {
        let entry = NewQueuedMessage {
            sender: forwarding_sender(&context, &sender, &forwarders).await,
            recipients: remote,
            envid: transaction.params.envid.clone(),
            ret: transaction.params.ret.map(|ret| match ret {
                crate::proto::Ret::Full => "FULL".to_owned(),
                crate::proto::Ret::Headers => "HDRS".to_owned(),
            }),
        };
        Some(QueuedCopy {
            message: Composed::new(trace.clone().into_bytes(), Arc::clone(&message)),
            entry,
        })
    } else {
        None
    };

    let queues = queued.is_some();
    let acceptance = Acceptance {
        internal_date: now,
        local: local_copies,
        queued,
    };
    if let Err(error) = context.store.accept(acceptance).await {
        tracing::error!(%error, "could not store the message");
        return Reply::new(451, "4.3.0", "Temporary failure storing the message, try again later");
    }
    if queues {
        context.queue_wake.notify_one();
    }
    context
        .metrics
        .counter(
            "estafeta_smtp_messages_total",
            "Messages accepted over SMTP.",
            &[("mode", mode_name(origin.mode))],
        )
        .inc();
    tracing::info!(%id, peer = %ip, from = %sender, recipients = transaction.recipients.len(), "accepted");
    Reply::new(250, "2.0.0", format!("Message accepted as {id}"))
}

/// A bounce about a user's message goes to their INBOX, past the filter,
/// as our own DSNs do: it is about mail they sent.
async fn bounce_to_sender(
    context: &crate::SmtpContext,
    account: estafeta_core::model::AccountId,
    trace: &str,
    message: &Arc<Vec<u8>>,
) -> Result<Option<LocalCopy>, Reply> {
    let inbox = context
        .store
        .mailbox_by_role(account, estafeta_core::model::MailboxRole::Inbox)
        .await
        .map_err(|error| {
            tracing::error!(%error, "could not find the INBOX of a bounce's sender");
            Reply::new(451, "4.3.0", "Temporary failure storing the message, try again later")
        })?;
    let Some(inbox) = inbox else {
        return Ok(None);
    };
    let head = [b"Return-Path: <>\r\n", trace.as_bytes()].concat();
    Ok(Some(LocalCopy {
        message: Composed::new(head, Arc::clone(message)),
        targets: vec![estafeta_store::DeliveryTarget {
            mailbox: inbox.id,
            flags: Default::default(),
        }],
    }))
}

/// Whether `address` is reached through one of our aliases in this
/// transaction (not sent to by an authenticated user).
fn is_forward_of(transaction: &Transaction, address: &str) -> bool {
    transaction
        .recipients
        .iter()
        .any(|r| matches!(&r.target, Target::Forward(to) if to == address))
}

/// The envelope sender forwarded mail leaves with: an SRS address of the
/// forwarding alias's domain for a sender elsewhere, so SPF at the next
/// hop checks us and bounces come back to us; our own users' addresses
/// and the null sender as they are.
async fn forwarding_sender(context: &crate::SmtpContext, sender: &str, forwarders: &[&str]) -> String {
    let (Some(forwarder), Some(ledger)) = (forwarders.first(), &context.ledger) else {
        return sender.to_owned();
    };
    let Some((_, sender_domain)) = sender.rsplit_once('@') else {
        return sender.to_owned();
    };
    if context
        .store
        .domain_is_local(&sender_domain.to_ascii_lowercase())
        .await
        .unwrap_or(false)
    {
        return sender.to_owned();
    }
    let domain = forwarder.rsplit_once('@').map_or(forwarder.as_ref(), |(_, d)| d);
    ledger
        .srs()
        .forward(sender, domain, estafeta_deliverability::srs::today())
        .unwrap_or_else(|| sender.to_owned())
}

/// Received fields in the header (RFC 5321 6.3 counts them for loops).
fn received_count(message: &[u8]) -> usize {
    let head = &message[..find_header_end(message)];
    head.split(|&b| b == b'\n')
        .filter(|line| line.len() > 9 && line[..9].eq_ignore_ascii_case(b"received:"))
        .count()
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Mx => "mx",
        Mode::Submission => "submission",
    }
}

/// RFC 6409 8.1 and 8.3: a submission server adds the Date and the
/// Message-ID a message lacks (bounces and replies are matched by the
/// Message-ID).
/// The fields to add, and the Message-ID when one is added.
fn missing_fields(message: &[u8], id: &str, hostname: &str, now: i64) -> (String, Option<String>) {
    let head = String::from_utf8_lossy(&message[..find_header_end(message)]).to_ascii_lowercase();
    let has = |name: &str| head.split("\n").any(|line| line.starts_with(name));
    let mut fields = String::new();
    if !has("date:") {
        fields.push_str(&format!("Date: {}\r\n", rfc5322_date(now)));
    }
    let mut added = None;
    if !has("message-id:") {
        let message_id = format!("{id}.{now}@{hostname}");
        fields.push_str(&format!("Message-ID: <{message_id}>\r\n"));
        added = Some(message_id);
    }
    (fields, added)
}

/// RFC 5321 4.4 trace field, with the RFC 3848 / RFC 6531 protocol name.
fn received(
    origin: &Origin<'_>,
    hostname: &str,
    transaction: &Transaction,
    helo: &str,
    id: &str,
    single: Option<&str>,
    now: i64,
) -> String {
    let extended = origin.helo.is_some_and(|h| h.extended);
    let mut protocol = String::from(match (origin.protocol, transaction.params.smtputf8, extended) {
        (Some(other), ..) => other,
        (None, true, _) => "UTF8SMTP",
        (None, false, true) => "ESMTP",
        (None, false, false) => "SMTP",
    });
    if origin.tls {
        protocol.push('S');
    }
    if origin.auth.is_some() {
        protocol.push('A');
    }
    let literal = match origin.peer {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("IPv6:{v6}"),
    };
    let helo: String = helo
        .chars()
        .filter(|c| !c.is_control() && *c != '(' && *c != ')')
        .collect();
    let mut header =
        format!("Received: from {helo} ([{literal}])\r\n\tby {hostname} (Estafeta) with {protocol} id {id}");
    if let Some(recipient) = single {
        header.push_str(&format!("\r\n\tfor <{recipient}>"));
    }
    header.push_str(&format!(";\r\n\t{}\r\n", rfc5322_date(now)));
    header
}

/// RFC 8601 5: Authentication-Results claiming to come from us, arriving
/// from outside, are forgeries and are removed before we add ours; so are
/// spam verdicts, which only our filter writes. A message with none (the
/// usual case) is given back as it came, not copied.
fn strip_foreign_verdicts(message: Vec<u8>, hostname: &str) -> Vec<u8> {
    let header_end = find_header_end(&message);
    let foreign = |field: &[u8]| is_our_auth_results(field, hostname) || is_spam_verdict(field);
    if !header_fields(&message[..header_end]).any(foreign) {
        return message;
    }
    let mut out = Vec::with_capacity(message.len());
    for field in header_fields(&message[..header_end]) {
        if !foreign(field) {
            out.extend_from_slice(field);
        }
    }
    out.extend_from_slice(&message[header_end..]);
    out
}

/// The fields of a header, each its first line and every folded line
/// after it: the authserv-id may stand on a continuation line (RFC 5322
/// 2.2.3).
fn header_fields(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= head.len() {
            return None;
        }
        let mut end = start;
        loop {
            end = head[end..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(head.len(), |i| end + i + 1);
            if end >= head.len() || !matches!(head.get(end), Some(b' ' | b'\t')) {
                break;
            }
        }
        let field = &head[start..end];
        start = end;
        Some(field)
    })
}

fn is_spam_verdict(field: &[u8]) -> bool {
    let Some(colon) = field.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = field[..colon].trim_ascii();
    estafeta_filter::verdict::HEADERS
        .iter()
        .any(|header| name.eq_ignore_ascii_case(header.as_bytes()))
}

/// RFC 8601 2.2: the value starts with the authserv-id, after any CFWS
/// (folding white space and comments, which may nest).
fn is_our_auth_results(field: &[u8], hostname: &str) -> bool {
    let Some(colon) = field.iter().position(|&b| b == b':') else {
        return false;
    };
    if !field[..colon]
        .trim_ascii()
        .eq_ignore_ascii_case(b"Authentication-Results")
    {
        return false;
    }
    let value = String::from_utf8_lossy(&field[colon + 1..]);
    let mut depth = 0usize;
    let mut rest = value.as_ref();
    while let Some(c) = rest.chars().next() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '\\' if depth > 0 => rest = rest.get(1..).unwrap_or(""),
            c if c.is_whitespace() => {}
            _ if depth > 0 => {}
            _ => break,
        }
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    let authserv = rest
        .split(|c: char| c == ';' || c == '(' || c.is_whitespace())
        .next()
        .unwrap_or("");
    // A quoted authserv-id (RFC 8601 2.2: it is a value, so may be quoted).
    let authserv = authserv.trim_matches('"');
    authserv.eq_ignore_ascii_case(hostname)
}

/// Offset just past the blank line ending the header (or the whole message).
fn find_header_end(message: &[u8]) -> usize {
    let mut at = 0;
    while at < message.len() {
        if message[at..].starts_with(b"\r\n") {
            return at + 2;
        }
        if message[at] == b'\n' {
            return at + 1;
        }
        match message[at..].iter().position(|&b| b == b'\n') {
            Some(i) => at += i + 1,
            None => return message.len(),
        }
    }
    message.len()
}

/// RFC 5322 3.3 date-time in UTC, e.g. `Thu, 26 Nov 2026 05:23:04 +0000`.
pub fn rfc5322_date(secs: i64) -> String {
    use estafeta_core::time::{DAY_NAMES, MONTH_NAMES, civil};
    let c = civil(secs);
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        DAY_NAMES[c.weekday as usize],
        c.day,
        MONTH_NAMES[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_795_670_584), "Thu, 26 Nov 2026 05:23:04 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn strips_forged_auth_results_and_verdicts() {
        let message = b"Authentication-Results: mx.test; spf=pass\r\n\tsmtp.mailfrom=x\r\nX-Spam-Status: No, score=-9\r\n\ttests=FORGED\r\nAuthentication-Results: other.test; dkim=pass\r\nx-spam-score: -9\r\nSubject: hi\r\n\r\nAuthentication-Results: mx.test; body stays\r\n";
        let out = strip_foreign_verdicts(message.to_vec(), "MX.test");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Authentication-Results: other.test; dkim=pass\r\nSubject: hi\r\n\r\nAuthentication-Results: mx.test; body stays\r\n"
        );
    }

    #[test]
    fn a_message_with_nothing_to_strip_is_given_back_not_copied() {
        let message = b"Authentication-Results: other.test; dkim=pass\r\nSubject: hi\r\n\r\nbody\r\n".to_vec();
        let (at, length) = (message.as_ptr(), message.len());
        let out = strip_foreign_verdicts(message, "mx.test");
        assert_eq!((out.as_ptr(), out.len()), (at, length));
    }

    #[test]
    fn strips_forged_auth_results_folded_or_behind_comments() {
        // RFC 8601 5: the authserv-id may follow a fold or a comment.
        let message = b"Authentication-Results:\r\n\tmx.test; dmarc=pass\r\n\
Authentication-Results: (forged (nested)) MX.TEST;\r\n spf=pass\r\n\
Authentication-Results: \"mx.test\"; dkim=pass\r\n\
Authentication-Results:\r\n other.test; spf=fail\r\nSubject: hi\r\n\r\nbody\r\n";
        let out = strip_foreign_verdicts(message.to_vec(), "mx.test");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Authentication-Results:\r\n other.test; spf=fail\r\nSubject: hi\r\n\r\nbody\r\n"
        );
    }
}
