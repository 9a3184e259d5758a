//! The CI environment: which CI we run on and what it tells us (tag, commit, repository).

/// True inside GitHub Actions, where workflow commands and output files apply.
pub fn is_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}
