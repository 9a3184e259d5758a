//! What the official CLI's output means: one table of patterns, easy to change when its wording
//! is learned. The CLI's messages are not documented, so matching is by words, case-insensitive.

/// How a run of `chuks publish` ended, as far as its exit status and last lines say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Published,
    /// The registry already holds this version (it answers `409` to every overwrite).
    Exists,
    /// The token was refused: unknown, expired, revoked, or without the scope.
    AuthRefused,
    /// The registry's permission scan or `declaredDomains` check refused the package.
    SupplyChainRefused,
    /// The network or the registry failed: worth another attempt.
    Transient,
    /// Anything else.
    Unknown,
}

/// A pattern: words that must all appear, or a status code standing alone.
enum Pattern {
    Words(&'static str),
    Status(u16),
    /// Any standalone status in a range, for 5xx.
    StatusRange(u16, u16),
}

/// Checked in order; the first outcome with a matching pattern wins, so "already exists" beats
/// the `409` inside a failed attempt's message, and a refused token beats a network word.
const TABLE: &[(Outcome, &[Pattern])] = &[
    (
        Outcome::Exists,
        &[Pattern::Words("already exists"), Pattern::Status(409)],
    ),
    (
        Outcome::AuthRefused,
        &[
            Pattern::Status(401),
            Pattern::Status(403),
            Pattern::Words("unauthorized"),
            Pattern::Words("forbidden"),
            Pattern::Words("expired"),
            Pattern::Words("revoked"),
            Pattern::Words("scope"),
        ],
    ),
    (
        Outcome::SupplyChainRefused,
        &[
            Pattern::Words("permission"),
            Pattern::Words("declareddomains"),
            Pattern::Words("domain"),
        ],
    ),
    (
        Outcome::Transient,
        &[
            Pattern::Words("connection"),
            Pattern::Words("dial tcp"),
            Pattern::Words("no such host"),
            Pattern::Words("dns"),
            Pattern::Words("timeout"),
            Pattern::Words("timed out"),
            Pattern::Words("network"),
            Pattern::Words("unreachable"),
            Pattern::Words("eof"),
            Pattern::StatusRange(500, 599),
        ],
    ),
];

/// The outcome of a run that exited with `success`, given its last lines of output.
pub fn classify(success: bool, lines: &[String]) -> Outcome {
    if success {
        return Outcome::Published;
    }
    let text = lines.join("\n").to_ascii_lowercase();
    TABLE
        .iter()
        .find(|(_, patterns)| patterns.iter().any(|pattern| matches(pattern, &text)))
        .map_or(Outcome::Unknown, |(outcome, _)| *outcome)
}

fn matches(pattern: &Pattern, text: &str) -> bool {
    match *pattern {
        Pattern::Words(words) => text.contains(words),
        Pattern::Status(status) => standalone_numbers(text).any(|number| number == status),
        Pattern::StatusRange(low, high) => {
            standalone_numbers(text).any(|number| (low..=high).contains(&number))
        }
    }
}

/// Three-digit numbers not part of a longer run of digits or letters (`409`, `(409)`, not
/// `14090` or `v409`).
fn standalone_numbers(text: &str) -> impl Iterator<Item = u16> + '_ {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| word.len() == 3 && word.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|word| word.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(line: &str) -> Outcome {
        classify(false, &[line.to_string()])
    }

    #[test]
    fn each_known_failure_has_its_outcome() {
        assert_eq!(classify(true, &[]), Outcome::Published);
        assert_eq!(
            outcome("Error: di@1.0.0 already exists (409)"),
            Outcome::Exists
        );
        assert_eq!(outcome("HTTP 409"), Outcome::Exists);
        assert_eq!(
            outcome("Error: 401 Unauthorized: invalid API token"),
            Outcome::AuthRefused
        );
        assert_eq!(outcome("token expired"), Outcome::AuthRefused);
        assert_eq!(
            outcome("missing scope packages:publish"),
            Outcome::AuthRefused
        );
        assert_eq!(
            outcome("publish rejected: package uses undeclared permission `fs`"),
            Outcome::SupplyChainRefused
        );
        assert_eq!(
            outcome("api.x.com is not in declaredDomains"),
            Outcome::SupplyChainRefused
        );
        assert_eq!(
            outcome("dial tcp: lookup registry.chuks.org: no such host"),
            Outcome::Transient
        );
        assert_eq!(outcome("server answered 503"), Outcome::Transient);
        assert_eq!(
            outcome("the flux capacitor is not charged"),
            Outcome::Unknown
        );
    }

    #[test]
    fn status_codes_must_stand_alone() {
        assert_eq!(
            outcome("uploaded 14090 bytes, then failed"),
            Outcome::Unknown
        );
        assert_eq!(outcome("version v409 is odd"), Outcome::Unknown);
    }
}
