//! The identities an account sends as (JMAP's Identity, RFC 8621 6): a
//! name, an address it may use, where replies go and who gets a blind
//! copy, and signatures. Slot 0 is the account's own address; the store
//! holds it only once it is changed.

/// One identity of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Its number within the account: 0 is the account's own.
    pub slot: i64,
    pub name: String,
    pub email: String,
    /// `EmailAddress[]` as JSON text; empty for none (JMAP's null).
    pub reply_to: String,
    pub bcc: String,
    pub text_signature: String,
    pub html_signature: String,
}

/// The most identities an account may hold.
pub const MAX_IDENTITIES: usize = 100;

/// Where `identity` is written, given how many the account holds and its
/// highest slot: its own slot, or (below 0) the next one above 0.
pub(crate) fn slot_for(identity: &Identity, count: i64, highest: i64) -> crate::Result<i64> {
    if identity.slot >= 0 {
        Ok(identity.slot)
    } else if count as usize >= MAX_IDENTITIES {
        Err(crate::StoreError::Invalid(format!(
            "at most {MAX_IDENTITIES} identities"
        )))
    } else {
        Ok(highest + 1)
    }
}
