//! Estafeta's filter: for each inbound message, a spam score with its
//! reasons and a destination, Junk or a tab (`pipeline`). Built from what
//! a message is made of for a classifier (`tokens`), the Bayesian
//! classifier (`bayes`), rules that need no training (`rules`), sender
//! authentication (`auth`), DNS blocklists (`dnsbl`) and the tab rules and
//! classifier (`tabs`).

pub mod auth;
pub mod bayes;
pub mod brands;
pub mod corpus;
pub mod disguise;
pub mod dnsbl;
pub mod html;
pub mod pipeline;
pub mod rules;
pub mod tabs;
pub mod tokens;
pub mod verdict;

pub use auth::{AuthSummary, Outcome};
pub use pipeline::{Analysis, Filter, Input, sender_of, train_spam, train_tabs};
pub use verdict::{Destination, Reason, Tab, Verdict};
