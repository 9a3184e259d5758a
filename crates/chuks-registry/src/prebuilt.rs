//! Prebuilt platform ids (`linux-x86_64`, …) and which one the host is.

/// The platforms a prebuilt binary may target, as the registry names them.
pub const PLATFORMS: [&str; 5] = [
    "darwin-arm64",
    "darwin-x86_64",
    "linux-x86_64",
    "linux-aarch64",
    "windows-x86_64",
];

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "unknown platform `{0}`\nhint: use one of `darwin-arm64`, `darwin-x86_64`, `linux-x86_64`, `linux-aarch64`, `windows-x86_64`, or `auto`"
    )]
    Unknown(String),

    #[error(
        "this host ({os}/{arch}) has no prebuilt platform id\nhint: pass `--platform` with one of `darwin-arm64`, `darwin-x86_64`, `linux-x86_64`, `linux-aarch64`, `windows-x86_64`"
    )]
    UnsupportedHost {
        os: &'static str,
        arch: &'static str,
    },
}

/// Checks a `--platform` value; `auto` means the host's platform.
pub fn resolve_platform(requested: &str) -> Result<&'static str, PlatformError> {
    if requested == "auto" {
        return host(std::env::consts::OS, std::env::consts::ARCH);
    }
    PLATFORMS
        .into_iter()
        .find(|platform| *platform == requested)
        .ok_or_else(|| PlatformError::Unknown(requested.to_string()))
}

fn host(os: &'static str, arch: &'static str) -> Result<&'static str, PlatformError> {
    match (os, arch) {
        ("macos", "aarch64") => Ok("darwin-arm64"),
        ("macos", "x86_64") => Ok("darwin-x86_64"),
        ("linux", "x86_64") => Ok("linux-x86_64"),
        ("linux", "aarch64") => Ok("linux-aarch64"),
        ("windows", "x86_64") => Ok("windows-x86_64"),
        _ => Err(PlatformError::UnsupportedHost { os, arch }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_map_to_registry_ids() {
        assert_eq!(host("macos", "aarch64").unwrap(), "darwin-arm64");
        assert_eq!(host("windows", "x86_64").unwrap(), "windows-x86_64");
        assert!(host("freebsd", "x86_64").is_err());
        assert_eq!(
            resolve_platform("auto").ok(),
            host(std::env::consts::OS, std::env::consts::ARCH).ok()
        );
        assert_eq!(resolve_platform("linux-aarch64").unwrap(), "linux-aarch64");
        assert!(matches!(
            resolve_platform("linux-arm"),
            Err(PlatformError::Unknown(_))
        ));
    }
}
