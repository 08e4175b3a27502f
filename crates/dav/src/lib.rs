//! CalDAV (RFC 4791) and CardDAV (RFC 6352) for Estafeta. This first part
//! checks what clients store: a resource must be one calendar object or
//! one vCard, as the RFCs define them, before it reaches the store
//! (`resource`).

pub mod resource;

pub use resource::{CalendarResource, CardResource, Component, ResourceError, calendar_resource, card_resource};
