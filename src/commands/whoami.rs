//! `chuks-ci whoami`: what the registry says about the token in use, never the token itself.

use super::Exit;
use super::context;
use crate::cli::WhoamiArgs;
use crate::registry_client;
use crate::report::{Format, Reporter};
use crate::token::TokenError;
use crate::untrusted;

pub fn run(args: &WhoamiArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let token = context::api_token(&args.access.token, reporter)?;
    let session = context::session(&args.access.network, reporter)?;
    let url = registry_client::registry_url(args.access.registry.registry.as_deref())?;
    let client = session.connect(url, token.ok_or(TokenError::Missing)?)?;
    let info = session.block_on(client.token_info())?;
    match reporter.format {
        Format::Json => crate::report::print_json(&serde_json::to_value(&info)?),
        Format::Human => {
            crate::outln!("token      {} (#{})", info.name, info.id);
            crate::outln!("publisher  {}", info.publisher);
            let scopes: Vec<String> = info.scopes.iter().map(ToString::to_string).collect();
            crate::outln!("scopes     {}", scopes.join(", "));
            crate::outln!("status     {}", info.status);
            crate::outln!("created    {}", info.created_at);
            crate::outln!("expires    {}", info.expires_at);
            crate::outln!(
                "last used  {}",
                untrusted::or(info.last_used_at.as_ref(), "never")
            );
        }
    }
    Ok(Exit::Success)
}
