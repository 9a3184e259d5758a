//! A `no_trusted_publisher` refusal, told so that it can be fixed: the claims this job sent, what
//! the registry's nearest trusted publisher expected and which claim differed, and the
//! `registry trust add` line that would accept this workflow.

use std::fmt;

use super::claims::{self, IdTokenClaims};
use crate::protocol::{ClaimMismatch, ErrorDetail, PublisherClaims};
use crate::untrusted::{self, Untrusted};

/// What the registry said, and what this job sent.
#[derive(Debug)]
pub struct Refusal {
    message: Untrusted,
    /// The matching claims as the registry read them, else as this job's ID token says.
    sent: IdTokenClaims,
    /// The claim that kept the closest trusted publisher from matching, what it expected (absent
    /// when the registry reveals nothing) and what the token said.
    mismatch: Option<ClaimMismatch>,
    /// The `registry trust add` line that would accept `sent`.
    trust_add: Option<Untrusted>,
}

impl Refusal {
    /// Reads the refusal's `claims` and `mismatch` fields; `id_token` (sent, read without
    /// verifying) fills in the claims the registry did not report.
    pub fn new(detail: &ErrorDetail, id_token: &str, package: &str) -> Refusal {
        let mut sent = claims::decode(id_token).unwrap_or_default();
        if let Some(reported) = detail
            .extra
            .get("claims")
            .and_then(|value| serde_json::from_value::<PublisherClaims>(value.clone()).ok())
        {
            sent.publisher = reported;
        }
        let mismatch = detail
            .extra
            .get("mismatch")
            .and_then(|mismatch| serde_json::from_value(mismatch.clone()).ok());
        Refusal {
            message: detail.message.clone(),
            trust_add: sent.trust_add_line(package, "<PUBLISHER>"),
            sent,
            mismatch,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the registry trusts no publisher for this job's identity: {} (`no_trusted_publisher`)",
            self.message
        )?;
        write!(f, "\nthis job's ID token says:")?;
        for (name, value) in self.sent.shown() {
            write!(f, "\n    {name}: {value}")?;
        }
        if let Some(mismatch) = &self.mismatch {
            let found = untrusted::or(mismatch.found.as_ref(), "nothing");
            match &mismatch.expected {
                Some(expected) => write!(
                    f,
                    "\ndiffering claim `{}`: the closest trusted publisher expects `{expected}`, the ID token says `{found}`",
                    mismatch.claim
                )?,
                None => write!(
                    f,
                    "\ndiffering claim `{}`: no trusted publisher names `{found}`",
                    mismatch.claim
                )?,
            }
        }
        match &self.trust_add {
            Some(line) => write!(
                f,
                "\nhint: if this workflow should publish, the registry's operator can trust it with `{line}`; `chuks-ci trust explain` in this job shows every claim"
            ),
            None => write!(
                f,
                "\nhint: run `chuks-ci trust explain` in this job to see the claims a trusted publisher must match"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    #[test]
    fn a_refusal_names_the_claim_that_differed_and_how_to_trust_this_workflow() {
        let id_token = claims::tests::jwt(&serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com",
            "repository": "chuks/numpy",
            "workflow_ref": "chuks/numpy/.github/workflows/nightly.yml@refs/tags/v1.0.0",
        }));
        let body = serde_json::json!({
            "claims": {"repository": "chuks/numpy", "workflow_ref": "chuks/numpy/.github/workflows/nightly.yml@refs/tags/v1.0.0"},
            "mismatch": {"claim": "workflow", "expected": "release.yml", "found": "nightly.yml"},
        });
        let detail = ErrorDetail {
            code: ErrorCode::NoTrustedPublisher,
            message: "no trusted publisher matches".into(),
            extra: body.as_object().unwrap().clone(),
        };
        let refusal = Refusal::new(&detail, &id_token, "numpy");
        let shown = refusal.to_string();
        assert!(
            shown.contains("differing claim `workflow`: the closest trusted publisher expects `release.yml`, the ID token says `nightly.yml`"),
            "{shown}"
        );
        assert!(shown.contains("--workflow nightly.yml"), "{shown}");
    }
}
