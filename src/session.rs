//! The runtime and network settings that one command's registry and forge calls run on: only
//! the commands that go on the network make one.

use reqwest::Url;

use crate::registry_client::{ClientError, ClientOptions, RegistryClient};
use crate::retry::RetryPolicy;
use crate::token::ApiToken;

pub struct Session {
    runtime: tokio::runtime::Runtime,
    options: ClientOptions,
}

impl Session {
    /// Starts the one-thread runtime.
    pub fn new(options: ClientOptions) -> std::io::Result<Session> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Session { runtime, options })
    }

    /// The retry policy every network call of this run follows.
    pub fn retry(&self) -> &RetryPolicy {
        &self.options.retry
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A client for the registry at `url` without a token, for what needs none (trusted
    /// publishing's exchange).
    pub fn connect_without_token(&self, url: Url) -> Result<RegistryClient, ClientError> {
        RegistryClient::new(url, None, self.options.clone())
    }

    /// A client for the registry at `url`, holding `token`.
    pub fn connect(&self, url: Url, token: ApiToken) -> Result<RegistryClient, ClientError> {
        RegistryClient::new(url, Some(token), self.options.clone())
    }
}
