//! The uploader seam: what puts an upload on the wire, chuks-ci's HTTP client or the official
//! `chuks` CLI (the one client of the real registry's source-publish protocol), chosen as
//! `--uploader` asks. Both say how the upload ended in one type, [`Sent`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::official_cli::{self, CliError, OfficialCli, PublishJob};
use crate::registry_client::RegistryClient;
use crate::report::{Format, Reporter};
use crate::session::Session;
use crate::token::ApiToken;
use crate::untrusted::Untrusted;
use crate::upload::{Sent, Upload};

/// `--uploader` and how to run the official CLI.
#[derive(Clone)]
pub struct UploaderChoice {
    pub kind: UploaderKind,
    /// `--chuks-bin`; else `CHUKS_BIN`, then `chuks` on PATH.
    pub chuks_bin: Option<PathBuf>,
    /// How long one run of the official CLI may take.
    pub upload_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploaderKind {
    /// `http` for a registry on this machine, else the official CLI when it is found.
    Auto,
    Chuks,
    Http,
}

pub enum Uploader {
    Http,
    Chuks { cli: OfficialCli, timeout: Duration },
}

/// Where an upload goes: the registry's client, and the token it checked.
pub struct Destination {
    pub client: RegistryClient,
    pub token: ApiToken,
}

impl Uploader {
    /// How the uploader is named in every output.
    pub fn name(&self) -> &'static str {
        match self {
            Uploader::Http => "http",
            Uploader::Chuks { .. } => "chuks",
        }
    }

    /// `http` for a registry on this machine (`--local-registry`, loopback); otherwise the
    /// official CLI when it is found, else `http` with one notice. Says which, once.
    pub fn choose(
        choice: &UploaderChoice,
        on_this_machine: bool,
        reporter: &Reporter,
    ) -> Result<Uploader, CliError> {
        let env = std::env::var_os("CHUKS_BIN")
            .filter(|path| !path.is_empty())
            .map(Into::into);
        let chuks = |cli| Uploader::Chuks {
            cli,
            timeout: choice.upload_timeout,
        };
        let uploader = match choice.kind {
            UploaderKind::Http => Uploader::Http,
            UploaderKind::Chuks => official_cli::locate(choice.chuks_bin.as_deref(), env)?
                .map(chuks)
                .ok_or(CliError::Missing)?,
            UploaderKind::Auto if on_this_machine => Uploader::Http,
            UploaderKind::Auto => match official_cli::locate(choice.chuks_bin.as_deref(), env)? {
                Some(cli) => chuks(cli),
                None => {
                    reporter.note(
                        "the official `chuks` CLI was not found on PATH, so chuks-ci uploads over HTTP itself (`--chuks-bin` or `CHUKS_BIN` names it elsewhere)",
                    );
                    Uploader::Http
                }
            },
        };
        match &uploader {
            Uploader::Http => reporter.debug(1, "uploader: chuks-ci's HTTP client"),
            Uploader::Chuks { cli, .. } => {
                reporter.note(format!("uploader: the official CLI, {}", cli.version()));
                reporter.debug(
                    1,
                    format!("official CLI at `{}`", Untrusted::path(cli.path())),
                );
            }
        }
        Ok(uploader)
    }

    /// Sends `upload` from the package folder `dir` to `to`, and says how it ended.
    pub fn send(
        &self,
        upload: &Upload<'_>,
        dir: &Path,
        to: &Destination,
        session: &Session,
        reporter: &Reporter,
    ) -> anyhow::Result<Sent> {
        match self {
            Uploader::Http => Ok(send_over_http(upload, &to.client, session, reporter)?),
            Uploader::Chuks { cli, timeout } => {
                let job = PublishJob {
                    dir,
                    registry: &to.client,
                    token: &to.token,
                    timeout: *timeout,
                    retry: session.retry(),
                };
                Ok(session.block_on(cli.publish(&job, upload, reporter))?)
            }
        }
    }
}

/// Uploads with chuks-ci's HTTP client, showing progress for a large upload.
fn send_over_http(
    upload: &Upload<'_>,
    client: &RegistryClient,
    session: &Session,
    reporter: &Reporter,
) -> Result<Sent, crate::registry_client::ClientError> {
    let quiet = reporter.format == Format::Json;
    let size = upload.file().map_or(0, |file| file.size);
    let (progress, bar) = crate::progress::for_upload(size, quiet);
    let sent = session.block_on(client.publish(upload, progress));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    sent
}
