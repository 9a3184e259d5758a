//! The CI pipeline files `chuks-ci init` writes, rendered from the sources in `src/pipelines/`
//! embedded in the binary (the shipped `templates/` are what users include; these are whole files).
//!
//! The committed `ci-examples/` (and the generated files listed by [`generated_files`]) are
//! exactly these renderings; `chuks-ci init --check` re-renders them and reports any drift.

mod options;
mod pins;
pub mod survey;

use std::path::PathBuf;

pub use options::{Options, Surface};
use pins::{ReleasePins, archive_sums};

/// The action the GitHub examples use, without a ref.
pub const ACTION_REPOSITORY: &str = "chuks/publish-action";
/// The reusable workflow the prebuilt GitHub example calls, without a ref.
pub const REUSABLE_WORKFLOW: &str = "chuks/publish-action/.github/workflows/publish.yml";
/// The Bitbucket pipe image, without a tag.
pub const PIPE_IMAGE: &str = "chuks/chuks-publish-pipe";
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

/// The surface whose option set and token hint an example's inline scripts use.
fn surface(platform: Ci) -> Surface {
    match platform {
        Ci::Github => Surface::Github,
        Ci::Gitlab => Surface::Gitlab,
        Ci::Bitbucket => Surface::Bitbucket,
    }
}

/// Renders the pipeline file for a platform and example, with the action pinned as `pin` says.
pub fn render_pinned(platform: Ci, example: Example, pin: &ActionPin) -> String {
    Renderer::new(surface(platform), pin).render(template(platform, example))
}

/// Renders the pipeline file for a platform and example as committed in `ci-examples/`.
pub fn render(platform: Ci, example: Example) -> String {
    render_pinned(platform, example, &ActionPin::committed())
}

/// A prebuilt example for a shim whose library is `lib<library>.so` rather than the example's
/// `libshim.so`: the GitLab and Bitbucket examples copy the file by name (GitHub's reusable
/// workflow looks it up).
pub fn for_shim_library(text: &str, library: &str) -> String {
    text.replace("libshim.so", &format!("lib{library}.so"))
        .replace("named `shim`", &format!("named `{library}`"))
}

/// The migration guide of this release, on GitHub.
pub fn migrating_guide_url() -> String {
    format!(
        "https://github.com/{ACTION_REPOSITORY}/blob/{}/docs/migrating.md",
        release_tag()
    )
}

/// Files generated from the same sources outside `ci-examples/`, with their paths relative to
/// the repository root: the action, the templates, the pipe and the reusable workflow.
pub fn generated_files() -> Vec<(PathBuf, String)> {
    let pin = ActionPin::committed();
    let file = |path: &str, surface: Surface, source: &str| {
        (
            PathBuf::from(path),
            Renderer::new(surface, &pin).render(source),
        )
    };
    let reusable = include_str!("pipelines/github-reusable.yml");
    vec![
        file(
            "action.yml",
            Surface::Github,
            include_str!("pipelines/action.yml"),
        ),
        file(
            "action/publish.sh",
            Surface::Github,
            include_str!("pipelines/action-publish.sh"),
        ),
        file(
            "templates/chuks-publish/template.yml",
            Surface::Gitlab,
            include_str!("pipelines/gitlab-component.yml"),
        ),
        file(
            "templates/gitlab/chuks-publish.gitlab-ci.yml",
            Surface::Gitlab,
            include_str!("pipelines/gitlab-classic.yml"),
        ),
        file(
            "templates/bitbucket/shared-pipelines.yml",
            Surface::Bitbucket,
            include_str!("pipelines/bitbucket-shared-pipelines.yml"),
        ),
        file(
            "templates/bitbucket/pipe/pipe.yml",
            Surface::Pipe,
            include_str!("pipelines/bitbucket-pipe.yml"),
        ),
        file(
            "templates/bitbucket/pipe/pipe.sh",
            Surface::Pipe,
            include_str!("pipelines/bitbucket-pipe.sh"),
        ),
        file(
            "templates/bitbucket/pipe/Dockerfile",
            Surface::Pipe,
            include_str!("pipelines/bitbucket-pipe.Dockerfile"),
        ),
        file("templates/github/publish.yml", Surface::Github, reusable),
        // GitHub only runs reusable workflows from .github/workflows.
        file(".github/workflows/publish.yml", Surface::Github, reusable),
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

/// How the examples reference `chuks/publish-action`: by the release commit when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPin {
    /// The release tag, `v<version>`.
    pub tag: String,
    /// The commit the tag points at, when known.
    pub commit: Option<String>,
}

impl ActionPin {
    /// The pin the committed examples use: the commit from `release.toml`, else the tag.
    pub fn committed() -> ActionPin {
        let pins = ReleasePins::load(CHUKS_CI_VERSION);
        ActionPin {
            tag: release_tag(),
            commit: Some(pins.action_commit).filter(|c| !c.is_empty()),
        }
    }

    /// `@<sha> # vX.Y.Z`, or `@vX.Y.Z`, after `what`.
    fn reference(&self, what: &str) -> String {
        match &self.commit {
            Some(commit) => format!("{what}@{commit} # {}", self.tag),
            None => format!("{what}@{}", self.tag),
        }
    }
}

/// Whether `init`'s rendering of the example installs chuks-ci itself (the Bitbucket step), and
/// so needs the archive sums, which this binary lacks when it was built before they existed.
pub fn misses_archive_sums(platform: Ci, example: Example) -> bool {
    platform == Ci::Bitbucket
        && example == Example::SinglePackage
        && archive_sums(CHUKS_CI_VERSION).is_empty()
}

/// The release tag of this version, `v<version>`.
pub fn release_tag() -> String {
    format!("v{CHUKS_CI_VERSION}")
}

/// Fills the placeholders of one source file: `@@NAME@@` inline, or a line holding only
/// `@@NAME@@`, which becomes a block at that line's indentation.
struct Renderer {
    surface: Surface,
    options: Options,
    pin: ActionPin,
}

impl Renderer {
    fn new(surface: Surface, pin: &ActionPin) -> Renderer {
        Renderer {
            surface,
            options: Options::load(),
            pin: pin.clone(),
        }
    }

    fn render(&self, source: &str) -> String {
        let mut out = String::with_capacity(source.len() * 2);
        for line in source.split_inclusive('\n') {
            let name = line.trim();
            let block = name
                .strip_prefix("@@")
                .and_then(|n| n.strip_suffix("@@"))
                .and_then(|n| self.block(n));
            match block {
                Some(block) => {
                    let indent = &line[..line.len() - line.trim_start().len()];
                    for block_line in self.render(&block).split_inclusive('\n') {
                        if block_line.trim().is_empty() {
                            out.push_str(block_line.trim_start_matches([' ', '\t']));
                        } else {
                            out.push_str(indent);
                            out.push_str(block_line);
                        }
                    }
                }
                None => out.push_str(&self.inline(line)),
            }
        }
        debug_assert!(!out.contains("@@"), "unreplaced placeholder in a template");
        out
    }

    /// A block placeholder's text, or `None` when `name` is not one.
    fn block(&self, name: &str) -> Option<String> {
        let options = &self.options;
        Some(match name {
            "ACTION_INPUTS" => options.action_inputs(),
            "ACTION_OUTPUTS" => options.action_outputs("publish"),
            "ACTION_ENV" => options.action_env(),
            "COMPONENT_INPUTS" => options.component_inputs(),
            "COMPONENT_VARIABLES" => options.component_variables(),
            "CLASSIC_VARIABLES" => options.classic_variables(),
            "PIPE_VARIABLES" => options.pipe_variables(),
            "BITBUCKET_VARIABLES_DOC" => options.bitbucket_variables_doc(),
            "REUSABLE_INPUTS" => options.reusable_inputs(),
            "REUSABLE_WITH" => options.reusable_with(),
            "REUSABLE_OUTPUTS" => options.reusable_outputs("source"),
            "JOB_OUTPUTS" => options.job_outputs("chuks"),
            "SHELL_DEFAULTS" => options.shell_defaults(self.surface),
            "GITLAB_SCRIPT" => include_str!("pipelines/gitlab-script.yml").to_string(),
            "BITBUCKET_STEP" => include_str!("pipelines/bitbucket-step.yml").to_string(),
            "SCRIPT_PRELUDE" => include_str!("pipelines/prelude.sh").to_string(),
            "SCRIPT_INSTALL_CHUKS_CI" => include_str!("pipelines/install-chuks-ci.sh").to_string(),
            "SCRIPT_INSTALL_CHUKS" => include_str!("pipelines/install-chuks.sh").to_string(),
            "SCRIPT_UPLOAD" => include_str!("pipelines/publish.sh").to_string(),
            "PINNED_SUMS" => pinned_sums_case(),
            _ => return None,
        })
    }

    fn inline(&self, line: &str) -> String {
        let mut out = line.to_string();
        while let Some(start) = out.find("@@") {
            let Some(len) = out[start + 2..].find("@@") else {
                break;
            };
            let name = &out[start + 2..start + 2 + len];
            let value = self.value(name);
            out.replace_range(start..start + len + 4, &value);
        }
        out
    }

    /// An inline placeholder's text.
    fn value(&self, name: &str) -> String {
        let pins = || ReleasePins::load(CHUKS_CI_VERSION);
        match name {
            "CHECKOUT" => CHECKOUT.to_string(),
            "ACTION" => self.pin.reference(ACTION_REPOSITORY),
            "ACTION_SELF" => format!("{ACTION_REPOSITORY}@{}", release_tag()),
            "REUSABLE" => self.pin.reference(REUSABLE_WORKFLOW),
            "GITLAB_COMPONENT" => gitlab_component(),
            "GITLAB_CLASSIC" => gitlab_classic_url(),
            "GITLAB_CLASSIC_INTEGRITY" => gitlab_classic_integrity(),
            "BITBUCKET_PIPE" => format!("docker://{}", pipe_image(&pins())),
            "PIPE_IMAGE" => pipe_image(&pins()),
            "TOKEN_HINT" => token_hint(self.surface).to_string(),
            "OUTPUT_NAMES" => self
                .options
                .outputs
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            "CHUKS_CI_VERSION" => CHUKS_CI_VERSION.to_string(),
            other => panic!("unknown placeholder `@@{other}@@` in a pipeline source"),
        }
    }
}

/// `case` arms giving `chuks_ci_expected` the sum pinned for each platform.
fn pinned_sums_case() -> String {
    let mut arms: String = archive_sums(CHUKS_CI_VERSION)
        .iter()
        .filter(|(platform, _)| platform.starts_with("linux-"))
        .map(|(platform, sum)| format!("{platform}) chuks_ci_expected={sum} ;;\n"))
        .collect();
    arms.push_str("*) ;;\n");
    arms
}

fn gitlab_component() -> String {
    format!(
        "gitlab.com/chuks/publish-action/chuks-publish@{}",
        release_tag()
    )
}

fn gitlab_classic_url() -> String {
    format!(
        "https://raw.githubusercontent.com/chuks/publish-action/{}/templates/gitlab/chuks-publish.gitlab-ci.yml",
        release_tag()
    )
}

/// `sha256-<base64>` of the classic template, for `include: remote: integrity:`.
fn gitlab_classic_integrity() -> String {
    use base64::Engine;
    use sha2::Digest;
    let text = Renderer::new(Surface::Gitlab, &ActionPin::committed())
        .render(include_str!("pipelines/gitlab-classic.yml"));
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The pipe image, by digest once the release wrote one.
fn pipe_image(pins: &ReleasePins) -> String {
    let image = format!("{PIPE_IMAGE}:{CHUKS_CI_VERSION}");
    if pins.pipe_digest.is_empty() {
        image
    } else {
        format!("{image}@{}", pins.pipe_digest)
    }
}

/// What to do about an empty token, where the platform keeps its secrets.
fn token_hint(surface: Surface) -> &'static str {
    match surface {
        Surface::Github => {
            "add the repository secret CHUKS_TOKEN and pass it as the action input token: \\${{ secrets.CHUKS_TOKEN }}"
        }
        Surface::Gitlab => {
            "add CHUKS_TOKEN as a masked, protected CI/CD variable (Settings → CI/CD → Variables) and protect the release tag, or name another variable in token-variable"
        }
        Surface::Bitbucket | Surface::Pipe => {
            "add the secured repository variable CHUKS_TOKEN (Repository settings → Pipelines → Repository variables), or name another variable in CHUKS_TOKEN_VARIABLE"
        }
    }
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
                path.to_string_lossy()
            );
            assert!(
                text.ends_with('\n'),
                "{} lacks a final newline",
                path.to_string_lossy()
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
