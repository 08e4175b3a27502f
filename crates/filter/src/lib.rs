//! Estafeta's filter: what a message is made of for a classifier
//! (`tokens`), the Bayesian classifier (`bayes`), and the rules that need
//! no training (`rules`). The verdict pipeline that files each message in
//! Junk or a tab builds on these.

pub mod bayes;
pub mod rules;
pub mod tokens;
