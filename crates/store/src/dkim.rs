//! DKIM signing keys (RFC 6376), one per domain, kept in the store so
//! every node signs with the same key.

/// A domain's signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKey {
    pub domain: String,
    /// The DNS label under `_domainkey` (RFC 6376 3.1).
    pub selector: String,
    /// `rsa` (rsa-sha256) or `ed25519` (ed25519-sha256, RFC 8463).
    pub algorithm: String,
    /// PKCS#8 PEM.
    pub private_key: String,
    pub created_at: i64,
}
