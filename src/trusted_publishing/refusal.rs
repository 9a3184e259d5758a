//! A `no_trusted_publisher` refusal, told so that it can be fixed: the claims this job sent, what
//! the registry's nearest trusted publisher expected and which claim differed, and the
//! `registry trust add` line that would accept this workflow.

use std::fmt;

use serde_json::Value;

use super::claims::{self, IdTokenClaims};
use crate::protocol::{ErrorDetail, PublisherClaims};
use crate::untrusted::Untrusted;

/// What the registry said, and what this job sent.
#[derive(Debug)]
pub struct Refusal {
    message: Untrusted,
    /// The matching claims as the registry read them, else as this job's ID token says.
    sent: IdTokenClaims,
    /// The nearest trusted publisher's settings, `(setting, value)`.
    expected: Vec<(Untrusted, Untrusted)>,
    /// The claims the registry names as differing.
    differing: Vec<Untrusted>,
    /// The `registry trust add` line that would accept `sent`.
    trust_add: Option<Untrusted>,
}

impl Refusal {
    /// Reads the refusal's `claims`, `expected` and `differing` fields; `id_token` (sent, read
    /// without verifying) fills in claims the registry did not report.
    pub fn new(detail: &ErrorDetail, id_token: &str, package: &str) -> Refusal {
        let mut sent = claims::decode(id_token).unwrap_or_default();
        if let Some(reported) = detail
            .extra
            .get("claims")
            .and_then(|value| serde_json::from_value::<PublisherClaims>(value.clone()).ok())
        {
            sent.publisher = reported;
        }
        let expected = match detail.extra.get("expected") {
            Some(Value::Object(settings)) => settings
                .iter()
                .map(|(name, value)| (Untrusted::from(name.as_str()), text(value)))
                .collect(),
            _ => Vec::new(),
        };
        let differing = match detail.extra.get("differing") {
            Some(Value::Array(names)) => names.iter().map(text).collect(),
            Some(name @ Value::String(_)) => vec![text(name)],
            _ => Vec::new(),
        };
        Refusal {
            message: detail.message.clone(),
            trust_add: sent.trust_add_line(package, "<PUBLISHER>"),
            sent,
            expected,
            differing,
        }
    }

    /// The claims the registry names as differing.
    pub fn differing(&self) -> &[Untrusted] {
        &self.differing
    }
}

fn text(value: &Value) -> Untrusted {
    match value {
        Value::String(text) => Untrusted::from(text.as_str()),
        other => Untrusted::from(other.to_string()),
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the registry trusts no publisher for this job's identity: {} (`no_trusted_publisher`)",
            self.message
        )?;
        if !self.differing.is_empty() {
            let names: Vec<String> = self.differing.iter().map(|n| format!("`{n}`")).collect();
            write!(f, "\ndiffering: {}", names.join(", "))?;
        }
        write!(f, "\nthis job sent:")?;
        for (name, value) in self.sent.shown() {
            write!(f, "\n    {name}: {value}")?;
        }
        if !self.expected.is_empty() {
            write!(f, "\nthe nearest trusted publisher expects:")?;
            for (name, value) in &self.expected {
                let differs = self.differing.iter().any(|differing| differing == name);
                let mark = if differs { "  (differs)" } else { "" };
                write!(f, "\n    {name}: {value}{mark}")?;
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
            "expected": {"repository": "chuks/numpy", "workflow": "release.yml"},
            "differing": "workflow",
        });
        let detail = ErrorDetail {
            code: ErrorCode::NoTrustedPublisher,
            message: "no trusted publisher matches".into(),
            extra: body.as_object().unwrap().clone(),
        };
        let refusal = Refusal::new(&detail, &id_token, "numpy");
        assert_eq!(refusal.differing(), &[Untrusted::from("workflow")]);
        let shown = refusal.to_string();
        assert!(shown.contains("workflow: release.yml  (differs)"), "{shown}");
        assert!(shown.contains("--workflow nightly.yml"), "{shown}");
    }
}
