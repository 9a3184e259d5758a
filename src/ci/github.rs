//! GitHub Actions: what its environment says (tag, commit, repository, API address, token), its
//! workflow commands (masking, annotations), its output files (`GITHUB_OUTPUT`, the step
//! summary), and its ID-token service.

use secrecy::{ExposeSecret, SecretString};

use super::id_token::{IdTokenError, IdTokenOffer};
use super::outputs::{self, OutputFile, Results, Write};
use super::{CiProvider, Var};
use crate::forge::github::{
    self, API_URL_VARIABLE, DEFAULT_API_URL, GithubRepository, GithubToken,
};
use crate::forge::{Forge, ForgeDetection};
use crate::report::{CiLog, Problem, Severity};
use crate::untrusted::Untrusted;

/// GitHub Actions.
#[derive(Debug)]
pub struct GithubActions;

const NAME: &str = "GitHub Actions";

impl CiProvider for GithubActions {
    fn id(&self) -> &'static str {
        "github"
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn runs_here(&self, var: Var) -> bool {
        var("GITHUB_ACTIONS").as_deref() == Some("true")
    }

    /// From `GITHUB_REF_TYPE`/`GITHUB_REF_NAME`, else `GITHUB_REF`.
    fn tag(&self, var: Var) -> Option<String> {
        if var("GITHUB_REF_TYPE").as_deref() == Some("tag") {
            if let Some(name) = var("GITHUB_REF_NAME") {
                return Some(name);
            }
        }
        var("GITHUB_REF").and_then(|r| r.strip_prefix("refs/tags/").map(str::to_string))
    }

    fn tag_source(&self) -> &'static str {
        NAME
    }

    fn commit(&self, var: Var) -> Option<String> {
        var("GITHUB_SHA")
    }

    fn repository_url(&self, var: Var) -> Option<String> {
        let server = var("GITHUB_SERVER_URL")?;
        let repository = var("GITHUB_REPOSITORY")?;
        Some(format!("{}/{repository}", server.trim_end_matches('/')))
    }

    /// In Actions, or wherever `GITHUB_REPOSITORY` is set: `GITHUB_REPOSITORY`, `GITHUB_SHA`,
    /// the API address (`GITHUB_API_URL`, Enterprise `https://HOST/api/v3`) and a token
    /// (`--github-token`, then `GITHUB_TOKEN`).
    fn forge(&self, var: Var, token_flag: Option<&SecretString>) -> Option<ForgeDetection> {
        if !self.runs_here(var) && var("GITHUB_REPOSITORY").is_none() {
            return None;
        }
        Some(forge(var, token_flag))
    }

    fn output_files(&self, var: Var) -> Vec<OutputFile> {
        let file = |variable: &str, render| {
            var(variable).map(|path| OutputFile {
                name: format!("`{variable}`"),
                path: path.into(),
                render,
                write: Write::Append,
            })
        };
        [
            file("GITHUB_OUTPUT", github_output as outputs::Render),
            file("GITHUB_STEP_SUMMARY", step_summary),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Actions hands out ID tokens on request to jobs with `permissions: id-token: write`.
    fn id_token(&self, var: Var) -> Result<IdTokenOffer, IdTokenError> {
        let missing = |variable: &str| IdTokenError::NotOffered {
            ci: NAME,
            missing: format!("`{variable}` is not set"),
            how_to_enable: "give the job `permissions: id-token: write`".to_string(),
        };
        let url = var("ACTIONS_ID_TOKEN_REQUEST_URL")
            .ok_or_else(|| missing("ACTIONS_ID_TOKEN_REQUEST_URL"))?;
        let bearer = var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
            .ok_or_else(|| missing("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))?;
        Ok(IdTokenOffer::OnRequest {
            url_variable: "ACTIONS_ID_TOKEN_REQUEST_URL",
            url,
            bearer: SecretString::from(bearer),
        })
    }
}

impl CiLog for GithubActions {
    /// `::add-mask::`. The runner masks one line per command, so a value that spans lines (a
    /// pasted mistake) is masked piece by piece.
    fn mask(&self, secret: &str) -> Vec<String> {
        secret
            .split_whitespace()
            .map(|piece| format!("::add-mask::{piece}"))
            .collect()
    }

    fn annotation(&self, problem: &Problem) -> Option<String> {
        Some(annotation(problem))
    }

    fn reads_workflow_commands(&self) -> bool {
        true
    }
}

/// GitHub's API address: `GITHUB_API_URL` when set (Enterprise, tests), else api.github.com.
pub fn api_url() -> String {
    api_url_in(&super::env_var)
}

fn api_url_in(var: Var) -> String {
    var(API_URL_VARIABLE).unwrap_or_else(|| DEFAULT_API_URL.to_string())
}

fn forge(var: Var, token_flag: Option<&SecretString>) -> ForgeDetection {
    let unset = |variable: &str| {
        ForgeDetection::no_credentials(
            github::NAME,
            format!("`{variable}` is not set"),
            "run the step in GitHub Actions, which sets it",
        )
    };
    let Some(full_name) = var("GITHUB_REPOSITORY") else {
        return unset("GITHUB_REPOSITORY");
    };
    let Some((owner, name)) = super::owner_and_name(&full_name) else {
        return ForgeDetection::no_credentials(
            github::NAME,
            format!("`GITHUB_REPOSITORY` is `{full_name}`, not `owner/name`"),
            "leave `GITHUB_REPOSITORY` as GitHub Actions sets it",
        );
    };
    let Some(commit) = var("GITHUB_SHA") else {
        return unset("GITHUB_SHA");
    };
    let flag = token_flag
        .map(|token| token.expose_secret().to_string())
        .filter(|token| !token.trim().is_empty());
    let sources = [
        ("`--github-token`", flag),
        ("`GITHUB_TOKEN`", var("GITHUB_TOKEN")),
    ];
    let (secret, source) = match super::forge_token(github::NAME, sources) {
        Ok(Some(found)) => found,
        Ok(None) => {
            return ForgeDetection::no_credentials(
                github::NAME,
                "`GITHUB_TOKEN` is not set",
                "add `GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step's `env:` (the job needs `permissions: contents: read`), or pass `--github-token`",
            );
        }
        Err(unusable) => return *unusable,
    };
    let repository = GithubRepository {
        api_url: api_url_in(var),
        owner,
        name,
        token: Some(GithubToken { secret, source }),
    };
    ForgeDetection::Ready(Forge::new(repository, commit))
}

/// `key=value` lines, as `GITHUB_OUTPUT` takes them.
fn github_output(results: &Results, _title: &str) -> String {
    results
        .pairs
        .iter()
        .map(|(key, value)| format!("{key}={}\n", outputs::single_line(value)))
        .collect()
}

/// Markdown tables for `GITHUB_STEP_SUMMARY`: the pairs, then the rows of a run of several
/// packages. Each value is in a `<code>` element, HTML-escaped, so a backtick or a `|` in a tag
/// cannot end the code span or the cell.
fn step_summary(results: &Results, title: &str) -> String {
    let mut text = format!("### {title}\n\n| | |\n| --- | --- |\n");
    for (key, value) in results.pairs {
        text.push_str(&format!("| {key} | {} |\n", code_cell(value)));
    }
    if let Some(table) = &results.table {
        text.push_str(&format!(
            "\n| {} |\n|{}\n",
            table.columns.join(" | "),
            " --- |".repeat(table.columns.len())
        ));
        for row in table.rows {
            let cells: Vec<String> = row.iter().map(|value| code_cell(value)).collect();
            text.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    text.push('\n');
    text
}

/// A value in a table cell: empty when unknown, else escaped inside `<code>`.
fn code_cell(value: &str) -> String {
    match value.is_empty() {
        true => String::new(),
        false => format!("<code>{}</code>", html_escape(&outputs::single_line(value))),
    }
}

/// Text safe inside an HTML element of a markdown table cell.
fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '`' => escaped.push_str("&#96;"),
            '|' => escaped.push_str("&#124;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The workflow command that annotates the run with a problem, escaped as the runner expects.
fn annotation(problem: &Problem) -> String {
    let command = match problem.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut properties = Vec::new();
    if let Some(file) = &problem.file {
        properties.push(format!(
            "file={}",
            escape_property(&Untrusted::path(file).to_string())
        ));
        if let Some(line) = problem.line {
            properties.push(format!("line={line}"));
        }
        if let Some(column) = problem.column {
            properties.push(format!("col={column}"));
        }
    }
    let mut message = problem.message.clone();
    if let Some(hint) = &problem.hint {
        message.push_str(&format!("\nhint: {hint}"));
    }
    let properties = if properties.is_empty() {
        String::new()
    } else {
        format!(" {}", properties.join(","))
    };
    format!("::{command}{properties}::{}", escape_data(&message))
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_escapes_message_and_properties() {
        let problem = Problem::error("version `1.2` is not semver\nsecond line 100%")
            .with_hint("use `1.2.0`")
            .at("pkg,a/chuks.json", Some(3), Some(14));
        assert_eq!(
            annotation(&problem),
            "::error file=pkg%2Ca/chuks.json,line=3,col=14::version `1.2` is not semver%0Asecond line 100%25%0Ahint: use `1.2.0`"
        );
    }

    #[test]
    fn a_secret_over_several_lines_is_masked_line_by_line() {
        assert_eq!(
            GithubActions.mask("abc\ndef "),
            ["::add-mask::abc", "::add-mask::def"]
        );
    }

    #[test]
    fn the_id_token_is_requested_where_the_runner_says() {
        let var = |name: &str| match name {
            "ACTIONS_ID_TOKEN_REQUEST_URL" => Some("https://runner.example/token?x=1".to_string()),
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => Some("bearer-canary".to_string()),
            _ => None,
        };
        let offer = GithubActions.id_token(&var).unwrap();
        assert!(
            matches!(&offer, IdTokenOffer::OnRequest { url, .. } if url == "https://runner.example/token?x=1"),
            "{offer:?}"
        );
        let no_permission = GithubActions.id_token(&|_: &str| None).unwrap_err();
        let shown = no_permission.to_string();
        assert!(shown.contains("permissions: id-token: write"), "{shown}");
    }
}
