//! `chuks-ci whoami`: what the registry says about the token in use, never the token itself.

use crate::cli::WhoamiArgs;
use crate::exit::Exit;
use crate::report::{Format, Reporter};

pub fn run(args: &WhoamiArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let connection = super::connect(&args.access, reporter)?;
    let info = super::runtime()?.block_on(connection.client.token_info())?;
    match reporter.format {
        Format::Json => crate::report::print_json(&serde_json::to_value(&info)?),
        Format::Human => {
            println!("token      {} (#{})", info.name, info.id);
            println!("publisher  {}", info.publisher);
            println!("scopes     {}", info.scopes.join(", "));
            println!("status     {}", info.status);
            println!("created    {}", info.created_at);
            println!("expires    {}", info.expires_at);
            println!(
                "last used  {}",
                info.last_used_at.as_deref().unwrap_or("never")
            );
        }
    }
    Ok(Exit::Success)
}
