//! What a run of the official CLI means, decided in one place from two things only: its exit
//! status and its final error line. Its messages are not documented, so this is a table of
//! anchored patterns, easy to change when its wording is learned.
//!
//! The rule:
//! - Exit 0 is a publish; the read-back then confirms it.
//! - Otherwise only the **final error line** is read: the last line the CLI printed (on stdout
//!   or stderr) before its process exited that opens with an error marker: `Error:`, `error:`,
//!   `fatal:`, `[ERROR]` or `level=error`, after optional spaces, a Go `log` timestamp and a
//!   symbol such as `✗`. Lines without a marker (progress, counts, descriptions, file names) and
//!   lines that arrive after the CLI exited (a child it left behind) are never read for meaning.
//! - On that line a status code counts only in an HTTP context: after `HTTP` or `HTTP/1.1`,
//!   after `status` or `status code` (with an optional `:` or `=`), alone in brackets (`(409)`,
//!   `[409]`), or followed by its reason phrase (`409 Conflict`, `401 Unauthorized`). A bare
//!   number is a count: `error: packing 409 files failed` says nothing about HTTP.
//! - Words (`already exists`, `unauthorized`, `no such host`…) count as whole words on that
//!   line only.
//! - No error line, or nothing on it that the table knows: [`Failure::Unknown`], which quotes
//!   the CLI's last lines.
//!
//! "Already exists" is a claim, not proof: the publish step reads the version back, and a
//! registry that does not hold it turns the claim into a failure.

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use regex::Regex;

use crate::untrusted::Untrusted;

/// Why a run of `chuks publish` failed, as far as its final error line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The CLI says the registry already holds this version (it answers `409` to every
    /// overwrite).
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

/// What on the error line points to an outcome.
enum Sign {
    /// Whole words, in any case.
    Words(&'static str),
    /// An HTTP status in an HTTP context.
    Status(RangeInclusive<u16>),
}

use Sign::{Status, Words};

/// Checked in order; the first failure with a matching sign wins, so "already exists" beats a
/// `5xx` an earlier attempt left in the same message, and a refused token beats a network word.
const TABLE: &[(Failure, &[Sign])] = &[
    (
        Failure::Exists,
        &[
            Words("already exists"),
            Words("already published"),
            Status(409..=409),
        ],
    ),
    (
        Failure::AuthRefused,
        &[
            Status(401..=401),
            Status(403..=403),
            Words("unauthorized"),
            Words("unauthorised"),
            Words("forbidden"),
            Words("expired"),
            Words("revoked"),
            Words("invalid token"),
            Words("invalid api token"),
            Words("scope"),
        ],
    ),
    (
        Failure::SupplyChainRefused,
        &[
            Words("undeclared permission"),
            Words("declareddomains"),
            Words("declared domains"),
            Words("undeclared domain"),
        ],
    ),
    (
        Failure::Transient,
        &[
            Words("connection refused"),
            Words("connection reset"),
            Words("dial tcp"),
            Words("no such host"),
            Words("dns"),
            Words("timeout"),
            Words("timed out"),
            Words("network is unreachable"),
            Words("temporary failure"),
            Words("eof"),
            Words("tls handshake"),
            Status(408..=408),
            Status(429..=429),
            Status(500..=599),
        ],
    ),
];

/// An error marker opening a line: see the module documentation.
static ERROR_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        ^\s*
        (?:\d{4}/\d\d/\d\d\s+\d\d:\d\d:\d\d(?:\.\d+)?\s+)?   # Go's log timestamp
        (?:[^\w\s]{1,4}\s*)?                                # a symbol: ✗ × ! ==>
        (?: \[\s*(?:error|fatal)\s*\] | (?:error|fatal)\s*: )
        | \blevel=\x22?(?:error|fatal)\b                    # logfmt, Go's slog
        ",
    )
    .expect("the error marker pattern compiles")
});

/// A status code in an HTTP context: see the module documentation. One group per context.
static HTTP_STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
          \bhttp(?:/\d(?:\.\d)?)?[\s:]*(\d{3})\b
        | \bstatus(?:[\s_-]?code)?\s*[:=]?\s*(\d{3})\b
        | [(\[]\s*(\d{3})\s*[)\]]
        | \b(\d{3})\s+(?:bad\s+request|unauthori[sz]ed|payment\s+required|forbidden|not\s+found
            |method\s+not\s+allowed|not\s+acceptable|request\s+time-?out|conflict|gone
            |length\s+required|precondition\s+failed|payload\s+too\s+large
            |request\s+entity\s+too\s+large|unsupported\s+media\s+type
            |unprocessable\s+(?:entity|content)|too\s+many\s+requests|internal\s+server\s+error
            |not\s+implemented|bad\s+gateway|service\s+unavailable|gateway\s+time-?out)\b
        ",
    )
    .expect("the HTTP status pattern compiles")
});

/// A sign ready to test: words as a whole-word, any-case pattern.
enum Test {
    Words(Regex),
    Status(RangeInclusive<u16>),
}

/// [`TABLE`] with its words compiled.
static COMPILED: LazyLock<Vec<(Failure, Vec<Test>)>> = LazyLock::new(|| {
    TABLE
        .iter()
        .map(|(failure, signs)| (*failure, signs.iter().map(compile).collect()))
        .collect()
});

fn compile(sign: &Sign) -> Test {
    match sign {
        Words(words) => {
            let spaced = regex::escape(words).replace(' ', r"\s+");
            Test::Words(Regex::new(&format!(r"(?i)\b{spaced}\b")).expect("escaped words compile"))
        }
        Status(range) => Test::Status(range.clone()),
    }
}

/// True when `line` opens with an error marker.
pub fn is_error_line(line: &str) -> bool {
    ERROR_MARKER.is_match(line)
}

/// Follows the CLI's own lines as they arrive and keeps its final error line.
#[derive(Debug, Default)]
pub struct FinalErrorLine(Option<Untrusted>);

impl FinalErrorLine {
    /// Takes one line the CLI printed before it exited (never a line that came later).
    pub fn observe(&mut self, line: &Untrusted) {
        if is_error_line(line.unescaped()) {
            self.0 = Some(line.clone());
        }
    }

    pub fn get(&self) -> Option<&Untrusted> {
        self.0.as_ref()
    }
}

/// Why a run that exited with a failure failed, given its final error line.
pub fn classify(error_line: Option<&Untrusted>) -> Failure {
    let Some(line) = error_line.map(Untrusted::unescaped) else {
        return Failure::Unknown;
    };
    let statuses = http_statuses(line);
    let shows = |test: &Test| match test {
        Test::Words(pattern) => pattern.is_match(line),
        Test::Status(range) => statuses.iter().any(|status| range.contains(status)),
    };
    COMPILED
        .iter()
        .find(|(_, tests)| tests.iter().any(shows))
        .map_or(Failure::Unknown, |(failure, _)| *failure)
}

/// The status codes on `line` that stand in an HTTP context.
fn http_statuses(line: &str) -> Vec<u16> {
    HTTP_STATUS
        .captures_iter(line)
        .filter_map(|captures| captures.iter().skip(1).flatten().next())
        .filter_map(|status| status.as_str().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The failure when `lines` were the CLI's own and it exited 1.
    fn outcome(lines: &[&str]) -> Failure {
        let mut error_line = FinalErrorLine::default();
        for line in lines {
            error_line.observe(&Untrusted::from(*line));
        }
        classify(error_line.get())
    }

    /// Each line, alone as the CLI's output, has its outcome.
    fn assert_outcomes(cases: &[(&str, Failure)]) {
        for (line, expected) in cases {
            assert_eq!(outcome(&[line]), *expected, "{line}");
        }
    }

    #[test]
    fn each_known_failure_has_its_outcome() {
        assert_outcomes(&[
            ("Error: di@1.0.0 already exists (409)", Failure::Exists),
            (
                "Error: POST /api/packages/di/1.0.0: HTTP 409",
                Failure::Exists,
            ),
            ("error: upload failed with status 409", Failure::Exists),
            ("Error: 409 Conflict", Failure::Exists),
            (
                "Error: publish failed: 401 Unauthorized: invalid API token",
                Failure::AuthRefused,
            ),
            ("Error: publish failed: token expired", Failure::AuthRefused),
            (
                "error: missing scope packages:publish",
                Failure::AuthRefused,
            ),
            ("Error: status=403", Failure::AuthRefused),
            (
                "Error: publish rejected: package uses undeclared permission `fs`",
                Failure::SupplyChainRefused,
            ),
            (
                "Error: api.x.com is not in declaredDomains",
                Failure::SupplyChainRefused,
            ),
            (
                "Error: dial tcp: lookup registry.chuks.org: no such host",
                Failure::Transient,
            ),
            ("Error: server answered HTTP/1.1 503", Failure::Transient),
            ("Error: 502 Bad Gateway", Failure::Transient),
            ("Error: the flux capacitor is not charged", Failure::Unknown),
        ]);
    }

    #[test]
    fn error_markers_in_their_common_forms() {
        for line in [
            "Error: x",
            "error: x",
            "ERROR : x",
            "fatal: x",
            "  [ERROR] x",
            "✗ Error: x",
            "2026/01/02 03:04:05 error: x",
            "time=2026-01-02T03:04:05Z level=ERROR msg=\"x\"",
        ] {
            assert!(is_error_line(line), "{line}");
        }
        for line in [
            "Packing 409 files",
            "error-utils: a library",
            "errors found: none",
            "the last error: x",
            "Uploading error.log",
        ] {
            assert!(!is_error_line(line), "{line}");
        }
    }

    #[test]
    fn lines_without_an_error_marker_say_nothing() {
        for line in [
            "Packing 409 files",
            "Packed 401 files",
            "Uploading 503 files",
            "di: a small helper that tells whether a file already exists",
            "adding src/409.chuks",
            "adding docs/already exists.md",
            "warning: HTTP 503, retrying",
        ] {
            assert_eq!(outcome(&[line]), Failure::Unknown, "{line}");
        }
    }

    #[test]
    fn a_number_on_the_error_line_is_a_status_only_in_an_http_context() {
        for line in [
            "Error: packing 409 files failed",
            "Error: packed 401 files, then ran out of disk",
            "Error: 503 files are too many",
            "Error: cannot read src/409.chuks",
            "Error: uploaded 14090 bytes, then failed",
            "Error: version v409 is odd",
            "Error: exit code 409",
        ] {
            assert_eq!(outcome(&[line]), Failure::Unknown, "{line}");
        }
        assert_outcomes(&[
            ("Error: upload failed (409)", Failure::Exists),
            ("Error: upload failed [401]", Failure::AuthRefused),
            ("Error: statusCode: 503", Failure::Transient),
            ("Error: status code 429", Failure::Transient),
        ]);
    }

    #[test]
    fn the_final_error_line_decides_not_the_lines_around_it() {
        // An earlier error line, later progress, a description: only the last marked line counts.
        assert_eq!(
            outcome(&[
                "Error: HTTP 503, retrying",
                "di: checks whether a file already exists",
                "Error: the flux capacitor is not charged",
                "Run 'chuks publish --help' for usage.",
            ]),
            Failure::Unknown
        );
        assert_eq!(
            outcome(&[
                "Packing 409 files",
                "Error: di@1.0.0 already exists (409)",
                "Run 'chuks publish --help' for usage.",
            ]),
            Failure::Exists
        );
        // "already exists" elsewhere than on the error line is no claim.
        assert_eq!(
            outcome(&[
                "warning: docs/install.md already exists in the tarball",
                "Error: connection reset by peer",
            ]),
            Failure::Transient
        );
    }

    #[test]
    fn words_count_whole() {
        assert_eq!(outcome(&["Error: geofence unavailable"]), Failure::Unknown);
        assert_eq!(outcome(&["Error: unexpected EOF"]), Failure::Transient);
        assert_eq!(
            outcome(&["Error: di@1.0.0 ALREADY   EXISTS"]),
            Failure::Exists
        );
    }
}
