//! The reference Chuks registry: an axum server on embedded SQLite that implements `docs/registry-api.md`.
//!
//! [`Registry`] is the data folder (tokens, packages); [`Server`] serves it over HTTP; and
//! [`RunningRegistry`] is a server on its own thread for tests, stopped when dropped.

mod api;
mod auth;
mod auth_failures;
mod connection;
mod data_dir;
mod exchange;
mod oidc;
mod rate_limit;
mod scopes;
mod store;
mod tarball;
mod tokens;
mod trusted_publishers;
mod upload;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

pub use oidc::{DEFAULT_AUDIENCE, DEFAULT_MINTED_TOKEN_LIFETIME, OidcConfig};
pub use scopes::{ScopeHolder, ScopeSource};
pub use tokens::{EXPIRY_DAYS, IssuedToken, TokenRecord, TokenStatus};
pub use trusted_publishers::{Identity, NewTrustedPublisher, TrustError, TrustedPublisher};

use crate::token::Scope;
use crate::untrusted::Untrusted;

/// Default limit on a published package's decoded tarball size.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 256 * 1024 * 1024;

/// Default `--max-unpacked-bytes`: what a published tarball may unpack to, headers included.
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;

/// Default `--header-timeout`: a request head is a few hundred bytes.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Default `--body-idle-timeout`.
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default `--upload-timeout`: 256 MiB at about 300 KB/s.
pub const DEFAULT_UPLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Default `--auth-failures-per-minute`.
pub const DEFAULT_AUTH_FAILURES_PER_MINUTE: u32 = 20;

/// The folder inside the data folder where upload payloads are decoded before storing.
const SPOOL_DIR: &str = "uploads";

/// Longest publisher name accepted.
const MAX_PUBLISHER_LEN: usize = 64;

/// Longest token name accepted, in characters.
const MAX_TOKEN_NAME_CHARS: usize = 128;

/// How much of a refused name an error quotes.
const QUOTED_NAME_CHARS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "cannot create the data folder `{}`: {source}\nhint: pass a writable `--data-dir`",
        crate::untrusted::Untrusted::path(path)
    )]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the data folder `{}` holds `{found}`: it is a project, not registry data\nhint: keep the registry's data outside the package, e.g. `--data-dir ../registry-data`",
        crate::untrusted::Untrusted::path(path)
    )]
    DataDirIsProject { path: PathBuf, found: &'static str },

    #[error(
        "cannot open the registry database `{}`: {source}\nhint: check that `--data-dir` is writable and holds a chuks-ci registry",
        crate::untrusted::Untrusted::path(path)
    )]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error(
        "the registry database `{}` has schema version {found}, newer than the {supported} this chuks-ci knows\nhint: run a newer chuks-ci",
        crate::untrusted::Untrusted::path(path)
    )]
    SchemaTooNew {
        path: PathBuf,
        found: usize,
        supported: usize,
    },

    #[error(
        "registry database error: {0}\nhint: check the data folder's disk space and permissions"
    )]
    Sqlite(#[from] rusqlite::Error),

    #[error("cannot listen on `{addr}`: {source}\nhint: pick another `--listen` address or port")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },

    #[error("the registry server failed: {0}")]
    Serve(std::io::Error),

    #[error("a token cannot expire in {days} days\nhint: choose `--expires-in-days` from 7 to 365")]
    ExpiryOutOfRange { days: i64 },

    #[error("no token has id {id}\nhint: run `chuks-ci registry token list` to see token ids")]
    TokenNotFound { id: i64 },

    #[error(
        "`{name}` is not a valid publisher name\nhint: use 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or digit"
    )]
    InvalidPublisher { name: Untrusted },

    #[error(
        "the token name is empty\nhint: pass a descriptive `--name`, e.g. \"GitHub Actions — my_package\""
    )]
    EmptyTokenName,

    #[error(
        "the token name `{name}` {reason}\nhint: pass a descriptive `--name` of one printable line, at most {MAX_TOKEN_NAME_CHARS} characters, e.g. \"GitHub Actions — my_package\""
    )]
    InvalidTokenName {
        name: Untrusted,
        reason: &'static str,
    },

    #[error(
        "`{scope}` is not a valid scope ({reason})\nhint: name a scope as it starts a package name, e.g. `--scope @chuks` for `@chuks/numpy`"
    )]
    InvalidScope {
        scope: Untrusted,
        reason: &'static str,
    },

    #[error(
        "publisher `{publisher}` does not hold `{scope}`\nhint: run `chuks-ci registry scope list` to see who holds which scope"
    )]
    ScopeNotHeld { scope: String, publisher: String },

    #[error(
        "a token needs at least one scope\nhint: pass `--scopes packages:publish` (comma-separated for several)"
    )]
    NoScopes,

    #[error(
        "`{url}` is not a usable OIDC issuer: {reason}\nhint: name the issuer as its ID tokens' `iss` does, e.g. `https://token.actions.githubusercontent.com`"
    )]
    InvalidIssuer {
        url: Untrusted,
        reason: &'static str,
    },

    #[error(transparent)]
    Trust(#[from] TrustError),
}

/// Publisher names: ASCII letters, digits, `-`, `_`, `.`; starting with a letter or digit.
fn check_publisher_name(name: &str) -> Result<(), RegistryError> {
    let valid = name.len() <= MAX_PUBLISHER_LEN
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(RegistryError::InvalidPublisher {
            name: Untrusted::from(name).truncated(QUOTED_NAME_CHARS),
        })
    }
}

/// A token name is one line of printable text: nothing in it would print escaped (control,
/// format and bidi characters, line breaks, tabs, workflow-command openers).
fn check_token_name(name: &str) -> Result<(), RegistryError> {
    let reason = if name.chars().count() > MAX_TOKEN_NAME_CHARS {
        "is too long"
    } else if name.contains('\t') || !prints_as_itself(name) {
        "holds characters that do not print as themselves on one line (control, format or bidi characters, a line break or tab, `::` or `##[`)"
    } else {
        return Ok(());
    };
    Err(RegistryError::InvalidTokenName {
        name: Untrusted::from(name).truncated(QUOTED_NAME_CHARS),
        reason,
    })
}

/// Whether `Untrusted`'s escaping leaves `text` as it is: the one definition of what prints
/// safely, reused rather than restated.
fn prints_as_itself(text: &str) -> bool {
    let shown = Untrusted::from(text).to_string();
    shown.as_str() == text
}

/// How to serve a data folder.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub data_dir: PathBuf,
    /// Port 0 picks a free port.
    pub listen: SocketAddr,
    pub max_package_bytes: u64,
    /// What a published tarball may unpack to (its tar stream: headers, contents, padding).
    pub max_unpacked_bytes: u64,
    /// Requests per second before answering 429; `None` for no limit.
    pub rate_limit: Option<u32>,
    /// One stderr line per request (method, path, status, token id).
    pub log_requests: bool,
    /// Longest wait for a request's head (request line and headers) to arrive whole.
    pub header_timeout: Duration,
    /// Longest wait for the next bytes of a request body.
    pub body_idle_timeout: Duration,
    /// Longest time an upload's body may take from first byte to last.
    pub upload_timeout: Duration,
    /// Unknown or malformed tokens one client address may present per minute before it is
    /// answered 429 until the minute ends.
    pub auth_failures_per_minute: u32,
    /// Trusted publishing: the issuers trusted, the audience, the minted tokens' lifetime.
    pub oidc: OidcConfig,
}

impl RegistryConfig {
    /// Loopback on a free port, the default size limit, no rate limit, no request log.
    pub fn new(data_dir: impl Into<PathBuf>) -> RegistryConfig {
        RegistryConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_package_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES,
            rate_limit: None,
            log_requests: false,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_idle_timeout: DEFAULT_BODY_IDLE_TIMEOUT,
            upload_timeout: DEFAULT_UPLOAD_TIMEOUT,
            auth_failures_per_minute: DEFAULT_AUTH_FAILURES_PER_MINUTE,
            oidc: OidcConfig::default(),
        }
    }
}

/// A registry's data folder: its database of tokens and packages.
#[derive(Clone)]
pub struct Registry {
    store: Arc<store::Store>,
}

impl Registry {
    /// Opens the data folder, creating it and the database schema on first use, and marks it
    /// so that it is never committed or packed.
    pub fn open(data_dir: &Path) -> Result<Registry, RegistryError> {
        data_dir::prepare(data_dir)?;
        Ok(Registry {
            store: Arc::new(store::Store::open(data_dir)?),
        })
    }

    /// Serves `config.data_dir` on its own thread and runtime until the handle is dropped.
    pub fn start(config: RegistryConfig) -> Result<RunningRegistry, RegistryError> {
        RunningRegistry::start(config)
    }

    pub fn database_path(&self) -> &Path {
        self.store.path()
    }

    /// Creates a token lasting `expires_in_days` (7 to 365). The raw token is in the result only.
    pub fn create_token(
        &self,
        publisher: &str,
        name: &str,
        scopes: &[Scope],
        expires_in_days: i64,
    ) -> Result<IssuedToken, RegistryError> {
        let now = Timestamp::now();
        let expires_at = tokens::expiry_after_days(now, expires_in_days)?;
        self.insert_token(publisher, name, scopes, now, expires_at)
    }

    /// Creates a token expiring at any instant, even in the past. For tests and rehearsals only:
    /// it skips the 7-to-365-day rule that `create_token` enforces.
    pub fn mint_token(
        &self,
        publisher: &str,
        name: &str,
        scopes: &[Scope],
        expires_at: Timestamp,
    ) -> Result<IssuedToken, RegistryError> {
        self.insert_token(publisher, name, scopes, Timestamp::now(), expires_at)
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenRecord>, RegistryError> {
        Ok(tokens::list(&self.store.lock())?)
    }

    /// Revokes a token at once; it stays listed with status `revoked`.
    pub fn revoke_token(&self, id: i64) -> Result<TokenRecord, RegistryError> {
        tokens::revoke(&self.store.lock(), id, Timestamp::now())
    }

    /// Lets `publisher` create packages under `scope` (`@name`), alongside whoever holds it.
    pub fn grant_scope(&self, scope: &str, publisher: &str) -> Result<ScopeHolder, RegistryError> {
        scopes::check_scope(scope)?;
        check_publisher_name(publisher)?;
        scopes::grant(&self.store.lock(), scope, publisher, Timestamp::now())
    }

    /// Takes `scope` from `publisher`; packages already published keep their owners.
    pub fn revoke_scope(&self, scope: &str, publisher: &str) -> Result<(), RegistryError> {
        scopes::check_scope(scope)?;
        scopes::revoke(&self.store.lock(), scope, publisher)
    }

    /// Every scope's holders, by scope then publisher.
    pub fn list_scopes(&self) -> Result<Vec<ScopeHolder>, RegistryError> {
        Ok(scopes::list(&self.store.lock())?)
    }

    /// Trusts a CI identity to publish a package as a publisher (`registry trust add`).
    pub fn add_trusted_publisher(
        &self,
        new: &NewTrustedPublisher,
    ) -> Result<TrustedPublisher, RegistryError> {
        trusted_publishers::add(&self.store.lock(), new, Timestamp::now())
    }

    pub fn list_trusted_publishers(&self) -> Result<Vec<TrustedPublisher>, RegistryError> {
        Ok(trusted_publishers::list(&self.store.lock())?)
    }

    /// Stops trusting a CI identity; tokens it minted keep their short lives.
    pub fn remove_trusted_publisher(&self, id: i64) -> Result<TrustedPublisher, RegistryError> {
        trusted_publishers::remove(&self.store.lock(), id)
    }

    fn insert_token(
        &self,
        publisher: &str,
        name: &str,
        scopes: &[Scope],
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<IssuedToken, RegistryError> {
        let request = tokens::TokenRequest {
            publisher,
            name,
            scopes,
            packages: None,
            minted_for: None,
        };
        tokens::insert(&self.store.lock(), &request, now, expires_at)
    }
}

/// A registry bound to its address, ready to serve.
pub struct Server {
    registry: Registry,
    listener: std::net::TcpListener,
    config: RegistryConfig,
    url: String,
}

impl Server {
    /// Opens the data folder and binds the listening socket; serving starts with [`Server::run`].
    pub fn bind(mut config: RegistryConfig) -> Result<Server, RegistryError> {
        config.oidc.issuers = config
            .oidc
            .issuers
            .iter()
            .map(|issuer| oidc::check_issuer_url(issuer))
            .collect::<Result<_, _>>()?;
        let registry = Registry::open(&config.data_dir)?;
        let bind_error = |source| RegistryError::Bind {
            addr: config.listen,
            source,
        };
        let listener = std::net::TcpListener::bind(config.listen).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let url = format!("http://{}", listener.local_addr().map_err(bind_error)?);
        Ok(Server {
            registry,
            listener,
            config,
            url,
        })
    }

    /// `http://ADDR:PORT`, with the real port when port 0 was asked for.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RegistryError> {
        let spool_dir = self.config.data_dir.join(SPOOL_DIR);
        std::fs::create_dir_all(&spool_dir).map_err(|source| RegistryError::DataDir {
            path: spool_dir.clone(),
            source,
        })?;
        let state = api::AppState {
            store: Arc::clone(&self.registry.store),
            spool_dir,
            max_package_bytes: self.config.max_package_bytes,
            max_unpacked_bytes: self.config.max_unpacked_bytes,
            body_idle_timeout: self.config.body_idle_timeout,
            upload_timeout: self.config.upload_timeout,
            limiter: self
                .config
                .rate_limit
                .map(|n| Arc::new(rate_limit::RateLimiter::new(n))),
            auth_failures: Arc::new(auth_failures::AuthFailures::new(
                self.config.auth_failures_per_minute,
            )),
            log_requests: self.config.log_requests,
            oidc: Arc::new(oidc::Verifier::new(self.config.oidc)?),
        };
        let listener =
            tokio::net::TcpListener::from_std(self.listener).map_err(RegistryError::Serve)?;
        connection::serve(
            listener,
            api::router(state),
            self.config.header_timeout,
            shutdown,
        )
        .await
        .map_err(RegistryError::Serve)
    }
}

/// A server on its own thread and runtime, usable from sync and async code. Dropping it stops
/// the server.
pub struct RunningRegistry {
    registry: Registry,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), RegistryError>>>,
}

impl RunningRegistry {
    fn start(config: RegistryConfig) -> Result<RunningRegistry, RegistryError> {
        let server = Server::bind(config)?;
        let registry = server.registry().clone();
        let url = server.url().to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(RegistryError::Serve)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(server.run(async {
                // A dropped sender stops the server too.
                let _ = stopped.await;
            }))
        });
        Ok(RunningRegistry {
            registry,
            url,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server and waits for it, reporting how it ended.
    pub fn stop(mut self) -> Result<(), RegistryError> {
        self.shut_down()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    fn shut_down(&mut self) -> std::thread::Result<Result<(), RegistryError>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .take()
            .map_or(Ok(Ok(())), std::thread::JoinHandle::join)
    }
}

impl std::ops::Deref for RunningRegistry {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        &self.registry
    }
}

impl Drop for RunningRegistry {
    fn drop(&mut self) {
        // A drop cannot report how the server ended; `stop` can.
        let _ = self.shut_down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publisher_names() {
        for good in ["alice", "a", "team-1.ci_bot"] {
            assert!(check_publisher_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a b", "a/b", "ä", "a\u{202e}", &"a".repeat(65)] {
            assert!(check_publisher_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_names_are_one_printable_line() {
        for good in ["GitHub Actions — my_package", "ci: nightly", "日本語 ✓"] {
            assert!(check_token_name(good).is_ok(), "{good}");
        }
        for bad in [
            "a\nb",
            "a\tb",
            "\u{1b}[31mred",
            "evil\u{202e}gnp.exe",
            "zero\u{200b}width",
            "::add-mask::x",
            "##[error]x",
            &"n".repeat(129),
        ] {
            let err = check_token_name(bad).unwrap_err().to_string();
            assert!(
                !err.contains('\u{1b}') && !err.contains('\u{202e}'),
                "{err}"
            );
            assert_eq!(err.lines().count(), 2, "{err}");
        }
    }
}
