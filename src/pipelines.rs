//! The CI pipeline files `chuks-ci init` writes, rendered from the sources in `src/pipelines/`
//! embedded in the binary (the shipped `templates/` are what users include; these are whole files).
//!
//! The committed `ci-examples/` (and the generated files listed by [`generated_files`]) are
//! exactly these renderings; `chuks-ci init --check` re-renders them and reports any drift.

use std::path::PathBuf;

/// The action reference the GitHub examples use.
pub const ACTION: &str = "chuks/publish-action@v1";
/// The reusable workflow the prebuilt GitHub example calls.
pub const REUSABLE_WORKFLOW: &str = "chuks/publish-action/.github/workflows/publish.yml@v1";
/// `actions/checkout` pinned by commit, as the examples use it.
pub const CHECKOUT: &str = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2";
/// The chuks-ci version the examples install: this binary's.
pub const CHUKS_CI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A CI `chuks-ci init` writes pipelines for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    Github,
    Gitlab,
    Bitbucket,
}

/// Which pipeline to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Example {
    /// One package at the repository root, published on `v*` tags.
    SinglePackage,
    /// The package, then its native shim built per platform and published with `--prebuilt`.
    PrebuiltBinaries,
    /// Two packages in one repository, released with tags like `@scope/name@1.2.0`.
    Monorepo,
}

impl Ci {
    pub const ALL: [Ci; 3] = [Ci::Github, Ci::Gitlab, Ci::Bitbucket];

    pub fn name(self) -> &'static str {
        match self {
            Ci::Github => "github",
            Ci::Gitlab => "gitlab",
            Ci::Bitbucket => "bitbucket",
        }
    }

    /// Where the pipeline file goes in a repository.
    pub fn target_path(self) -> &'static str {
        match self {
            Ci::Github => ".github/workflows/chuks-publish.yml",
            Ci::Gitlab => ".gitlab-ci.yml",
            Ci::Bitbucket => "bitbucket-pipelines.yml",
        }
    }

    /// The one secret to add, and where in the platform's settings.
    pub fn secret_instructions(self) -> &'static str {
        match self {
            Ci::Github => {
                "add the repository secret CHUKS_TOKEN: Settings → Secrets and variables → Actions → \
                 New repository secret"
            }
            Ci::Gitlab => {
                "add the CI/CD variable CHUKS_TOKEN, masked and protected: Settings → CI/CD → \
                 Variables; protect your release tags too (Settings → Repository → Protected tags)"
            }
            Ci::Bitbucket => {
                "add the secured repository variable CHUKS_TOKEN: Repository settings → Pipelines → \
                 Repository variables (tick \"Secured\")"
            }
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Ci::Github => ".yml",
            Ci::Gitlab => ".gitlab-ci.yml",
            Ci::Bitbucket => ".bitbucket-pipelines.yml",
        }
    }
}

impl Example {
    pub const ALL: [Example; 3] = [
        Example::SinglePackage,
        Example::PrebuiltBinaries,
        Example::Monorepo,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Example::SinglePackage => "single-package",
            Example::PrebuiltBinaries => "prebuilt-binaries",
            Example::Monorepo => "monorepo",
        }
    }
}

/// The committed example file for a platform and example, relative to the repository root.
pub fn example_path(platform: Ci, example: Example) -> PathBuf {
    PathBuf::from("ci-examples")
        .join(platform.name())
        .join(format!("{}{}", example.name(), platform.suffix()))
}

fn template(platform: Ci, example: Example) -> &'static str {
    use Ci::*;
    use Example::*;
    match (platform, example) {
        (Github, SinglePackage) => include_str!("pipelines/github-single-package.yml"),
        (Github, PrebuiltBinaries) => include_str!("pipelines/github-prebuilt-binaries.yml"),
        (Github, Monorepo) => include_str!("pipelines/github-monorepo.yml"),
        (Gitlab, SinglePackage) => include_str!("pipelines/gitlab-single-package.yml"),
        (Gitlab, PrebuiltBinaries) => include_str!("pipelines/gitlab-prebuilt-binaries.yml"),
        (Gitlab, Monorepo) => include_str!("pipelines/gitlab-monorepo.yml"),
        (Bitbucket, SinglePackage) => include_str!("pipelines/bitbucket-single-package.yml"),
        (Bitbucket, PrebuiltBinaries) => include_str!("pipelines/bitbucket-prebuilt-binaries.yml"),
        (Bitbucket, Monorepo) => include_str!("pipelines/bitbucket-monorepo.yml"),
    }
}

/// Renders the pipeline file for a platform and example.
pub fn render(platform: Ci, example: Example) -> String {
    substitute(template(platform, example))
}

/// Files generated from the same templates outside `ci-examples/`, with their paths relative to
/// the repository root.
pub fn generated_files() -> Vec<(PathBuf, String)> {
    vec![
        (
            PathBuf::from("templates/bitbucket/shared-pipelines.yml"),
            substitute(include_str!("pipelines/bitbucket-shared-pipelines.yml")),
        ),
        // GitHub only runs reusable workflows from .github/workflows; the template is the source.
        (
            PathBuf::from(".github/workflows/publish.yml"),
            include_str!("../templates/github/publish.yml").to_string(),
        ),
    ]
}

/// Every file `init --check` compares: the nine examples, then the generated files.
pub fn all_rendered() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for platform in Ci::ALL {
        for example in Example::ALL {
            files.push((example_path(platform, example), render(platform, example)));
        }
    }
    files.extend(generated_files());
    files
}

fn substitute(template: &str) -> String {
    let gitlab_component =
        format!("gitlab.com/chuks/publish-action/chuks-publish@v{CHUKS_CI_VERSION}");
    let gitlab_classic = format!(
        "https://raw.githubusercontent.com/chuks/publish-action/v{CHUKS_CI_VERSION}/templates/gitlab/chuks-publish.gitlab-ci.yml"
    );
    let bitbucket_pipe = format!("docker://chuks/chuks-publish-pipe:{CHUKS_CI_VERSION}");
    let step = include_str!("pipelines/bitbucket-step.yml");
    let mut out = String::with_capacity(template.len() + step.len());
    for line in template.split_inclusive('\n') {
        if line.trim() == "@@BITBUCKET_STEP@@" {
            let indent = &line[..line.len() - line.trim_start().len()];
            for step_line in step.split_inclusive('\n') {
                if step_line.trim().is_empty() {
                    out.push_str(step_line.trim_start_matches([' ', '\t']));
                } else {
                    out.push_str(indent);
                    out.push_str(step_line);
                }
            }
            continue;
        }
        out.push_str(line);
    }
    let out = out
        .replace("@@CHECKOUT@@", CHECKOUT)
        .replace("@@ACTION@@", ACTION)
        .replace("@@REUSABLE@@", REUSABLE_WORKFLOW)
        .replace("@@GITLAB_COMPONENT@@", &gitlab_component)
        .replace("@@GITLAB_CLASSIC@@", &gitlab_classic)
        .replace("@@BITBUCKET_PIPE@@", &bitbucket_pipe)
        .replace("@@CHUKS_CI_VERSION@@", CHUKS_CI_VERSION);
    debug_assert!(!out.contains("@@"), "unreplaced placeholder in a template");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_without_placeholders() {
        for (path, text) in all_rendered() {
            assert!(
                !text.contains("@@"),
                "{} keeps a placeholder",
                path.display()
            );
            assert!(
                text.ends_with('\n'),
                "{} lacks a final newline",
                path.display()
            );
        }
    }

    #[test]
    fn examples_take_the_token_from_the_platform_secret_store_only() {
        for platform in Ci::ALL {
            for example in Example::ALL {
                let text = render(platform, example);
                assert!(text.contains("CHUKS_TOKEN"), "{platform:?} {example:?}");
                assert!(!text.contains("--token"), "{platform:?} {example:?}");
            }
        }
    }
}
