//! A JMAP API request is any bytes a logged-in client sends: parsed, and
//! when it is a request, run against a real (SQLite) store with mailboxes
//! in it, so result references, JSON pointers and every method's
//! arguments meet arbitrary input. No panic; a response per call.
#![no_main]

use estafeta_core::Address;
use estafeta_core::model::Flags;
use estafeta_jmap::upload::Uploads;
use estafeta_jmap::{Context, LIMITS, Request};
use estafeta_store::sqlite::SqliteStore;
use estafeta_store::{Account, DeliveryTarget, Store};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct World {
    runtime: tokio::runtime::Runtime,
    store: SqliteStore,
    account: Account,
    uploads: Uploads,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (store, account) = runtime.block_on(async {
            let store = SqliteStore::open(dir.path()).await.unwrap();
            store.domain_add("example.com").await.unwrap();
            let address = Address::parse("ann@example.com").unwrap();
            let account = store.account_add(&address, "$argon2id$x").await.unwrap();
            for name in ["Projects", "Projects/2026", "Lone/Leaf"] {
                store.mailbox_create(account.id, name).await.unwrap();
            }
            (store, account)
        });
        World {
            runtime,
            store,
            account,
            uploads: Uploads::default(),
            _dir: dir,
        }
    })
}

/// Messages for the Email methods to find; Email/set may destroy them,
/// so they come back whenever INBOX is empty.
const MESSAGES: [&[u8]; 2] = [
    b"From: Carla <carla@remote.test>\r\nTo: ann@example.com\r\nSubject: Lunch\r\nDate: Mon, 7 Dec 2026 09:00:00 -0300\r\nMessage-ID: <l@r>\r\n\r\nAt noon?\r\n",
    include_bytes!("../seeds/jmap_email/multipart_attachment"),
];

async fn refill(world: &World) {
    let inbox = world
        .store
        .mailbox_get(world.account.id, "INBOX")
        .await
        .unwrap()
        .unwrap();
    if world.store.messages(inbox.id).await.unwrap().is_empty() {
        let target = DeliveryTarget {
            mailbox: inbox.id,
            flags: Flags::default(),
        };
        for message in MESSAGES {
            world
                .store
                .deliver(message, 1_796_637_600, std::slice::from_ref(&target))
                .await
                .unwrap();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Request::parse(data) else { return };
    let world = world();
    world.runtime.block_on(refill(world));
    let context = Context {
        store: &world.store,
        account: &world.account,
        uploads: &world.uploads,
        sender: None,
    };
    let response = world.runtime.block_on(request.run(&context));
    let answers = response["methodResponses"].as_array().expect("a list of responses");
    assert!(answers.len() <= LIMITS.max_calls_in_request);
    for answer in answers {
        assert!(
            answer[0].is_string() && answer[1].is_object() && answer[2].is_string(),
            "{answer}"
        );
    }
});
