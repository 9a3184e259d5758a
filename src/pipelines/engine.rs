//! The template engine the pipeline files render through: minijinja over the sources embedded
//! from `src/pipelines/`, strict about undefined names, with no HTML escaping and one filter per
//! kind of place a value lands (a YAML scalar, shell double quotes, a comment line).
//!
//! Syntax: `<{ value }>`, `<% statement %>`, `<# comment #>`; Jinja's own `{{ }}` and `{# #}`
//! would collide with GitHub's `${{ }}` and shell's `${#array[@]}`. A statement alone on its
//! line leaves no trace of that line.
//!
//! Every value a template prints is either a plain word (see [`is_plain_word`]), which reads the
//! same in YAML and in shell, or the output of a filter or a [`Reference`], which are marked safe.
//! Anything else fails the rendering, so a value that lacks its filter fails a test.

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value};
use minijinja::{Environment, Error, ErrorKind, Output, State, UndefinedBehavior};
use serde::{Serialize, Serializer};

/// The templates, each under its file name in `src/pipelines/`, which `<% include %>` uses too.
macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!($name))),*]
    };
}

const SOURCES: &[(&str, &str)] = &embedded![
    // The integrations.
    "action.yml",
    "action-publish.sh",
    "gitlab-component.yml",
    "gitlab-classic.yml",
    "bitbucket-shared-pipelines.yml",
    "bitbucket-pipe.yml",
    "bitbucket-pipe.sh",
    "bitbucket-pipe.Dockerfile",
    "github-reusable.yml",
    // The examples.
    "github-single-package.yml",
    "github-prebuilt-binaries.yml",
    "github-monorepo.yml",
    "gitlab-single-package.yml",
    "gitlab-prebuilt-binaries.yml",
    "gitlab-monorepo.yml",
    "bitbucket-single-package.yml",
    "bitbucket-prebuilt-binaries.yml",
    "bitbucket-monorepo.yml",
    // The parts they include.
    "gitlab-script.yml",
    "bitbucket-step.yml",
    "prelude.sh",
    "install-chuks-ci.sh",
    "install-chuks.sh",
    "publish.sh",
];

/// A file that did not render: a defect of the embedded sources or pins, never of the input.
#[derive(Debug, thiserror::Error)]
#[error(
    "could not render {what}: {detail}\nhint: this is a defect of chuks-ci itself; please report it with this message"
)]
pub struct RenderError {
    what: String,
    detail: String,
}

/// The environment holding every template.
pub struct Engine {
    env: Environment<'static>,
}

impl Engine {
    pub fn new() -> Engine {
        let mut env = Environment::empty();
        env.set_syntax(syntax());
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(print);
        env.add_filter("yaml", yaml);
        env.add_filter("sh_quoted", sh_quoted);
        env.add_filter("comment", comment);
        env.add_filter("indent_lines", indent_lines);
        for &(name, source) in SOURCES {
            env.add_template(name, source)
                .expect("the embedded templates parse; tests render every one");
        }
        Engine { env }
    }

    /// Renders the template `name` with `context`.
    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String, RenderError> {
        self.env
            .get_template(name)
            .and_then(|template| template.render(Value::from(Serde(context))))
            .map_err(|err| RenderError::template(name, &err))
    }

    /// Renders `source`, a template that is not a file of its own, with `context`.
    pub fn render_source(
        &self,
        name: &str,
        source: &str,
        context: &impl Serialize,
    ) -> Result<String, RenderError> {
        self.env
            .render_named_str(name, source, Value::from(Serde(context)))
            .map_err(|err| RenderError::template(name, &err))
    }
}

fn syntax() -> SyntaxConfig {
    SyntaxConfig::builder()
        .block_delimiters("<%", "%>")
        .variable_delimiters("<{", "}>")
        .comment_delimiters("<#", "#>")
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("the delimiters are distinct")
}

impl RenderError {
    pub(super) fn new(what: String, detail: String) -> RenderError {
        RenderError { what, detail }
    }

    /// The template's error and what caused it (naming the included template and line).
    fn template(name: &str, err: &Error) -> RenderError {
        let mut detail = err.to_string();
        let mut cause = std::error::Error::source(err);
        while let Some(inner) = cause {
            detail.push_str(": ");
            detail.push_str(&inner.to_string());
            cause = inner.source();
        }
        RenderError::new(format!("the pipeline template `{name}`"), detail)
    }
}

/// Prints one `<{ value }>` (the engine refuses an undefined one first): safe text and plain
/// words as they are, anything else refused.
fn print(out: &mut Output, _: &mut State, value: &Value) -> Result<(), Error> {
    let refusal = match value.as_str() {
        Some(text) if value.is_safe() || is_plain_word(text) => {
            return out
                .write_str(text)
                .map_err(|_| Error::from(ErrorKind::WriteFailure));
        }
        Some(text) => format!("{text:?} needs a filter: `yaml`, `sh_quoted` or `comment`"),
        None => format!("only text is printed, not `{value}`"),
    };
    Err(Error::new(ErrorKind::InvalidOperation, refusal))
}

/// A word that needs no quoting in a YAML value nor in shell, bare or in double quotes: letters,
/// digits and `._/@:+=-`, starting with a letter or digit and not ending in `:`.
fn is_plain_word(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !text.ends_with(':')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/@:+=-".contains(c))
}

/// A reference to something pinned, `<what>@<ref>` with an optional `# <version>` comment, as
/// `uses:` lines write it. Built only from plain words, it is printed as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);

impl Reference {
    /// `target`, followed by ` # <comment>` when there is one; `None` unless both are plain words.
    pub fn new(target: &str, comment: Option<&str>) -> Option<Reference> {
        let words = std::iter::once(target).chain(comment);
        if !words.clone().all(is_plain_word) {
            return None;
        }
        Some(Reference(words.collect::<Vec<_>>().join(" # ")))
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Value::from_safe_string(self.0.clone()).serialize(serializer)
    }
}

/// Text on one line: no line break or other control character that would end the place it is
/// printed in (a YAML scalar, a comment, a quoted shell word) early.
fn one_line(text: &str) -> Result<&str, Error> {
    match text.chars().find(|c| c.is_control()) {
        None => Ok(text),
        Some(c) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "`{}` holds the control character {c:?}",
                text.escape_debug()
            ),
        )),
    }
}

/// A YAML scalar: plain when that is unambiguous, else double-quoted. A plain scalar starts with
/// a letter or a dot (a path such as `.`), so YAML reads no number, version-like or not, and it
/// is none of the words YAML 1.1 or 1.2 read as a boolean, null, infinity or not-a-number.
fn yaml(text: &str) -> Result<Value, Error> {
    let text = one_line(text)?;
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '.')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | ".inf" | ".nan"
        )
        && text.parse::<f64>().is_err();
    Ok(Value::from_safe_string(if plain {
        text.to_string()
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }))
}

/// Text inside shell double quotes: `\`, `"`, `$` and `` ` `` escaped.
fn sh_quoted(text: &str) -> Result<Value, Error> {
    let mut quoted = String::with_capacity(text.len());
    for c in one_line(text)?.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    Ok(Value::from_safe_string(quoted))
}

/// Text on a comment line, which it must not leave.
fn comment(text: &str) -> Result<Value, Error> {
    Ok(Value::from_safe_string(one_line(text)?.to_string()))
}

/// Every line that holds text, the first too, indented by `width` spaces; blank lines stay
/// empty. For an `<% include %>` at an indentation: `<% filter indent_lines(4) %>`.
fn indent_lines(text: &str, width: usize) -> Value {
    let indent = " ".repeat(width);
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            out.push_str(line.trim_start_matches([' ', '\t']));
        } else {
            out.push_str(&indent);
            out.push_str(line);
        }
    }
    // The text was printed through `print` already.
    Value::from_safe_string(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, context: Value) -> Result<String, String> {
        let mut engine = Engine::new();
        engine
            .env
            .add_template_owned("test", source.to_string())
            .unwrap();
        engine
            .render("test", &context)
            .map_err(|err| err.to_string())
    }

    #[test]
    fn an_undefined_name_fails_the_rendering() {
        let err = render("a: <{ missing }>\n", minijinja::context! {}).unwrap_err();
        assert!(err.contains("undefined"), "{err}");
        let err = render("<% if missing %>x<% endif %>\n", minijinja::context! {}).unwrap_err();
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn only_plain_words_print_without_a_filter() {
        let context = minijinja::context! { word => "v1.2.3", text => "a: b", empty => "" };
        assert_eq!(render("<{ word }>\n", context.clone()).unwrap(), "v1.2.3\n");
        for source in ["<{ text }>", "<{ empty }>", "<{ none }>", "<{ 1 }>"] {
            let err = render(source, context.clone()).unwrap_err();
            assert!(
                err.contains("needs a filter") || err.contains("only text"),
                "{err}"
            );
        }
        assert_eq!(
            render("<{ text | yaml }> \"<{ text | sh_quoted }>\"", context).unwrap(),
            "\"a: b\" \"a: b\""
        );
    }

    #[test]
    fn yaml_strings_quote_what_yaml_would_read_otherwise() {
        let yaml = |text| yaml(text).unwrap().to_string();
        assert_eq!(yaml("chuks.json"), "chuks.json");
        assert_eq!(yaml("."), ".");
        assert_eq!(yaml(""), "\"\"");
        assert_eq!(yaml("false"), "\"false\"");
        assert_eq!(yaml("No"), "\"No\"");
        assert_eq!(yaml(".inf"), "\".inf\"");
        assert_eq!(yaml("0"), "\"0\"");
        assert_eq!(yaml("0.1.0"), "\"0.1.0\"");
        assert_eq!(yaml("-v"), "\"-v\"");
        assert_eq!(yaml("a: b"), "\"a: b\"");
        assert_eq!(yaml("say \"hi\" \\"), "\"say \\\"hi\\\" \\\\\"");
    }

    #[test]
    fn shell_quoting_escapes_what_double_quotes_expand() {
        assert_eq!(
            sh_quoted("$HOME `id` \"x\" \\").unwrap().to_string(),
            "\\$HOME \\`id\\` \\\"x\\\" \\\\"
        );
    }

    #[test]
    fn no_filter_lets_a_line_break_out() {
        for filter in [yaml, sh_quoted, comment] {
            assert!(filter("one\ntwo").is_err());
            assert!(filter("one\rtwo").is_err());
        }
    }

    #[test]
    fn references_are_built_from_plain_words_only() {
        let pinned = Reference::new("actions/checkout@abc", Some("v4.2.2")).unwrap();
        assert_eq!(pinned.0, "actions/checkout@abc # v4.2.2");
        assert_eq!(
            Reference::new("chuks/publish-action@v1", None).unwrap().0,
            "chuks/publish-action@v1"
        );
        assert!(Reference::new("x@y; rm -rf /", None).is_none());
        assert!(Reference::new("x@y", Some("v1\nrun: evil")).is_none());
    }

    #[test]
    fn an_include_is_indented_line_by_line() {
        let mut engine = Engine::new();
        engine
            .env
            .add_template_owned("part", "one\n\n  two\n".to_string())
            .unwrap();
        engine
            .env
            .add_template_owned(
                "whole",
                "a:\n  <% filter indent_lines(4) %><% include \"part\" %><% endfilter %>\nb\n"
                    .to_string(),
            )
            .unwrap();
        assert_eq!(
            engine.render("whole", &()).unwrap(),
            "a:\n    one\n\n      two\nb\n"
        );
    }
}
