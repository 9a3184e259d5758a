//! `chuks-ci registry …`: serve the reference registry and manage its tokens, scopes and
//! trusted publishers.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use jiff::Timestamp;
use serde_json::json;

use super::Exit;
use crate::cli::{
    DataDirArgs, RegistryCommand, ScopeCommand, ScopeGrantArgs, ServeArgs, TokenCommand,
    TokenCreateArgs, TokenRevokeArgs, TrustAddArgs, TrustCommand, TrustProviderArg,
    TrustRemoveArgs,
};
use crate::registry_server::{
    Identity, NewTrustedPublisher, OidcConfig, Registry, RegistryConfig, ScopeHolder, Server,
    TokenRecord, TrustedPublisher,
};
use crate::report::{Format, Reporter, print_json};
use crate::token::Scope;
use crate::untrusted::Untrusted;

pub fn run(command: RegistryCommand, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    match command {
        RegistryCommand::Serve(args) => serve(args, reporter),
        RegistryCommand::Token(TokenCommand::Create(args)) => create(&args, reporter),
        RegistryCommand::Token(TokenCommand::List(args)) => list(&args, reporter),
        RegistryCommand::Token(TokenCommand::Revoke(args)) => revoke(&args, reporter),
        RegistryCommand::Scope(ScopeCommand::Grant(args)) => grant_scope(&args, reporter),
        RegistryCommand::Scope(ScopeCommand::List(args)) => list_scopes(&args, reporter),
        RegistryCommand::Scope(ScopeCommand::Revoke(args)) => revoke_scope(&args, reporter),
        RegistryCommand::Trust(TrustCommand::Add(args)) => add_trust(&args, reporter),
        RegistryCommand::Trust(TrustCommand::List(args)) => list_trust(&args, reporter),
        RegistryCommand::Trust(TrustCommand::Remove(args)) => remove_trust(&args, reporter),
    }
}

fn serve(args: ServeArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let server = Server::bind(RegistryConfig {
        data_dir: args.data.data_dir,
        listen: args.listen,
        max_package_bytes: args.max_package_bytes,
        max_unpacked_bytes: args.max_unpacked_bytes,
        rate_limit: args.rate_limit,
        log_requests: true,
        header_timeout: Duration::from_secs(args.header_timeout),
        body_idle_timeout: Duration::from_secs(args.body_idle_timeout),
        upload_timeout: Duration::from_secs(args.upload_timeout),
        auth_failures_per_minute: args.auth_failures_per_minute,
        oidc: OidcConfig {
            issuers: args.oidc_issuers,
            audience: args.oidc_audience,
            minted_token_lifetime: Duration::from_secs(args.minted_token_minutes * 60),
        },
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime\nhint: the machine may be out of threads or memory; try again")?;
    let shutdown = shutdown_signal(&runtime);
    match reporter.format {
        Format::Human => crate::outln!("listening on {}", server.url()),
        Format::Json => print_json(&json!({ "listening": server.url() })),
    }
    // Scripts read the URL from a pipe, which would otherwise buffer it.
    std::io::stdout().flush().context(
        "cannot write to stdout\nhint: keep stdout open: the first line is the URL to use",
    )?;
    reporter.note("press Ctrl-C to stop");
    runtime.block_on(server.run(shutdown))?;
    reporter.note("registry stopped");
    Ok(Exit::Success)
}

fn create(args: &TokenCreateArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let scopes = args
        .scopes
        .iter()
        .map(|scope| scope.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()?;
    let registry = Registry::open(&args.data.data_dir)?;
    let issued =
        registry.create_token(&args.publisher, &args.name, &scopes, args.expires_in_days)?;
    match reporter.format {
        Format::Human => crate::outln!("{}", issued.token.expose()),
        Format::Json => {
            let mut value = serde_json::to_value(issued.record.info(Timestamp::now()))?;
            value["token"] = issued.token.expose().into();
            crate::report::print_json_revealing_token(&value);
        }
    }
    reporter.note(format!(
        "created token {} for `{}`, expiring {}; this is the only time it is shown, so store it as a CI secret now",
        issued.record.id,
        issued.record.publisher,
        human_time(issued.record.expires_at)
    ));
    Ok(Exit::Success)
}

fn list(args: &DataDirArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let tokens = Registry::open(&args.data_dir)?.list_tokens()?;
    let now = Timestamp::now();
    match reporter.format {
        Format::Json => print_json(&json!({
            "tokens": tokens.iter().map(|t| t.details(now)).collect::<Vec<_>>(),
        })),
        Format::Human if tokens.is_empty() => reporter.note("no tokens yet"),
        Format::Human => {
            crate::outln!("{}", token_table(&tokens, now).trim_end());
            for token in &tokens {
                if let Some(line) = minted_line(token) {
                    crate::outln!("{line}");
                }
            }
        }
    }
    Ok(Exit::Success)
}

fn revoke(args: &TokenRevokeArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let record = Registry::open(&args.data.data_dir)?.revoke_token(args.id)?;
    match reporter.format {
        Format::Json => print_json(&serde_json::to_value(record.info(Timestamp::now()))?),
        Format::Human => crate::outln!(
            "token {} `{}` is revoked since {}",
            record.id,
            record.name,
            record.revoked_at.map_or_else(String::new, human_time)
        ),
    }
    Ok(Exit::Success)
}

fn grant_scope(args: &ScopeGrantArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let holder = Registry::open(&args.data.data_dir)?.grant_scope(&args.scope, &args.publisher)?;
    match reporter.format {
        Format::Json => print_json(&scope_json(&holder)),
        Format::Human => crate::outln!(
            "publisher `{}` holds `{}` ({} since {})",
            holder.publisher,
            holder.scope,
            holder.source.as_str(),
            human_time(holder.since)
        ),
    }
    Ok(Exit::Success)
}

fn list_scopes(args: &DataDirArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let holders = Registry::open(&args.data_dir)?.list_scopes()?;
    match reporter.format {
        Format::Json => print_json(&json!({
            "scopes": holders.iter().map(scope_json).collect::<Vec<_>>(),
        })),
        Format::Human if holders.is_empty() => reporter.note("no scope is held yet"),
        Format::Human => {
            let rows = holders.iter().map(|holder| {
                vec![
                    holder.scope.to_string(),
                    holder.publisher.to_string(),
                    holder.source.as_str().to_string(),
                    human_time(holder.since),
                ]
            });
            crate::outln!(
                "{}",
                table(&["SCOPE", "PUBLISHER", "HOW", "SINCE"], rows).trim_end()
            );
        }
    }
    Ok(Exit::Success)
}

fn revoke_scope(args: &ScopeGrantArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    Registry::open(&args.data.data_dir)?.revoke_scope(&args.scope, &args.publisher)?;
    reporter.note(format!(
        "publisher `{}` no longer holds `{}`; packages already published under it keep their owners",
        Untrusted::from(args.publisher.as_str()),
        Untrusted::from(args.scope.as_str())
    ));
    Ok(Exit::Success)
}

fn add_trust(args: &TrustAddArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let new = NewTrustedPublisher {
        publisher: args.publisher.clone(),
        package: args.package.clone(),
        issuer: args.issuer.clone(),
        identity: trust_identity(args)?,
    };
    let added = Registry::open(&args.data.data_dir)?.add_trusted_publisher(&new)?;
    match reporter.format {
        Format::Json => print_json(&serde_json::to_value(&added)?),
        Format::Human => crate::outln!(
            "trusted publisher {}: {} may publish `{}` as `{}`",
            added.id,
            describe_identity(&added),
            Untrusted::from(added.package.as_str()),
            Untrusted::from(added.publisher.as_str())
        ),
    }
    Ok(Exit::Success)
}

/// The identity `--provider` names, from the flags that apply to it; a flag of another
/// provider is refused rather than ignored.
fn trust_identity(args: &TrustAddArgs) -> anyhow::Result<Identity> {
    let given = |flag: &'static str, value: &Option<String>| value.as_ref().map(|_| flag);
    let github_only = [
        given("--repository", &args.repository),
        given("--repository-owner-id", &args.repository_owner_id),
        given("--workflow", &args.workflow),
    ];
    let gitlab_only = [
        given("--project", &args.project),
        given("--config-path", &args.config_path),
    ];
    let bitbucket_only = [
        given("--workspace-uuid", &args.workspace_uuid),
        given("--repository-uuid", &args.repository_uuid),
    ];
    let environment = [given("--environment", &args.environment)];
    let (provider, foreign): (&str, Vec<Option<&str>>) = match args.provider {
        TrustProviderArg::Github => ("github", [&gitlab_only[..], &bitbucket_only].concat()),
        TrustProviderArg::Gitlab => ("gitlab", [&github_only[..], &bitbucket_only].concat()),
        TrustProviderArg::Bitbucket => (
            "bitbucket",
            [&github_only[..], &gitlab_only, &environment].concat(),
        ),
    };
    if let Some(flag) = foreign.into_iter().flatten().next() {
        bail!(
            "`{flag}` does not apply to `--provider {provider}`\nhint: see `chuks-ci registry trust add --help` for each provider's flags"
        );
    }
    let required = |value: &Option<String>, flag: &str| {
        value.clone().with_context(|| {
            format!("`--provider {provider}` needs `{flag}`\nhint: see `chuks-ci registry trust add --help`")
        })
    };
    Ok(match args.provider {
        TrustProviderArg::Github => Identity::Github {
            repository: required(&args.repository, "--repository")?,
            repository_owner_id: args.repository_owner_id.clone(),
            workflow: required(&args.workflow, "--workflow")?,
            environment: args.environment.clone(),
        },
        TrustProviderArg::Gitlab => Identity::Gitlab {
            project: required(&args.project, "--project")?,
            config_path: required(&args.config_path, "--config-path")?,
            environment: args.environment.clone(),
        },
        TrustProviderArg::Bitbucket => Identity::Bitbucket {
            workspace_uuid: required(&args.workspace_uuid, "--workspace-uuid")?,
            repository_uuid: required(&args.repository_uuid, "--repository-uuid")?,
        },
    })
}

fn list_trust(args: &DataDirArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let publishers = Registry::open(&args.data_dir)?.list_trusted_publishers()?;
    match reporter.format {
        Format::Json => print_json(&json!({ "trusted_publishers": publishers })),
        Format::Human if publishers.is_empty() => reporter.note("no trusted publisher yet"),
        Format::Human => {
            let rows = publishers.iter().map(|trusted| {
                vec![
                    trusted.id.to_string(),
                    Untrusted::from(trusted.package.as_str()).to_string(),
                    Untrusted::from(trusted.publisher.as_str()).to_string(),
                    describe_identity(trusted),
                    Untrusted::from(trusted.issuer.as_str()).to_string(),
                ]
            });
            crate::outln!(
                "{}",
                table(&["ID", "PACKAGE", "PUBLISHER", "TRUSTS", "ISSUER"], rows).trim_end()
            );
        }
    }
    Ok(Exit::Success)
}

fn remove_trust(args: &TrustRemoveArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let removed = Registry::open(&args.data.data_dir)?.remove_trusted_publisher(args.id)?;
    match reporter.format {
        Format::Json => print_json(&serde_json::to_value(&removed)?),
        Format::Human => crate::outln!(
            "trusted publisher {} removed: {} no longer publishes `{}`; tokens it minted expire on their own",
            removed.id,
            describe_identity(&removed),
            Untrusted::from(removed.package.as_str())
        ),
    }
    Ok(Exit::Success)
}

/// One line saying which CI identity a trusted publisher trusts, its values escaped.
fn describe_identity(trusted: &TrustedPublisher) -> String {
    let shown = |text: &str| Untrusted::from(text).to_string();
    let environment = |environment: &Option<String>| {
        environment
            .as_deref()
            .map_or_else(String::new, |env| format!(" environment {}", shown(env)))
    };
    match &trusted.identity {
        Identity::Github {
            repository,
            repository_owner_id,
            workflow,
            environment: env,
        } => format!(
            "github {}{} workflow {}{}",
            shown(repository),
            repository_owner_id
                .as_deref()
                .map_or_else(String::new, |id| format!(" (owner id {})", shown(id))),
            shown(workflow),
            environment(env)
        ),
        Identity::Gitlab {
            project,
            config_path,
            environment: env,
        } => format!(
            "gitlab {} config {}{}",
            shown(project),
            shown(config_path),
            environment(env)
        ),
        Identity::Bitbucket {
            workspace_uuid,
            repository_uuid,
        } => format!(
            "bitbucket workspace {} repository {}",
            shown(workspace_uuid),
            shown(repository_uuid)
        ),
    }
}

/// Below the token table: what a token minted by trusted publishing was minted for.
fn minted_line(token: &TokenRecord) -> Option<String> {
    let minted = token.minted_for.as_ref()?;
    let field = |name: &str, value: &Option<Untrusted>| {
        value
            .as_ref()
            .map(|value| format!(", {name} {value}"))
            .unwrap_or_default()
    };
    let packages = token
        .packages
        .iter()
        .flatten()
        .map(|package| format!("`{}`", Untrusted::from(package.as_str())))
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!(
        "token {} was minted by trusted publishing (trusted publisher {}, {}) for {packages}{}{}{}{}{}",
        token.id,
        minted.trusted_publisher,
        minted.provider,
        field("repository", &minted.repository),
        field("workflow", &minted.workflow),
        field("ref", &minted.git_ref),
        field("sha", &minted.sha),
        field("run", &minted.run_id),
    ))
}

fn scope_json(holder: &ScopeHolder) -> serde_json::Value {
    json!({
        "scope": holder.scope,
        "publisher": holder.publisher,
        "source": holder.source.as_str(),
        "since": holder.since.to_string(),
    })
}

/// Aligned columns: id, name, publisher, scopes, created, expires, last used, status. Names and
/// publishers print escaped.
fn token_table(tokens: &[TokenRecord], now: Timestamp) -> String {
    let rows = tokens.iter().map(|token| {
        vec![
            token.id.to_string(),
            token.name.to_string(),
            token.publisher.to_string(),
            token
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(","),
            human_time(token.created_at),
            human_time(token.expires_at),
            token
                .last_used_at
                .map_or_else(|| "never".to_string(), human_time),
            token.status(now).as_str().to_string(),
        ]
    });
    let header = [
        "ID",
        "NAME",
        "PUBLISHER",
        "SCOPES",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "STATUS",
    ];
    table(&header, rows)
}

/// `header` and `rows` in columns as wide as their widest cell.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect())
        .chain(rows)
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut table = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    table
}

fn human_time(timestamp: Timestamp) -> String {
    timestamp.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Listens for Ctrl-C and, on Unix, SIGTERM (what CI runners and `kill` send) from the moment
/// it is called, so a signal sent right after the URL is printed already stops the server
/// cleanly; the future resolves on the first of them.
fn shutdown_signal(runtime: &tokio::runtime::Runtime) -> impl Future<Output = ()> + use<> {
    let _context = runtime.enter();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            tokio::select! {
                () = first_of(interrupt) => {}
                () = first_of(terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Resolves when the signal arrives; without a handler, never (another signal or a kill ends it).
#[cfg(unix)]
async fn first_of(stream: std::io::Result<tokio::signal::unix::Signal>) {
    match stream {
        Ok(mut stream) => {
            stream.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}
