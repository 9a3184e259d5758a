//! User-facing diagnostics: `error:`/`warning:`/`hint:` lines, colour, GitHub annotations, JSON problems.
//!
//! Diagnostics go to stderr. Results and GitHub workflow commands (`::error`, `::add-mask::`) go
//! to stdout, because the Actions runner reads workflow commands from stdout.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use serde::Serialize;

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
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
        if let Some(location) = err.chain().find_map(crate::manifest::location_of) {
            problem = problem.at(location.file, Some(location.line), Some(location.column));
        }
        problem
    }
}

/// Prints diagnostics as they happen and remembers them for the JSON result.
#[derive(Debug)]
pub struct Reporter {
    pub format: Format,
    verbosity: u8,
    color: bool,
    github_actions: bool,
    problems: Vec<Problem>,
}

impl Reporter {
    /// Reads `NO_COLOR`, `GITHUB_ACTIONS` and whether stderr is a terminal.
    pub fn from_env(format: Format, verbosity: u8) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Reporter {
            format,
            verbosity,
            color: !no_color && std::io::stderr().is_terminal(),
            github_actions: crate::ci::is_github_actions(),
            problems: Vec::new(),
        }
    }

    pub fn verbosity(&self) -> u8 {
        self.verbosity
    }

    pub fn github_actions(&self) -> bool {
        self.github_actions
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Prints a problem, annotates it for GitHub Actions, and keeps it for the JSON result.
    pub fn report(&mut self, problem: Problem) {
        let (label, colour) = match problem.severity {
            Severity::Error => ("error", "\x1b[1;31m"),
            Severity::Warning => ("warning", "\x1b[1;33m"),
        };
        let mut text = format!("{}: {}\n", self.paint(label, colour), problem.message);
        if let Some(file) = &problem.file {
            let position = match (problem.line, problem.column) {
                (Some(line), Some(column)) => format!(":{line}:{column}"),
                (Some(line), None) => format!(":{line}"),
                _ => String::new(),
            };
            text.push_str(&format!("  --> {}{position}\n", file.display()));
        }
        if let Some(hint) = &problem.hint {
            text.push_str(&format!("{}: {hint}\n", self.paint("hint", "\x1b[1;36m")));
        }
        eprint!("{text}");
        if self.github_actions {
            println!("{}", annotation(&problem));
        }
        self.problems.push(problem);
    }

    /// A neutral progress or status line on stderr.
    pub fn note(&self, message: impl AsRef<str>) {
        if self.format == Format::Human {
            eprintln!("{}", message.as_ref());
        }
    }

    /// Detail shown only with `-v` (level 1) or `-vv` (level 2). Never pass secrets here.
    pub fn debug(&self, level: u8, message: impl AsRef<str>) {
        if self.verbosity >= level {
            eprintln!("debug: {}", message.as_ref());
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

/// Renders a GitHub Actions workflow command for a problem, escaped as the runner expects.
pub fn annotation(problem: &Problem) -> String {
    let command = match problem.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut properties = Vec::new();
    if let Some(file) = &problem.file {
        properties.push(format!(
            "file={}",
            escape_property(&file.display().to_string())
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

/// Text from outside (git's stderr, file names) made safe to print: control characters other
/// than newlines and tabs are shown escaped, so they cannot move the cursor or recolour.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Writes a JSON value as one line on stdout.
pub fn print_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) is not worth a panic.
    let _ = writeln!(out, "{value}");
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
    fn printable_escapes_control_characters() {
        assert_eq!(printable("a\x1b[31mb\r\nc\td"), "a\\u{1b}[31mb\\r\nc\td");
    }

    #[test]
    fn split_hint_takes_the_last_hint_line() {
        assert_eq!(split_hint("bad\nhint: fix it"), ("bad", Some("fix it")));
        assert_eq!(split_hint("just bad"), ("just bad", None));
    }
}
