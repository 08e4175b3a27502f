//! A request as the DAV layer sees it, the account it acts for, and what
//! every method needs: the caller's collections (the default ones made on
//! first use), a body read as XML, store failures as answers.

use crate::path::Target;
use crate::response::Response;
use crate::xml::{self, DAV, Element, Name};
use estafeta_store::dav::{DavCollection, DavKind, DavObject, DavProps};
use estafeta_store::{Account, Store, StoreError};

/// What a method returns: an answer either way, `Err` for a failure so
/// `?` ends the method early.
pub type Answer = Result<Response, Response>;

pub struct Dav<'a> {
    pub store: &'a dyn Store,
    pub account: &'a Account,
}

/// The parts of an HTTP request DAV reads.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The request path as sent (percent-encoded), query removed.
    pub path: String,
    pub depth: Option<String>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub content_type: Option<String>,
    pub destination: Option<String>,
    pub overwrite: Option<String>,
    /// `Prefer: return=minimal` (RFC 8144 and RFC 7240): leave out the
    /// 404 propstat.
    pub minimal: bool,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

impl Request {
    /// The Depth header (RFC 4918 10.2); absent means `default`.
    pub fn depth(&self, default: Depth) -> Result<Depth, Response> {
        match self.depth.as_deref().map(str::trim) {
            None => Ok(default),
            Some("0") => Ok(Depth::Zero),
            Some("1") => Ok(Depth::One),
            Some(value) if value.eq_ignore_ascii_case("infinity") => Ok(Depth::Infinity),
            Some(other) => Err(Response::text(400, format!("Depth: {other:?} is not 0, 1 or infinity"))),
        }
    }

    /// The body as XML; `None` for an empty body.
    pub fn xml(&self) -> Result<Option<Element>, Response> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        xml::parse(&self.body)
            .map(Some)
            .map_err(|error| Response::text(400, error.to_string()))
    }
}

pub fn store_failure(error: StoreError) -> Response {
    tracing::warn!(%error, "dav: the store failed");
    Response::text(503, format!("the store failed: {error}"))
}

pub fn precondition(status: u16, ns: &str, local: &str, why: &str) -> Response {
    Response::condition(status, &Name::new(ns, local), why)
}

pub fn forbidden(why: &str) -> Response {
    precondition(403, DAV, "need-privileges", why)
}

impl Dav<'_> {
    /// The account's collections of a kind. A new account gets its
    /// default calendar or address book here, on its first look (RFC 4791
    /// 4.2 lets the server make them; clients expect one to exist).
    pub async fn collections(&self, kind: DavKind) -> Result<Vec<DavCollection>, Response> {
        let found = self
            .store
            .dav_collections(self.account.id, kind)
            .await
            .map_err(store_failure)?;
        if !found.is_empty() {
            return Ok(found);
        }
        let display_name = match kind {
            DavKind::Calendar => "Calendar",
            DavKind::AddressBook => "Contacts",
        };
        let props = DavProps {
            display_name: display_name.into(),
            ..DavProps::default()
        };
        match self
            .store
            .dav_collection_create(self.account.id, kind, "default", &props)
            .await
        {
            Ok(made) => Ok(vec![made]),
            // Another request made it first.
            Err(StoreError::AlreadyExists(_)) => self
                .store
                .dav_collections(self.account.id, kind)
                .await
                .map_err(store_failure),
            Err(error) => Err(store_failure(error)),
        }
    }

    pub async fn collection(&self, kind: DavKind, name: &str) -> Result<Option<DavCollection>, Response> {
        if name == "default" {
            // The default one may not be made yet.
            return Ok(self.collections(kind).await?.into_iter().find(|c| c.name == name));
        }
        self.store
            .dav_collection(self.account.id, kind, name)
            .await
            .map_err(store_failure)
    }

    /// The collection a request names, or 404.
    pub async fn existing_collection(&self, kind: DavKind, name: &str) -> Result<DavCollection, Response> {
        self.collection(kind, name)
            .await?
            .ok_or_else(|| Response::text(404, format!("no {} named {name:?}", kind.as_str())))
    }

    pub async fn object(&self, collection: &DavCollection, name: &str) -> Result<Option<DavObject>, Response> {
        self.store.dav_object(collection.id, name).await.map_err(store_failure)
    }

    /// The href of a member of a collection.
    pub fn object_href(&self, collection: &DavCollection, name: &str) -> String {
        Target::Object(
            collection.kind,
            self.account.address.clone(),
            collection.name.clone(),
            name.to_owned(),
        )
        .href()
    }

    pub fn collection_href(&self, collection: &DavCollection) -> String {
        Target::Collection(collection.kind, self.account.address.clone(), collection.name.clone()).href()
    }
}
