//! The command line, as clap parses it. Every flag can also come from an
//! `ACMEKIT_*` environment variable or the config file; flags win.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Get and renew TLS certificates from any ACME certificate authority.
#[derive(Debug, Parser)]
#[command(name = "acmekit", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// ACME server: a directory URL, or letsencrypt, letsencrypt-staging,
    /// zerossl, google [default: letsencrypt]
    #[arg(long, global = true, env = "ACMEKIT_SERVER", value_name = "URL|NAME")]
    pub server: Option<String>,

    /// Trust this CA certificate (PEM) for the ACME server's TLS (private
    /// CAs, Pebble). The built-in web PKI roots are then not used.
    #[arg(long, global = true, env = "ACMEKIT_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,

    /// Where accounts and certificates are kept [default:
    /// $XDG_DATA_HOME/acmekit, or /var/lib/acmekit as root]
    #[arg(long, global = true, env = "ACMEKIT_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Read settings from this TOML file [default: STATE_DIR/config.toml
    /// when it exists]
    #[arg(long, global = true, env = "ACMEKIT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Allow a plain http:// directory URL on a loopback address (test
    /// servers only; ACME requires TLS)
    #[arg(long, global = true, env = "ACMEKIT_ALLOW_INSECURE_HTTP")]
    pub allow_insecure_http: bool,

    /// Print one JSON document per command on stdout
    #[arg(long, global = true, env = "ACMEKIT_JSON")]
    pub json: bool,

    /// Show request-level logs (-vv for more); keys are never logged
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only print errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Obtain a certificate for one or more names
    Issue(Box<IssueArgs>),
    /// Renew the certificates that are due (safe to run from cron)
    Renew(RenewArgs),
    /// Revoke a certificate
    Revoke(RevokeArgs),
    /// List managed certificates and when they are due
    List,
    /// Manage the ACME account
    #[command(subcommand)]
    Account(AccountCommand),
    /// Print shell completions
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Manpage,
}

/// Account registration options shared by `issue` and `account register`.
#[derive(Debug, Args, Clone, Default)]
pub struct RegisterArgs {
    /// Contact email for the account
    #[arg(long, env = "ACMEKIT_EMAIL", value_name = "ADDR")]
    pub email: Option<String>,

    /// Agree to the CA's terms of service
    #[arg(long, env = "ACMEKIT_ACCEPT_TOS")]
    pub accept_tos: bool,

    /// External account binding key ID (ZeroSSL, Google, private CAs)
    #[arg(
        long,
        env = "ACMEKIT_EAB_KID",
        value_name = "KID",
        requires = "eab_hmac_key"
    )]
    pub eab_kid: Option<String>,

    /// External account binding HMAC key (base64url)
    #[arg(
        long,
        env = "ACMEKIT_EAB_HMAC_KEY",
        value_name = "KEY",
        requires = "eab_kid"
    )]
    pub eab_hmac_key: Option<String>,
}

/// `acmekit issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// A name (DNS name, *.wildcard or IP address) for the certificate;
    /// repeat for more (with --csr too: the first names the certificate's
    /// directory)
    #[arg(short = 'd', long = "domain", value_name = "NAME", required = true)]
    pub domains: Vec<String>,

    /// Account options
    #[command(flatten)]
    pub register: RegisterArgs,

    /// Certificate key type
    #[arg(long, value_enum, default_value_t = KeyTypeArg::Ec256, env = "ACMEKIT_KEY_TYPE")]
    pub key_type: KeyTypeArg,

    /// Use this CSR (PEM or DER) instead of generating a key
    #[arg(long, value_name = "FILE")]
    pub csr: Option<PathBuf>,

    /// Challenge options
    #[command(flatten)]
    pub solver: SolverArgs,

    /// Ask for this certificate profile (if the CA offers profiles)
    #[arg(long, env = "ACMEKIT_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Prefer the chain whose top certificate is issued by this common name
    #[arg(long, env = "ACMEKIT_PREFERRED_CHAIN", value_name = "ISSUER_CN")]
    pub preferred_chain: Option<String>,

    /// Run this command after the certificate is written (sh -c)
    #[arg(long, env = "ACMEKIT_DEPLOY_HOOK", value_name = "CMD")]
    pub deploy_hook: Option<String>,

    /// Issue even if a valid certificate for these names exists
    #[arg(long)]
    pub force: bool,
}

/// How challenges are answered.
#[derive(Debug, Args, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SolverArgs {
    /// Serve http-01 from a standalone server on ADDR
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "0.0.0.0:80", env = "ACMEKIT_HTTP")]
    pub http: Option<String>,

    /// Write http-01 files under DIR/.well-known/acme-challenge/
    #[arg(long, value_name = "DIR", env = "ACMEKIT_WEBROOT")]
    pub webroot: Option<PathBuf>,

    /// Serve tls-alpn-01 from a standalone server on ADDR
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "0.0.0.0:443", env = "ACMEKIT_TLS_ALPN")]
    pub tls_alpn: Option<String>,

    /// Publish dns-01 records by running `CMD present|cleanup RECORD_NAME VALUE`
    #[arg(long, value_name = "CMD", env = "ACMEKIT_DNS_HOOK")]
    pub dns_hook: Option<String>,

    /// Publish dns-01 records with RFC 2136 dynamic updates sent to this
    /// DNS server (the zone's primary), signed with --tsig-key
    #[arg(
        long,
        value_name = "SERVER[:PORT]",
        env = "ACMEKIT_DNS_RFC2136",
        requires = "tsig_key",
        conflicts_with = "dns_hook"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_rfc2136: Option<String>,

    /// TSIG key for --dns-rfc2136, in BIND's format as `tsig-keygen`
    /// writes it: key "NAME" { algorithm hmac-sha256; secret "BASE64"; };
    #[arg(
        long,
        value_name = "FILE",
        env = "ACMEKIT_TSIG_KEY",
        requires = "dns_rfc2136"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key: Option<PathBuf>,

    /// The zone --dns-rfc2136 updates [default: found by asking the server
    /// for the SOA of the record's name and its parents]
    #[arg(
        long,
        value_name = "ZONE",
        env = "ACMEKIT_DNS_ZONE",
        requires = "dns_rfc2136"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_zone: Option<String>,
}

/// `acmekit renew`.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Renew the certificate whose first name is NAME
    #[arg(
        short = 'd',
        long = "domain",
        value_name = "NAME",
        conflicts_with = "all",
        required_unless_present = "all"
    )]
    pub domain: Option<String>,

    /// Renew every managed certificate that is due
    #[arg(long)]
    pub all: bool,

    /// Renew even if not due
    #[arg(long)]
    pub force: bool,

    /// Run this command after each renewal (sh -c)
    #[arg(long, env = "ACMEKIT_DEPLOY_HOOK", value_name = "CMD")]
    pub deploy_hook: Option<String>,
}

/// `acmekit revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The certificate whose first name is NAME
    #[arg(short = 'd', long = "domain", value_name = "NAME")]
    pub domain: String,

    /// RFC 5280 reason: unspecified, keyCompromise, affiliationChanged,
    /// superseded, cessationOfOperation, ...
    #[arg(long, default_value = "unspecified")]
    pub reason: String,
}

/// `acmekit account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account (or find the existing one for the stored key)
    Register(RegisterArgs),
    /// Show the account
    Show,
    /// Replace the account's contact email
    Update {
        /// The new contact email
        #[arg(long, value_name = "ADDR")]
        email: String,
    },
    /// Replace the account key (key rollover)
    Rollover,
    /// Deactivate the account (cannot be undone)
    Deactivate,
}

/// Certificate key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum KeyTypeArg {
    /// ECDSA P-256
    #[default]
    Ec256,
    /// ECDSA P-384
    Ec384,
    /// RSA 2048
    Rsa2048,
    /// RSA 3072
    Rsa3072,
    /// RSA 4096
    Rsa4096,
}

impl From<KeyTypeArg> for acmekit::KeyType {
    fn from(k: KeyTypeArg) -> Self {
        match k {
            KeyTypeArg::Ec256 => acmekit::KeyType::Es256,
            KeyTypeArg::Ec384 => acmekit::KeyType::Es384,
            KeyTypeArg::Rsa2048 => acmekit::KeyType::Rs256_2048,
            KeyTypeArg::Rsa3072 => acmekit::KeyType::Rs256_3072,
            KeyTypeArg::Rsa4096 => acmekit::KeyType::Rs256_4096,
        }
    }
}
