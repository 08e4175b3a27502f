//! Estafeta's SMTP server: MX (port 25) and submission (587 STARTTLS, 465
//! implicit TLS), delivering into the store and handing remote mail to the
//! outbound queue.

pub mod proto;
