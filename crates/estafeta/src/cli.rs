use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Estafeta: receives, stores, serves and sends mail.
#[derive(Debug, Parser)]
#[command(name = "estafeta", version, about)]
pub struct Cli {
    /// Configuration file (TOML); every key has a default. See estafeta.example.toml.
    #[arg(long, global = true, value_name = "FILE", env = "ESTAFETA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory; overrides `data_dir` from the config.
    #[arg(long, global = true, value_name = "DIR", env = "ESTAFETA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The server logs its work; admin commands only their errors.
    pub fn default_log_filter(&self) -> &'static str {
        match self.command {
            Command::Serve => "info",
            _ => "warn",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server until SIGINT or SIGTERM.
    Serve,
    /// Domains we receive mail for.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Mail accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Extra addresses that deliver to an account (or forward elsewhere).
    #[command(subcommand)]
    Alias(AliasCommand),
    /// The outbound queue: what waits to be sent, and why.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// DKIM signing keys for our domains.
    #[command(subcommand)]
    Dkim(DkimCommand),
    /// Whether addresses can receive mail: syntax, domain, MX, an SMTP
    /// probe that sends nothing, catch-all, disposable, role, typos.
    /// A list: `--input list.csv --output results.csv` (resumes an
    /// interrupted run from its results file).
    Verify {
        #[arg(value_name = "ADDRESS", required_unless_present = "input", conflicts_with = "input")]
        addresses: Vec<String>,
        /// One JSON array of reports instead of text.
        #[arg(long, conflicts_with = "input")]
        json: bool,
        /// A CSV list (an `email` or `address` column, or the first
        /// column holding addresses), or one address a line.
        #[arg(long, value_name = "FILE", requires = "output")]
        input: Option<std::path::PathBuf>,
        /// Where the results go, one CSV row per address.
        #[arg(long, value_name = "FILE", requires = "input")]
        output: Option<std::path::PathBuf>,
        /// Whose suppression list to consult.
        #[arg(long, value_name = "NAME", default_value = "default")]
        tenant: String,
    },
    /// The DNS records DOMAIN needs: where its mail goes, what may send
    /// it (SPF, DKIM, DMARC), TLS reporting and how mail clients find
    /// this server (RFC 6186 SRV, autoconfig). Zone-file lines.
    DnsRecords { domain: String },
    /// Looks every record of `dns-records DOMAIN` up and says which are
    /// missing or differ; fails when any does.
    DnsCheck { domain: String },
    /// The spam filter: training it and explaining its verdicts.
    #[command(subcommand)]
    Spam(SpamCommand),
    /// Tenants: who owns which domains; limits and lists are per tenant.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Addresses a tenant must not mail again (bounces, complaints,
    /// unsubscribes, by hand).
    #[command(subcommand)]
    Suppression(SuppressionCommand),
    /// IP pools: the source addresses outbound mail leaves from.
    #[command(subcommand)]
    Pool(PoolCommand),
    /// Each tenant's sender domains and each pool address over
    /// `deliverability.rate_window`: sent, bounced, complaints, rates and
    /// a 0-100 score.
    Reputation,
    /// Check the store: every blob present and whole, counters consistent.
    VerifyData {
        /// Fix what can be fixed safely (reference counts, counters, orphan blob contents).
        #[arg(long)]
        repair: bool,
    },
    /// Copy a whole embedded installation into an empty PostgreSQL store.
    Migrate {
        /// The installation to copy: `sqlite:DATA_DIR`.
        #[arg(long)]
        from: String,
        /// The PostgreSQL to copy into: `postgres://user@host:port/database`.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Start hosting a domain (or, when hosted, give it to `--tenant`).
    Add {
        domain: String,
        /// The tenant owning it; the default tenant unless given.
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
    },
    /// List hosted domains.
    List,
    /// Stop hosting a domain (it must have no accounts or aliases left).
    Remove { domain: String },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Add { name: String },
    /// List tenants and the domains each owns.
    List,
    /// Remove a tenant that owns no domains (its suppression list goes too).
    Remove { name: String },
    /// Let a tenant's bulk mail go again after a pause (bounce or
    /// complaint rate over its limit); clean the list first.
    Resume { name: String },
}

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Create a pool, shared by any number of tenants unless `--dedicated`.
    Add {
        name: String,
        /// For one tenant alone: its reputation is its own.
        #[arg(long)]
        dedicated: bool,
    },
    /// Pools, their tenants and addresses (warm-up, blocklist listings).
    List,
    /// Remove a pool no tenant sends from (its addresses go with it).
    Remove { name: String },
    /// Send a tenant's mail from this pool.
    Assign {
        pool: String,
        #[arg(long, value_name = "NAME")]
        tenant: String,
    },
    /// Take a tenant's pool away: it sends from the default tenant's pool.
    Unassign {
        #[arg(long, value_name = "NAME")]
        tenant: String,
    },
    /// Add or remove a pool's source addresses.
    #[command(subcommand)]
    Address(PoolAddressCommand),
}

#[derive(Debug, Subcommand)]
pub enum PoolAddressCommand {
    /// Add a source address (configured on the sending hosts).
    Add {
        pool: String,
        address: std::net::IpAddr,
        /// The EHLO name: the address's PTR name, which must resolve back to it.
        #[arg(long, value_name = "HOSTNAME")]
        ehlo: String,
        /// Its share of the pool's mail relative to the others (0: none).
        #[arg(long, default_value_t = 1)]
        weight: u32,
        /// Already warm: no warm-up caps.
        #[arg(long)]
        warm: bool,
    },
    Remove {
        address: std::net::IpAddr,
    },
}

#[derive(Debug, Subcommand)]
pub enum SuppressionCommand {
    /// The tenant's entries in force.
    List {
        #[arg(long, value_name = "NAME", default_value = "default")]
        tenant: String,
    },
    /// Suppress addresses by hand.
    Add {
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
        #[arg(long, value_name = "NAME", default_value = "default")]
        tenant: String,
        /// Only for mail from this sender domain; all the tenant's mail if not given.
        #[arg(long, value_name = "DOMAIN")]
        sender_domain: Option<String>,
        /// hard-bounce, soft-bounce, complaint, unsubscribe or manual.
        #[arg(long, default_value = "manual")]
        reason: String,
        /// Why, in words.
        #[arg(long, default_value = "added by the operator")]
        detail: String,
        /// Lapses after this long ("30d", "12h"); never if not given.
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// Take an address off the list.
    Remove {
        address: String,
        #[arg(long, value_name = "NAME", default_value = "default")]
        tenant: String,
        /// Only its entry for this sender domain.
        #[arg(long, value_name = "DOMAIN")]
        sender_domain: Option<String>,
    },
    /// Add entries from a CSV file: an export, or a plain list of addresses.
    Import {
        file: PathBuf,
        #[arg(long, value_name = "NAME", default_value = "default")]
        tenant: String,
        /// The reason given to a plain list's addresses.
        #[arg(long, default_value = "manual")]
        reason: String,
    },
    /// Write the tenant's entries as CSV (to standard output, or --output).
    Export {
        #[arg(long, value_name = "NAME", default_value = "default")]
        tenant: String,
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; without --password-stdin a strong password is generated and printed once.
    Add {
        address: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Set a new password, read from standard input.
    Passwd {
        address: String,
        /// Read the password from the first line of standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Delete an account with all its mail.
    Remove { address: String },
    /// Write everything kept for an account into a new directory: mail as
    /// mbox, calendars and contacts as .ics/.vcf files, the file space,
    /// and account.json (portability, GDPR art. 20).
    Export {
        address: String,
        #[arg(long)]
        output: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Deliver mail for ALIAS to TARGET.
    Add { alias: String, target: String },
    /// List aliases.
    List,
    /// Remove an alias.
    Remove { alias: String },
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// One line per queued message.
    List,
    /// A message's envelope, recipients and their last replies.
    Show { id: i64 },
    /// Make a message (or every one) due now.
    Retry {
        id: Option<i64>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Take a message out of the queue.
    Remove {
        id: i64,
        /// Tell the sender, with a failure DSN, who will not get it.
        #[arg(long)]
        bounce: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Make and keep a signing key for DOMAIN; prints the DNS record to publish.
    Generate {
        domain: String,
        /// rsa (2048-bit, what every receiver checks) or ed25519 (RFC 8463).
        #[arg(long, default_value = "rsa", value_parser = ["rsa", "ed25519"])]
        algorithm: String,
        /// The selector (the DNS label under _domainkey); default: a date stamp.
        #[arg(long)]
        selector: Option<String>,
    },
    /// The DNS record of DOMAIN's key.
    Show { domain: String },
    /// Every domain with a key.
    List,
}

#[derive(Debug, Subcommand)]
pub enum SpamCommand {
    /// Teach the classifiers labelled mail. Each PATH is a file of one
    /// message, a directory of such files, or an mbox.
    Train {
        /// Spam examples.
        #[arg(long, value_name = "PATH")]
        spam: Vec<PathBuf>,
        /// Examples of wanted mail.
        #[arg(long, value_name = "PATH")]
        ham: Vec<PathBuf>,
        /// Examples of a tab, as TAB=PATH (primary, promotions, social, updates).
        #[arg(long, value_name = "TAB=PATH")]
        tab: Vec<String>,
        /// Train this account's own model instead of the server's.
        #[arg(long)]
        account: Option<String>,
    },
    /// Print the verdict on a message, with every reason.
    Classify {
        file: PathBuf,
        /// Judge it as this account would get it (its threshold, its learning).
        #[arg(long)]
        account: Option<String>,
        /// The client address it came from (checked against the blocklists).
        #[arg(long)]
        ip: Option<std::net::IpAddr>,
        /// No DNS lookups (blocklists).
        #[arg(long)]
        offline: bool,
    },
}
