//! Until a protocol's own issue lands, its listener greets with the
//! protocol's "not available" reply and closes, so clients get a clear
//! answer instead of a silent hang.

use async_trait::async_trait;
use estafeta_core::config::Service;
use estafeta_net::{Connection, Handler, Refusal};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

struct NotYet {
    greeting: String,
}

pub fn for_service(service: Service, hostname: &str) -> Arc<dyn Handler> {
    let greeting = match service {
        // RFC 5321 3.8: 421 closes the transmission channel.
        Service::Smtp | Service::Submission | Service::Submissions => {
            format!("421 4.3.2 {hostname} SMTP service not available yet\r\n")
        }
        // RFC 9051 7.1.5: BYE as the greeting refuses the connection.
        Service::Imap | Service::Imaps => "* BYE IMAP service not available\r\n".to_owned(),
        Service::Pop3 | Service::Pop3s => "-ERR POP3 service not available yet\r\n".to_owned(),
        Service::Http => String::new(),
    };
    Arc::new(NotYet { greeting })
}

#[async_trait]
impl Handler for NotYet {
    async fn handle(&self, mut connection: Connection) {
        let _ = connection.write_all(self.greeting.as_bytes()).await;
        let _ = connection.shutdown().await;
    }

    async fn refuse(&self, connection: Connection, _why: Refusal) {
        self.handle(connection).await;
    }
}
