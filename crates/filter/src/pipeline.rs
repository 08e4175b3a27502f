//! The verdict pipeline. Once per message at DATA: the rules, what sender
//! authentication found, the blocklists and the tokens (`analyze`). Then
//! for each recipient: the Bayesian classifier over the server's and the
//! recipient's own knowledge, the recipient's correspondents, the
//! threshold and the tab (`verdict`). Learning (training, a user's moves)
//! writes to the store, so every node scores alike.

use crate::auth::{self, AuthSummary};
use crate::bayes::Model;
use crate::tabs::{self, TabModel, TabSignals};
use crate::tokens::{self, hash};
use crate::verdict::{Destination, Reason, Tab, Verdict};
use crate::{dnsbl, rules};
use estafeta_core::config::Config;
use estafeta_core::model::AccountId;
use estafeta_net::dns::Resolver;
use estafeta_store::{Classifier, ModelScope, Store, StoreError, TokenCounts, Training};
use mail_parser::MessageParser;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Bayes probability to points: from sure ham to sure spam. On the
/// labelled corpus (bench/spam-eval) a probability of 0.9 or more is spam
/// with a ham false-positive rate near 0.1%, so it files in Junk on its
/// own; below that it needs the rules' help.
const BAYES_POINTS: &[(f64, &str, f64)] = &[
    (0.99, "BAYES_99", 6.0),
    (0.90, "BAYES_90", 5.0),
    (0.80, "BAYES_80", 3.0),
    (0.60, "BAYES_60", 1.5),
    (0.40, "BAYES_50", 0.0),
    (0.20, "BAYES_40", -0.5),
    (0.01, "BAYES_20", -1.5),
    (f64::NEG_INFINITY, "BAYES_00", -2.5),
];

/// The most Bayes adds to mail a domain signed: short of the Junk
/// threshold, so words alone do not junk it; a rule must agree. Words are
/// what a model trained on other mail knows least about new mail (the
/// classic corpus's ham has no sign-up confirmations, the phishing it may
/// learn is full of "please confirm your account"), while a signature
/// means a domain answers for the message (and since 2024 the big mailbox
/// providers require one of bulk senders). Signed phishing still carries
/// the rules' marks: links away from its own domain, a borrowed brand.
const SIGNED_BAYES_MOST: f64 = 4.0;
/// A rule agrees with Bayes when it adds this much on its own.
const AGREEING_RULE: f64 = 1.0;

/// How much a ham-ward Bayes score may vouch for a message, by the share of
/// its words the model knows. Ham is familiar (median 95% of its words
/// known on the SpamAssassin corpus, 10th percentile 87%, newsletters
/// 86%); mail in a language or of a kind never learned (the phishing
/// corpus: median 58%) is "ham" to Bayes only for want of spam words.
fn vouching_weight(familiar: f64) -> f64 {
    ((familiar - 0.5) / 0.3).clamp(0.0, 1.0)
}

/// Mail most of whose words the trained model has never met is of a kind
/// (or a language) the server's users have not been receiving: with the
/// SpamAssassin corpus learned, no newsletter of the tab corpus falls
/// under 68% of its words known, 1% of held-out ham under 75%, but two
/// fifths of the phishing never learned under 50%. A hint worth a rule's
/// points, not a verdict: a user whose own mail is in another language
/// trains the model and stops it firing.
const UNFAMILIAR_BELOW: f64 = 0.5;
const UNFAMILIAR_POINTS: f64 = 2.0;

/// How sure the tab classifier must be to overrule the rules.
const TAB_CONFIDENCE: f64 = 0.7;

/// Examples from one sender it takes before they decide its tab (and
/// three in five of them must agree).
const SENDER_EXAMPLES: u64 = 2;

/// The most a sender's history adds (all its mail learned as spam: as
/// much as the default Junk threshold, so a sender users keep moving to
/// Junk goes there on its own) or takes off (all of it learned as ham).
const SENDER_SPAM_POINTS: f64 = 5.0;
const SENDER_HAM_POINTS: f64 = 2.0;

/// Class numbers of the spam classifier.
const HAM: u8 = 0;
const SPAM: u8 = 1;

/// The message and its envelope, as SMTP-in saw them.
pub struct Input<'a> {
    pub message: &'a [u8],
    /// `message` as SMTP-in already parsed it, so a message is parsed once
    /// on its way in; parsed here when `None`.
    pub parsed: Option<&'a mail_parser::Message<'a>>,
    /// The client; `None` for mail not received over the network.
    pub ip: Option<IpAddr>,
    pub mail_from: &'a str,
    pub auth: AuthSummary,
    /// MAIL FROM carried SMTPUTF8 (RFC 6531 3.4).
    pub smtputf8: bool,
}

/// What holds for every recipient of one message.
#[derive(Debug, Clone)]
pub struct Analysis {
    tokens: Vec<u64>,
    reasons: Vec<Reason>,
    signals: TabSignals,
    /// The From: address, lower case.
    from: String,
    /// The Message-IDs it answers (In-Reply-To, References).
    thread: Vec<String>,
    /// A domain signed it (RFC 6376) and no signature was found broken.
    signed: bool,
}

impl Analysis {
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }
}

pub struct Filter {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    resolver: Option<Resolver>,
}

fn server(classifier: Classifier) -> ModelScope {
    ModelScope {
        classifier,
        account: None,
    }
}

fn own(classifier: Classifier, account: AccountId) -> ModelScope {
    ModelScope {
        classifier,
        account: Some(account),
    }
}

/// The token recording which tab an account's user wants a sender's mail in.
fn sender_token(from: &str) -> u64 {
    hash("sender-tab", from)
}

/// The token counting, per tab, the examples the server learned from a
/// sender: providers file a sender's mail where its earlier mail went.
fn sender_examples_token(from: &str) -> u64 {
    hash("sender-examples", from)
}

/// The token counting, as spam and as ham, the messages learned from a
/// sender: its history. Providers and SpamAssassin's TxRep weigh a
/// sender's past the same way; the content of one mail rarely tells a
/// sender who is unwanted from one who is merely bulk.
fn sender_spam_token(from: &str) -> u64 {
    hash("sender-spam", from)
}

/// Points for a sender's learned history: none until `SENDER_EXAMPLES`
/// messages are known; then from `-SENDER_HAM_POINTS` (all ham) through 0
/// (an even split) to `SENDER_SPAM_POINTS` (all spam). Ham counts for
/// less, since a From address is easy to forge and a forger should not
/// borrow a good sender's past.
fn sender_history_points(spam: u64, ham: u64) -> Option<f64> {
    let seen = spam + ham;
    if seen < SENDER_EXAMPLES {
        return None;
    }
    let lean = (spam as f64 - ham as f64) / seen as f64;
    Some(if lean >= 0.0 {
        SENDER_SPAM_POINTS * lean
    } else {
        SENDER_HAM_POINTS * lean
    })
}

/// The From: address of a message, lower case.
pub fn sender_of(message: &[u8]) -> Option<String> {
    MessageParser::default()
        .parse_headers(message)
        .as_ref()
        .and_then(sender_of_parsed)
}

/// The From: address, lower case; none when it is one of the recipients
/// (mail "from" its own recipient is forged or a note to self, and either
/// way says nothing about a sender's history).
fn sender_of_parsed(parsed: &mail_parser::Message) -> Option<String> {
    let from = parsed
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_ascii_lowercase)?;
    (!rules::recipients(parsed).contains(&from)).then_some(from)
}

/// The token recording how a message (by content) was learned, so a user
/// changing their mind untrains it instead of counting it twice.
fn learned_token(message: &[u8]) -> u64 {
    hash("learned", &estafeta_store::BlobId::of(message).to_string())
}

/// Server counts plus `weight` times the account's, per class.
fn pool(
    server: &TokenCounts,
    account: Option<&TokenCounts>,
    weight: u64,
) -> (HashMap<u8, u64>, HashMap<u64, HashMap<u8, u64>>) {
    let mut totals = server.totals.clone();
    let mut tokens = server.tokens.clone();
    if let Some(account) = account {
        for (class, count) in &account.totals {
            *totals.entry(*class).or_default() += count * weight;
        }
        for (token, classes) in &account.tokens {
            let entry = tokens.entry(*token).or_default();
            for (class, count) in classes {
                *entry.entry(*class).or_default() += count * weight;
            }
        }
    }
    (totals, tokens)
}

impl Filter {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, resolver: Option<Resolver>) -> Filter {
        Filter {
            config,
            store,
            resolver,
        }
    }

    pub fn enabled(&self) -> bool {
        self.config.filter.enabled
    }

    /// Everything that does not depend on the recipient.
    pub async fn analyze(&self, input: &Input<'_>) -> Analysis {
        let own;
        let parsed = match input.parsed {
            Some(parsed) => Some(parsed),
            None => {
                own = MessageParser::default().parse(input.message);
                own.as_ref()
            }
        };
        let our_domains: Vec<String> = match self.store.domain_list().await {
            Ok(domains) => domains.into_iter().map(|d| d.name).collect(),
            Err(error) => {
                tracing::warn!(%error, "filter: cannot list our domains");
                Vec::new()
            }
        };
        let context = rules::Context {
            our_domains: &our_domains,
            now: estafeta_core::time::now(),
            smtputf8: input.smtputf8,
        };
        let mut reasons: Vec<Reason> = rules::check_parsed(input.message, parsed, &context)
            .into_iter()
            .map(|hit| Reason::new(hit.rule, hit.score, hit.text))
            .collect();
        reasons.extend(auth::reasons(&input.auth));
        let filter = &self.config.filter;
        if let Some(resolver) = &self.resolver {
            let domains = parsed.map(dnsbl::linked_domains).unwrap_or_default();
            reasons.extend(
                dnsbl::check(
                    resolver,
                    input.ip,
                    &domains,
                    &filter.dnsbl,
                    &filter.uribl,
                    filter.dns_timeout,
                )
                .await,
            );
        }
        let from = parsed.and_then(sender_of_parsed).unwrap_or_default();
        let signals = parsed
            .as_ref()
            .map(|p| tabs::signals(p, &filter.social_domains))
            .unwrap_or_default();
        // A free mailbox provider signs all its users' mail, anyone's.
        let free_sender = from
            .rsplit_once('@')
            .is_some_and(|(_, domain)| estafeta_verify::lists::is_free(domain));
        let signed = input.auth.dkim != auth::Outcome::Fail
            && !free_sender
            && parsed.is_some_and(|p| p.header_raw("DKIM-Signature").is_some());
        Analysis {
            signed,
            thread: parsed.map(tabs::thread_ids).unwrap_or_default(),
            tokens: tokens::tokens_of(parsed),
            reasons,
            signals,
            from,
        }
    }

    /// The verdict for one recipient (`None`: the server's view alone).
    pub async fn verdict(&self, analysis: &Analysis, recipient: Option<(AccountId, &str)>) -> Verdict {
        let filter = &self.config.filter;
        let mut reasons = analysis.reasons.clone();
        match self.spam_knowledge(analysis, recipient.map(|r| r.0)).await {
            Ok(knowledge) => {
                if let Some(probability) = knowledge.probability {
                    let (_, rule, points) = BAYES_POINTS
                        .iter()
                        .find(|(floor, _, _)| probability >= *floor)
                        .expect("the last floor is -inf");
                    let points = if *points < 0.0 {
                        *points * vouching_weight(knowledge.familiar)
                    } else if analysis.signed && !analysis.reasons.iter().any(|r| r.score >= AGREEING_RULE) {
                        points.min(SIGNED_BAYES_MOST)
                    } else {
                        *points
                    };
                    if knowledge.familiar < UNFAMILIAR_BELOW {
                        reasons.push(Reason::new(
                            "UNFAMILIAR_WORDS",
                            UNFAMILIAR_POINTS,
                            format!(
                                "only {:.0}% of its words are known from the mail learned",
                                knowledge.familiar * 100.0
                            ),
                        ));
                    }
                    reasons.push(Reason::new(
                        *rule,
                        points,
                        format!(
                            "Bayesian spam probability {probability:.3}, {:.0}% of its words known",
                            knowledge.familiar * 100.0
                        ),
                    ));
                }
                let (spam, ham) = knowledge.sender;
                if let Some(points) = sender_history_points(spam, ham)
                    && points != 0.0
                {
                    reasons.push(Reason::new(
                        if points > 0.0 {
                            "SENDER_SPAM_HISTORY"
                        } else {
                            "SENDER_HAM_HISTORY"
                        },
                        points,
                        format!(
                            "of the mail learned from {}, {spam} was spam and {ham} not",
                            analysis.from
                        ),
                    ));
                }
            }
            Err(error) => tracing::warn!(%error, "filter: cannot read the Bayes tokens"),
        }
        let correspondent = match recipient {
            Some((account, _)) if !analysis.from.is_empty() => or_unknown(
                self.store.correspondent_known(account, &analysis.from).await,
                "correspondents",
            ),
            _ => false,
        };
        if correspondent {
            reasons.push(Reason::new(
                "KNOWN_CORRESPONDENT",
                -3.0,
                format!("{} is someone the user wrote to or rescued from Junk", analysis.from),
            ));
        }
        let answers_own = match recipient {
            Some((account, _)) if !analysis.thread.is_empty() => or_unknown(
                self.store.sent_id_known(account, &analysis.thread).await,
                "sent Message-IDs",
            ),
            _ => false,
        };
        if answers_own {
            reasons.push(Reason::new("REPLY_TO_OWN_MAIL", -3.0, "a reply to mail the user sent"));
        }
        let score: f64 = reasons.iter().map(|r| r.score).sum();
        let required = recipient.map_or(filter.junk_score, |(_, address)| filter.junk_score_of(address));
        let gtube = reasons.iter().any(|r| r.rule == "GTUBE");
        if gtube || score >= required {
            return Verdict {
                score,
                required,
                reasons,
                destination: Destination::Junk,
                tab_reason: String::new(),
            };
        }
        let (tab, tab_reason) = match recipient {
            Some((_, address)) if !filter.tabs_of(address) => (Tab::Primary, "tabs are off".to_owned()),
            None if !filter.tabs => (Tab::Primary, "tabs are off".to_owned()),
            _ => {
                self.tab(analysis, recipient.map(|r| r.0), correspondent, answers_own)
                    .await
            }
        };
        Verdict {
            score,
            required,
            reasons,
            destination: Destination::Tab(tab),
            tab_reason,
        }
    }

    /// What the spam classifier knows of this message: the Bayesian
    /// probability (once enough of both is learned) and its sender's
    /// history, from one read of each model.
    async fn spam_knowledge(
        &self,
        analysis: &Analysis,
        account: Option<AccountId>,
    ) -> Result<SpamKnowledge, StoreError> {
        let sender = (!analysis.from.is_empty()).then(|| sender_spam_token(&analysis.from));
        let mut wanted = analysis.tokens.clone();
        wanted.extend(sender);
        let server = self.store.tokens_get(server(Classifier::Spam), &wanted).await?;
        let account = match account {
            Some(account) => Some(self.store.tokens_get(own(Classifier::Spam, account), &wanted).await?),
            None => None,
        };
        let (totals, mut counts) = pool(&server, account.as_ref(), u64::from(self.config.filter.account_weight));
        let history = sender
            .and_then(|token| counts.remove(&token))
            .map(|classes| {
                let count = |class| classes.get(&class).copied().unwrap_or(0);
                (count(SPAM), count(HAM))
            })
            .unwrap_or((0, 0));
        let total = |class| totals.get(&class).copied().unwrap_or(0).min(u64::from(u32::MAX)) as u32;
        let (spam, ham) = (total(SPAM), total(HAM));
        let min = self.config.filter.min_learned;
        let familiar = analysis
            .tokens
            .iter()
            .filter(|token| {
                counts
                    .get(token)
                    .is_some_and(|classes| classes.values().sum::<u64>() >= 2)
            })
            .count() as f64
            / analysis.tokens.len().max(1) as f64;
        let probability = (spam >= min && ham >= min).then(|| {
            let counts = counts.into_iter().map(|(token, classes)| {
                let count = |class| classes.get(&class).copied().unwrap_or(0).min(u64::from(u32::MAX)) as u32;
                (token, (count(SPAM), count(HAM)))
            });
            Model::from_counts(spam, ham, counts).score(&analysis.tokens)
        });
        Ok(SpamKnowledge {
            probability,
            familiar,
            sender: history,
        })
    }

    async fn tab(
        &self,
        analysis: &Analysis,
        account: Option<AccountId>,
        correspondent: bool,
        answers_own: bool,
    ) -> (Tab, String) {
        // The user's own word about this sender comes first.
        if let Some(account) = account
            && !analysis.from.is_empty()
        {
            let token = sender_token(&analysis.from);
            if let Ok(counts) = self.store.tokens_get(own(Classifier::Tabs, account), &[token]).await
                && let Some((class, _)) = counts
                    .tokens
                    .get(&token)
                    .and_then(|classes| classes.iter().filter(|(_, n)| **n > 0).max_by_key(|(_, n)| **n))
                && let Some(tab) = Tab::from_class(*class)
            {
                return (
                    tab,
                    format!("the user moved mail from {} to {}", analysis.from, tab.name()),
                );
            }
        }
        // A conversation the user is in, even when it comes through a list.
        if answers_own {
            return (Tab::Primary, "a reply to mail the user sent".into());
        }
        if correspondent && !analysis.signals.bulk {
            return (Tab::Primary, "from a correspondent".into());
        }
        if !analysis.from.is_empty() && !analysis.signals.reply {
            let token = sender_examples_token(&analysis.from);
            match self.store.tokens_get(server(Classifier::Tabs), &[token]).await {
                Ok(counts) => {
                    if let Some(classes) = counts.tokens.get(&token) {
                        let seen: u64 = classes.values().sum();
                        if let Some((class, n)) = classes.iter().max_by_key(|(_, n)| **n)
                            && seen >= SENDER_EXAMPLES
                            && *n * 5 >= seen * 3
                            && let Some(tab) = Tab::from_class(*class)
                        {
                            return (
                                tab,
                                format!("{n} of {seen} examples from {} are {}", analysis.from, tab.name()),
                            );
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "filter: cannot read the sender's examples"),
            }
        }
        let rules_tab = analysis.signals.choice();
        let rules_reason = if analysis.signals.reasons.is_empty() {
            "nothing marks it as bulk or automated".to_owned()
        } else {
            analysis.signals.reasons.join("; ")
        };
        match self.tab_model(&analysis.tokens, account).await {
            Ok(Some(model)) => {
                let posterior = model.posterior(&analysis.tokens);
                let (best, p) = posterior
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(class, p)| (Tab::from_class(class as u8).unwrap_or(Tab::Primary), *p))
                    .unwrap_or((Tab::Primary, 0.0));
                // What the headers declare (a reply, a list post) is not
                // overruled by words alone.
                let declared = analysis.signals.reply || analysis.signals.discussion;
                if p >= TAB_CONFIDENCE && best != rules_tab && !declared {
                    return (best, format!("learned from examples ({:.0}% sure)", p * 100.0));
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "filter: cannot read the tab tokens"),
        }
        (rules_tab, rules_reason)
    }

    async fn tab_model(&self, tokens: &[u64], account: Option<AccountId>) -> Result<Option<TabModel>, StoreError> {
        let server = self.store.tokens_get(server(Classifier::Tabs), tokens).await?;
        let account = match account {
            Some(account) => Some(self.store.tokens_get(own(Classifier::Tabs, account), tokens).await?),
            None => None,
        };
        let (totals, counts) = pool(&server, account.as_ref(), u64::from(self.config.filter.account_weight));
        let mut class_totals = [0.0; 4];
        for tab in Tab::ALL {
            class_totals[tab.class() as usize] = totals.get(&tab.class()).copied().unwrap_or(0) as f64;
        }
        let counts = counts
            .into_iter()
            .map(|(token, classes)| {
                let mut row = [0.0; 4];
                for tab in Tab::ALL {
                    row[tab.class() as usize] = classes.get(&tab.class()).copied().unwrap_or(0) as f64;
                }
                (token, row)
            })
            .collect();
        let model = TabModel::new(class_totals, counts);
        Ok(model
            .trained(f64::from(self.config.filter.tab_min_learned))
            .then_some(model))
    }

    /// A user's verdict on a message: spam (moved into Junk) or not (moved
    /// out). Trains the account's model and the server's; a message
    /// learned the other way before is untrained first, one learned this
    /// way already is left alone.
    pub async fn learn_spam(&self, account: AccountId, message: &[u8], spam: bool) -> Result<(), StoreError> {
        let class = if spam { SPAM } else { HAM };
        let marker = learned_token(message);
        let scope = own(Classifier::Spam, account);
        let before = self.store.tokens_get(scope, &[marker]).await?;
        let previous = before.tokens.get(&marker).and_then(|c| c.keys().next().copied());
        if previous == Some(class) {
            return Ok(());
        }
        let mut tokens = tokens::tokens(message);
        let sender = sender_of(message);
        tokens.extend(sender.as_deref().map(sender_spam_token));
        let mut training = Training::new();
        if let Some(previous) = previous {
            training.add(previous, &tokens, true);
        }
        training.add(class, &tokens, false);
        self.store.tokens_learn(server(Classifier::Spam), &training).await?;
        // The marker rides with the account's training, not the server's.
        if let Some(previous) = previous {
            training.add_token(previous, marker, true);
        }
        training.add_token(class, marker, false);
        self.store.tokens_learn(scope, &training).await?;
        if !spam && let Some(from) = sender {
            self.store
                .correspondents_add(account, &[from], estafeta_core::time::now())
                .await?;
        }
        Ok(())
    }

    /// A user moved a message from one tab to another: learn the message
    /// as an example of `to`, and the sender as belonging there.
    pub async fn learn_tab(
        &self,
        account: AccountId,
        message: &[u8],
        from: Option<Tab>,
        to: Tab,
    ) -> Result<(), StoreError> {
        let tokens = tokens::tokens(message);
        let mut training = Training::new();
        if let Some(from) = from {
            training.add(from.class(), &tokens, true);
        }
        training.add(to.class(), &tokens, false);
        if let Some(sender) = sender_of(message) {
            let token = sender_token(&sender);
            // Whatever tab the sender was in before no longer holds.
            let known = self.store.tokens_get(own(Classifier::Tabs, account), &[token]).await?;
            for (class, count) in known.tokens.get(&token).into_iter().flatten() {
                for _ in 0..*count {
                    training.add_token(*class, token, true);
                }
            }
            training.add_token(to.class(), token, false);
        }
        self.store.tokens_learn(own(Classifier::Tabs, account), &training).await
    }

    /// Remembers the Message-ID of a message an account sent.
    pub async fn remember_sent_id(&self, account: AccountId, message_id: &str) -> Result<(), StoreError> {
        self.store
            .sent_ids_add(account, &[message_id.to_owned()], estafeta_core::time::now())
            .await
    }

    /// Remembers who an account writes to (its sent mail).
    pub async fn remember_correspondents(&self, account: AccountId, addresses: &[String]) -> Result<(), StoreError> {
        self.store
            .correspondents_add(account, addresses, estafeta_core::time::now())
            .await
    }
}

/// What the spam classifier knows of one message.
struct SpamKnowledge {
    probability: Option<f64>,
    /// The share of the message's words the model has seen at least twice.
    familiar: f64,
    /// Messages learned from its sender: (spam, ham).
    sender: (u64, u64),
}

/// What the user's history says, or nothing when it cannot be read (the
/// verdict goes on without it).
fn or_unknown(known: Result<bool, StoreError>, what: &str) -> bool {
    known.unwrap_or_else(|error| {
        tracing::warn!(%error, "filter: cannot read {what}");
        false
    })
}

/// Trains the server's (or one account's) spam model on many messages at
/// once: one write for the whole run.
pub async fn train_spam(
    store: &dyn Store,
    account: Option<AccountId>,
    messages: impl IntoIterator<Item = (Vec<u8>, bool)>,
) -> Result<(u32, u32), StoreError> {
    let mut training = Training::new();
    let (mut spam, mut ham) = (0, 0);
    for (message, is_spam) in messages {
        let class = if is_spam { SPAM } else { HAM };
        training.add(class, &tokens::tokens(&message), false);
        if let Some(sender) = sender_of(&message) {
            training.add_token(class, sender_spam_token(&sender), false);
        }
        if is_spam {
            spam += 1;
        } else {
            ham += 1;
        }
    }
    let scope = ModelScope {
        classifier: Classifier::Spam,
        account,
    };
    store.tokens_learn(scope, &training).await?;
    Ok((spam, ham))
}

/// Trains the tab classifier on examples of each tab.
pub async fn train_tabs(
    store: &dyn Store,
    account: Option<AccountId>,
    messages: impl IntoIterator<Item = (Vec<u8>, Tab)>,
) -> Result<u32, StoreError> {
    let mut training = Training::new();
    let mut learned = 0;
    for (message, tab) in messages {
        training.add(tab.class(), &tokens::tokens(&message), false);
        if let Some(sender) = sender_of(&message) {
            training.add_token(tab.class(), sender_examples_token(&sender), false);
        }
        learned += 1;
    }
    let scope = ModelScope {
        classifier: Classifier::Tabs,
        account,
    };
    store.tokens_learn(scope, &training).await?;
    Ok(learned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_from_its_own_recipient_has_no_sender() {
        let forged = b"From: Bob <BOB@example.com>\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nx\r\n";
        assert_eq!(sender_of(forged), None);
        let real = b"From: Ana <Ana@partner.test>\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nx\r\n";
        assert_eq!(sender_of(real).as_deref(), Some("ana@partner.test"));
    }

    #[test]
    fn bayes_vouches_fully_only_for_familiar_words() {
        assert_eq!(vouching_weight(0.95), 1.0);
        assert_eq!(vouching_weight(0.8), 1.0);
        assert_eq!(vouching_weight(0.5), 0.0);
        assert_eq!(vouching_weight(0.1), 0.0);
        assert!(vouching_weight(0.6) < vouching_weight(0.7) && vouching_weight(0.7) < 1.0);
    }

    #[test]
    fn a_sender_history_needs_examples_and_weighs_spam_more_than_ham() {
        assert_eq!(sender_history_points(1, 0), None, "one example is not a history");
        assert_eq!(sender_history_points(2, 0), Some(SENDER_SPAM_POINTS));
        assert_eq!(sender_history_points(0, 2), Some(-SENDER_HAM_POINTS));
        assert_eq!(sender_history_points(3, 3), Some(0.0));
        let mostly_spam = sender_history_points(7, 2).unwrap();
        assert!(mostly_spam > 0.0 && mostly_spam < SENDER_SPAM_POINTS, "{mostly_spam}");
        let mostly_ham = sender_history_points(2, 7).unwrap();
        assert!(mostly_ham < 0.0 && mostly_ham > -SENDER_HAM_POINTS, "{mostly_ham}");
    }
}
