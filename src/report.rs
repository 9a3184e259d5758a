//! User-facing diagnostics: `error:`/`warning:`/`hint:` lines, colour, the CI's annotations and
//! masking ([`CiLog`]), JSON problems.
//!
//! Diagnostics go to stderr. Results and CI log commands (GitHub's `::error`, `::add-mask::`) go
//! to stdout, because a CI runner reads its commands from stdout.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::redact::redact;
use crate::untrusted::{self, Untrusted};

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, printed for humans and kept for `--format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// Errors carry their advice as a last line `hint: …`; this splits it off.
pub fn split_hint(text: &str) -> (&str, Option<&str>) {
    match text.rsplit_once("\nhint: ") {
        Some((message, hint)) => (message, Some(hint)),
        None => (text, None),
    }
}

impl Problem {
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Severity::Error, message.into())
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, message.into())
    }

    fn new(severity: Severity, text: String) -> Self {
        let (message, hint) = split_hint(&text);
        Problem {
            severity,
            message: message.to_string(),
            hint: hint.map(str::to_string),
            file: None,
            line: None,
            column: None,
        }
    }

    /// The problem with every token in its text masked.
    fn redacted(self) -> Self {
        Problem {
            message: redact(&self.message).into_owned(),
            hint: self.hint.map(|hint| redact(&hint).into_owned()),
            file: self.file.map(|file| match redact(&file.to_string_lossy()) {
                // Untouched paths are kept as they are, even when they are not UTF-8.
                Cow::Borrowed(_) => file,
                Cow::Owned(masked) => PathBuf::from(masked),
            }),
            ..self
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn at(
        mut self,
        file: impl Into<PathBuf>,
        line: Option<usize>,
        column: Option<usize>,
    ) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self.column = column;
        self
    }

    /// Builds an error problem from an error chain: messages joined with `: `, the last hint kept.
    pub fn from_error(err: &anyhow::Error) -> Self {
        let mut messages = Vec::new();
        let mut hint = None;
        for cause in err.chain() {
            let text = cause.to_string();
            let (message, cause_hint) = split_hint(&text);
            if !messages.iter().any(|m: &String| m.ends_with(message)) {
                messages.push(message.to_string());
            }
            if let Some(h) = cause_hint {
                hint = Some(h.to_string());
            }
        }
        let mut problem = Problem::error(messages.join(": "));
        problem.hint = hint;
        problem
    }
}

/// What the CI running the job reads in its log, as its provider (`crate::ci`) says: the lines
/// that mask a secret or annotate a problem. The defaults are for a CI that reads none.
pub trait CiLog: std::fmt::Debug + Sync {
    /// The lines that make the CI hide `secret` in its log; none where the CI masks secrets
    /// through its own settings.
    fn mask(&self, _secret: &str) -> Vec<String> {
        Vec::new()
    }

    /// The line that shows `problem` as an annotation on the run; `None` where the CI has none.
    fn annotation(&self, _problem: &Problem) -> Option<String> {
        None
    }

    /// Whether the CI reads GitHub workflow commands (`::name::`) on stdout, which the official
    /// CLI's output must then be kept from issuing.
    fn reads_workflow_commands(&self) -> bool {
        false
    }
}

/// Prints diagnostics as they happen and remembers them for the JSON result.
#[derive(Debug)]
pub struct Reporter {
    pub format: Format,
    verbosity: u8,
    color: bool,
    /// The log of the CI running the job; `None` off CI.
    ci: Option<&'static dyn CiLog>,
    problems: Vec<Problem>,
}

impl Reporter {
    /// Colours only a terminal, and never when `NO_COLOR` is set; on a CI (`ci`), every problem
    /// is also annotated as the CI shows annotations.
    pub fn new(format: Format, verbosity: u8, ci: Option<&'static dyn CiLog>) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Reporter {
            format,
            verbosity,
            color: !no_color && std::io::stderr().is_terminal(),
            ci,
            problems: Vec::new(),
        }
    }

    /// A reporter with the same settings and no problems yet, for work running beside this
    /// one; [`Reporter::absorb`] takes its problems back.
    pub fn fork(&self) -> Reporter {
        Reporter {
            format: self.format,
            verbosity: self.verbosity,
            color: self.color,
            ci: self.ci,
            problems: Vec::new(),
        }
    }

    /// Takes over the problems a [`Reporter::fork`] reported.
    pub fn absorb(&mut self, fork: Reporter) {
        self.problems.extend(fork.problems);
    }

    pub fn verbosity(&self) -> u8 {
        self.verbosity
    }

    /// Whether stdout is read as GitHub workflow commands (GitHub Actions), so the official CLI
    /// runs with them stopped.
    pub fn github_actions(&self) -> bool {
        self.ci.is_some_and(|ci| ci.reads_workflow_commands())
    }

    /// Asks the CI to hide `secret` in its log, before anything else is printed.
    pub fn mask(&self, secret: &str) {
        for line in self.ci.map(|ci| ci.mask(secret)).unwrap_or_default() {
            stdout_line(&line);
        }
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Prints a problem, annotates it for GitHub Actions, and keeps it for the JSON result.
    /// Tokens in it are masked first: messages can echo what was given on the command line.
    pub fn report(&mut self, problem: Problem) {
        let problem = problem.redacted();
        let (label, colour) = match problem.severity {
            Severity::Error => ("error", "\x1b[1;31m"),
            Severity::Warning => ("warning", "\x1b[1;33m"),
        };
        let message = contained(&problem.message);
        let mut text = format!("{}: {message}\n", self.paint(label, colour));
        if let Some(file) = &problem.file {
            let position = match (problem.line, problem.column) {
                (Some(line), Some(column)) => format!(":{line}:{column}"),
                (Some(line), None) => format!(":{line}"),
                _ => String::new(),
            };
            let file = Untrusted::path(file);
            text.push_str(&format!("  --> {file}{position}\n"));
        }
        if let Some(hint) = &problem.hint {
            let hint = contained(hint);
            text.push_str(&format!("{}: {hint}\n", self.paint("hint", "\x1b[1;36m")));
        }
        write_stderr(&text);
        if let Some(annotation) = self.ci.and_then(|ci| ci.annotation(&problem)) {
            stdout_line(&annotation);
        }
        self.problems.push(problem);
    }

    /// A neutral progress or status line on stderr.
    pub fn note(&self, message: impl AsRef<str>) {
        if self.format == Format::Human {
            write_stderr(&format!("{}\n", contained(&redact(message.as_ref()))));
        }
    }

    /// Detail shown only with `-v` (level 1) or `-vv` (level 2). Never pass secrets here.
    pub fn debug(&self, level: u8, message: impl AsRef<str>) {
        if self.verbosity >= level {
            write_stderr(&format!(
                "debug: {}\n",
                contained(&redact(message.as_ref()))
            ));
        }
    }

    fn paint(&self, text: &str, colour: &str) -> String {
        if self.color {
            format!("{colour}{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Writes a JSON value as one line on stdout, tokens masked: results echo arguments (the tag).
pub fn print_json(value: &serde_json::Value) {
    write_json_line(&redact(&value.to_string()));
}

/// Writes a JSON value unmasked: only for `registry token create`, whose purpose is to print
/// a new token once.
pub fn print_json_revealing_token(value: &serde_json::Value) {
    write_json_line(&value.to_string());
}

/// JSON holds registry answers and file names: it is defused for the CI log without changing
/// what it decodes to.
fn write_json_line(text: &str) {
    stdout_line(&untrusted::defuse_json(text));
}

/// Our own multi-line messages with every line after the first that does not start indented
/// pushed in two spaces, so the reader sees where one diagnostic ends. (Text from outside cannot
/// hold a newline here: [`crate::untrusted::Untrusted`] prints it as `\n`.)
fn contained(text: &str) -> String {
    let mut lines = text.split('\n');
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push('\n');
        if !line.starts_with([' ', '\t']) && !line.is_empty() {
            out.push_str("  ");
        }
        out.push_str(line);
    }
    out
}

/// The first failure to write to stdout other than a closed pipe, for the end of the run.
static STDOUT_FAILURE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Writes one line of results or workflow commands to stdout. A closed stdout (`| head -1`)
/// ends output quietly, as Unix tools do; any other failure (`> /dev/full`) is remembered for
/// [`stdout_failure`], never a panic.
pub fn stdout_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{text}").and_then(|()| out.flush());
    if let Err(err) = written {
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            let mut failure = STDOUT_FAILURE.lock().unwrap_or_else(|p| p.into_inner());
            failure.get_or_insert_with(|| err.to_string());
        }
    }
}

/// Why writing to stdout failed, if it did (a closed pipe does not count).
pub fn stdout_failure() -> Option<String> {
    STDOUT_FAILURE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// `println!` for results and workflow commands: through [`stdout_line`], never a panic.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::report::stdout_line(&format!($($arg)*))
    };
}

/// Diagnostics on stderr; a stderr that cannot be written is nothing to panic about.
pub fn write_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_are_indented() {
        assert_eq!(
            contained("`x\nerror: fake` is odd\n  - kept"),
            "`x\n  error: fake` is odd\n  - kept"
        );
    }

    #[test]
    fn split_hint_takes_the_last_hint_line() {
        assert_eq!(split_hint("bad\nhint: fix it"), ("bad", Some("fix it")));
        assert_eq!(split_hint("just bad"), ("just bad", None));
    }
}
