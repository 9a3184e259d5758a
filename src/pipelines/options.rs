//! The publish options and outputs, described once in `options.toml`, as the templates see them:
//! each integration's inputs, variables and shell defaults are loops over them.

use serde::{Deserialize, Serialize};

use super::CHUKS_CI_VERSION;
use super::engine::Engine;

/// Where an option exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    /// The GitHub action (and the reusable workflow).
    Github,
    /// The GitLab component and the classic template.
    Gitlab,
    /// The Bitbucket step (shared pipelines and examples).
    Bitbucket,
    /// The Bitbucket pipe.
    Pipe,
}

const EVERYWHERE: [Surface; 4] = [
    Surface::Github,
    Surface::Gitlab,
    Surface::Bitbucket,
    Surface::Pipe,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    String,
    Boolean,
    Choice,
}

/// One publish option: an input on GitHub and GitLab, a variable everywhere.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all(deserialize = "kebab-case"))]
pub struct PublishOption {
    pub name: String,
    pub variable: String,
    pub default: String,
    pub description: String,
    #[serde(default)]
    pub kind: Kind,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default = "everywhere")]
    pub on: Vec<Surface>,
    #[serde(default)]
    pub keep_environment: bool,
}

fn everywhere() -> Vec<Surface> {
    EVERYWHERE.to_vec()
}

/// One output chuks-ci writes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub name: String,
    pub description: String,
}

impl Output {
    /// The key in the dotenv file chuks-ci writes for GitLab and Bitbucket.
    pub fn dotenv_key(&self) -> String {
        format!("CHUKS_{}", self.name.to_uppercase().replace('-', "_"))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(rename = "option")]
    pub options: Vec<PublishOption>,
    #[serde(rename = "output")]
    pub outputs: Vec<Output>,
}

impl Options {
    /// The embedded `options.toml`, rendered first: defaults may name this chuks-ci's version.
    pub fn load() -> Options {
        let context = minijinja::context! { chuks_ci_version => CHUKS_CI_VERSION };
        let text = Engine::new()
            .render_source("options.toml", include_str!("options.toml"), &context)
            .expect("options.toml is checked by tests");
        toml::from_str(&text).expect("options.toml is checked by tests")
    }

    pub fn on(&self, surface: Surface) -> impl Iterator<Item = &PublishOption> {
        self.options.iter().filter(move |o| o.on.contains(&surface))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_input_variable_is_overwritten_by_a_dotenv_output() {
        let options = Options::load();
        for output in &options.outputs {
            let key = output.dotenv_key();
            for option in &options.options {
                assert_ne!(option.variable, key, "`{}` collides", option.name);
            }
        }
    }

    #[test]
    fn names_and_variables_are_unique_and_choices_list_their_default() {
        let options = Options::load();
        let mut names: Vec<_> = options.options.iter().map(|o| &o.name).collect();
        let mut variables: Vec<_> = options.options.iter().map(|o| &o.variable).collect();
        names.sort();
        names.dedup();
        variables.sort();
        variables.dedup();
        assert_eq!(names.len(), options.options.len());
        assert_eq!(variables.len(), options.options.len());
        for option in &options.options {
            assert!(option.variable.starts_with("CHUKS_"), "{}", option.name);
            if option.kind == Kind::Choice {
                assert!(option.values.contains(&option.default), "{}", option.name);
            }
        }
    }

    #[test]
    fn every_option_is_read_by_the_scripts() {
        let scripts = [
            include_str!("publish.sh"),
            include_str!("install-chuks.sh"),
            include_str!("install-chuks-ci.sh"),
            include_str!("../../action/install.sh"),
        ]
        .concat();
        for option in &Options::load().options {
            let read = format!("${}", option.variable);
            let read_braced = format!("${{{}", option.variable);
            assert!(
                scripts.contains(&read) || scripts.contains(&read_braced),
                "no script reads `{}` (option `{}`)",
                option.variable,
                option.name
            );
        }
    }
}
