//! Which uploader sends the bytes, as `--uploader` asks: chuks-ci's HTTP client, or the official
//! `chuks` CLI (the one client of the real registry's source-publish protocol).

use crate::cli::{UploaderArg, UploaderArgs};
use crate::official_cli::{self, CliError, OfficialCli};
use crate::report::Reporter;

pub enum Uploader {
    Http,
    Chuks(OfficialCli),
}

impl Uploader {
    /// How the uploader is named in every output.
    pub fn name(&self) -> &'static str {
        match self {
            Uploader::Http => "http",
            Uploader::Chuks(_) => "chuks",
        }
    }

    /// `http` for a registry on this machine (`--local-registry`, loopback); otherwise the
    /// official CLI when it is found, else `http` with one notice. Says which, once.
    pub fn choose(
        args: &UploaderArgs,
        on_this_machine: bool,
        reporter: &Reporter,
    ) -> anyhow::Result<Uploader> {
        let env = std::env::var_os("CHUKS_BIN")
            .filter(|path| !path.is_empty())
            .map(Into::into);
        let uploader = match args.uploader {
            UploaderArg::Http => Uploader::Http,
            UploaderArg::Chuks => official_cli::locate(args.chuks_bin.as_deref(), env)?
                .map(Uploader::Chuks)
                .ok_or(CliError::Missing)?,
            UploaderArg::Auto if on_this_machine => Uploader::Http,
            UploaderArg::Auto => match official_cli::locate(args.chuks_bin.as_deref(), env)? {
                Some(cli) => Uploader::Chuks(cli),
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
            Uploader::Chuks(cli) => {
                reporter.note(format!("uploader: the official CLI, {}", cli.version()));
                reporter.debug(
                    1,
                    format!(
                        "official CLI at `{}`",
                        crate::untrusted::Untrusted::path(cli.path())
                    ),
                );
            }
        }
        Ok(uploader)
    }
}
