//! The publish options and outputs, described once in `options.toml`, and their renderings for
//! each integration: action inputs and step environment, GitLab component inputs and classic
//! job variables, Bitbucket pipe variables, the reusable workflow's inputs, and the shell defaults.

use serde::Deserialize;

/// Where an option exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    String,
    Boolean,
    Choice,
}

/// One publish option: an input on GitHub and GitLab, a variable everywhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
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
#[derive(Debug, Clone, Deserialize)]
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

/// Options that the reusable workflow does not pass through: its shim jobs set them.
const SET_BY_THE_REUSABLE_WORKFLOW: [&str; 2] = ["prebuilt-file", "platform"];

impl Options {
    /// The embedded `options.toml`.
    pub fn load() -> Options {
        toml::from_str(include_str!("options.toml")).expect("options.toml is checked by tests")
    }

    pub fn on(&self, surface: Surface) -> impl Iterator<Item = &PublishOption> {
        self.options.iter().filter(move |o| o.on.contains(&surface))
    }

    /// `inputs:` entries of action.yml.
    pub fn action_inputs(&self) -> String {
        let mut out = String::new();
        for option in self.on(Surface::Github) {
            out.push_str(&format!(
                "{}:\n  description: {}\n  required: false\n  default: {}\n",
                option.name,
                yaml_string(&option.description),
                yaml_string(&option.default)
            ));
        }
        out
    }

    /// `outputs:` entries of action.yml, read from the step `step`.
    pub fn action_outputs(&self, step: &str) -> String {
        self.outputs
            .iter()
            .map(|o| {
                format!(
                    "{}:\n  description: {}\n  value: ${{{{ steps.{step}.outputs.{} }}}}\n",
                    o.name,
                    yaml_string(&o.description),
                    o.name
                )
            })
            .collect()
    }

    /// The publish step's `env:` entries in action.yml: every input under its variable name.
    pub fn action_env(&self) -> String {
        self.on(Surface::Github)
            .map(|o| {
                let fallback = if o.keep_environment {
                    format!(" || env.{}", o.variable)
                } else {
                    String::new()
                };
                format!("{}: ${{{{ inputs.{}{fallback} }}}}\n", o.variable, o.name)
            })
            .collect()
    }

    /// `spec: inputs:` entries of the GitLab component.
    pub fn component_inputs(&self) -> String {
        let mut out = String::new();
        for option in self.on(Surface::Gitlab) {
            out.push_str(&format!(
                "{}:\n  description: {}\n",
                option.name,
                yaml_string(&option.description)
            ));
            match option.kind {
                Kind::Boolean => {
                    out.push_str(&format!("  type: boolean\n  default: {}\n", option.default))
                }
                Kind::Choice => {
                    out.push_str(&format!(
                        "  default: {}\n  options: [{}]\n",
                        yaml_string(&option.default),
                        option
                            .values
                            .iter()
                            .map(|v| yaml_string(v))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                Kind::String => {
                    out.push_str(&format!("  default: {}\n", yaml_string(&option.default)))
                }
            }
        }
        out
    }

    /// The component job's `variables:`: each input under its variable name.
    pub fn component_variables(&self) -> String {
        self.on(Surface::Gitlab)
            .map(|o| format!("{}: \"$[[ inputs.{} ]]\"\n", o.variable, o.name))
            .collect()
    }

    /// The classic template's `variables:`, at their defaults, each with its description.
    pub fn classic_variables(&self) -> String {
        self.on(Surface::Gitlab)
            .map(|o| {
                format!(
                    "# {}: {}\n{}: {}\n",
                    o.name,
                    o.description,
                    o.variable,
                    yaml_string(&o.default)
                )
            })
            .collect()
    }

    /// The `variables:` list of the Bitbucket pipe.yml.
    pub fn pipe_variables(&self) -> String {
        self.on(Surface::Pipe)
            .map(|o| {
                format!(
                    "- name: {}\n  description: {}\n  default: {}\n",
                    o.variable,
                    yaml_string(&format!("{} ({})", o.description, o.name)),
                    yaml_string(&o.default)
                )
            })
            .collect()
    }

    /// Comment lines naming the Bitbucket step's optional repository variables.
    pub fn bitbucket_variables_doc(&self) -> String {
        self.on(Surface::Bitbucket)
            .map(|o| {
                let default = if o.default.is_empty() {
                    "empty".to_string()
                } else {
                    format!("`{}`", o.default)
                };
                format!("#   {} ({default}): {}\n", o.variable, o.description)
            })
            .collect()
    }

    /// `on: workflow_call: inputs:` entries of the reusable workflow.
    pub fn reusable_inputs(&self) -> String {
        let mut out = String::new();
        for option in self.reusable() {
            out.push_str(&format!(
                "{}:\n  description: {}\n",
                option.name,
                yaml_string(&option.description)
            ));
            if option.kind == Kind::Boolean {
                out.push_str(&format!("  type: boolean\n  default: {}\n", option.default));
            } else {
                out.push_str(&format!(
                    "  type: string\n  default: {}\n",
                    yaml_string(&option.default)
                ));
            }
        }
        out
    }

    /// The reusable workflow's `with:` for the action: its inputs passed through by name, except
    /// `if-exists`, which differs between the source and the shim jobs.
    pub fn reusable_with(&self) -> String {
        self.reusable()
            .filter(|o| o.name != "if-exists")
            .map(|o| format!("{}: ${{{{ inputs.{} }}}}\n", o.name, o.name))
            .collect()
    }

    fn reusable(&self) -> impl Iterator<Item = &PublishOption> {
        self.on(Surface::Github)
            .filter(|o| !SET_BY_THE_REUSABLE_WORKFLOW.contains(&o.name.as_str()))
    }

    /// The reusable workflow's `outputs:` (from job `job`) and that job's `outputs:`.
    pub fn reusable_outputs(&self, job: &str) -> String {
        self.outputs
            .iter()
            .map(|o| {
                format!(
                    "{}:\n  description: {}\n  value: ${{{{ jobs.{job}.outputs.{} }}}}\n",
                    o.name,
                    yaml_string(&format!("Source package: {}", o.description)),
                    o.name
                )
            })
            .collect()
    }

    pub fn job_outputs(&self, step: &str) -> String {
        self.outputs
            .iter()
            .map(|o| format!("{}: ${{{{ steps.{step}.outputs.{} }}}}\n", o.name, o.name))
            .collect()
    }

    /// Shell lines giving each variable of `surface` its default when unset or empty.
    pub fn shell_defaults(&self, surface: Surface) -> String {
        self.on(surface)
            .map(|o| format!(": \"${{{}:={}}}\"\n", o.variable, o.default))
            .collect()
    }
}

/// A YAML scalar: plain when that is unambiguous, else double-quoted.
fn yaml_string(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && !matches!(
            value,
            "true" | "false" | "null" | "yes" | "no" | "on" | "off"
        )
        && value.parse::<f64>().is_err()
        && !value.starts_with('-');
    if plain {
        value.to_string()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
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

    #[test]
    fn yaml_strings_quote_what_yaml_would_read_otherwise() {
        assert_eq!(yaml_string("chuks.json"), "chuks.json");
        assert_eq!(yaml_string(""), "\"\"");
        assert_eq!(yaml_string("false"), "\"false\"");
        assert_eq!(yaml_string("0"), "\"0\"");
        assert_eq!(yaml_string("a: b"), "\"a: b\"");
    }
}
