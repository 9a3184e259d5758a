//! The CI pipeline files `chuks-ci init` writes, rendered by the template engine
//! (`pipelines::engine`) from the sources in `src/pipelines/` embedded in the binary and a typed
//! context: the options of `options.toml` and the release's pins (the shipped `templates/` are
//! what users include; these are whole files).
//!
//! The committed `ci-examples/` (and the generated files listed by [`generated_files`]) are
//! exactly these renderings; `chuks-ci maintain examples --check` re-renders them and reports any
//! drift.

mod engine;
mod options;
mod pins;
pub mod survey;

use std::path::PathBuf;

use serde::Serialize;

pub use engine::RenderError;
use engine::{Engine, Reference};
pub use options::{Options, Surface};
use options::{Output, PublishOption};
use pins::{ReleasePins, archive_sums};

/// The action the GitHub examples use, without a ref.
pub const ACTION_REPOSITORY: &str = "chuks/publish-action";
/// The reusable workflow the prebuilt GitHub example calls, without a ref.
pub const REUSABLE_WORKFLOW: &str = "chuks/publish-action/.github/workflows/publish.yml";
/// The Bitbucket pipe image, without a tag.
pub const PIPE_IMAGE: &str = "chuks/chuks-publish-pipe";
/// `actions/checkout` pinned by commit, and the version of that commit, as the examples use it.
const CHECKOUT: (&str, &str) = (
    "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683",
    "v4.2.2",
);
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
    /// One package published with no stored secret: the job's OIDC ID token is exchanged.
    TrustedPublishing,
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

    /// What to set up after writing `example`: the one secret to add and where in the
    /// platform's settings, or for trusted publishing the trust to ask the registry for.
    pub fn secret_instructions(self, example: Example) -> &'static str {
        match (self, example) {
            (Ci::Github, Example::TrustedPublishing) => {
                "no secret to add: have the registry trust this repository's workflow file \
                 (`chuks-ci trust explain` in the job prints the `registry trust add` line); \
                 create the GitHub environment `release` or remove it from the job"
            }
            (Ci::Gitlab, Example::TrustedPublishing) => {
                "no secret to add: have the registry trust this project's .gitlab-ci.yml \
                 (`chuks-ci trust explain` in the job prints the `registry trust add` line)"
            }
            (Ci::Bitbucket, Example::TrustedPublishing) => {
                "no secret to add: have the registry trust this workspace and repository \
                 (`chuks-ci trust explain` in the step prints the `registry trust add` line)"
            }
            (Ci::Github, _) => {
                "add the repository secret CHUKS_TOKEN: Settings → Secrets and variables → Actions → \
                 New repository secret"
            }
            (Ci::Gitlab, _) => {
                "add the CI/CD variable CHUKS_TOKEN, masked and protected: Settings → CI/CD → \
                 Variables; protect your release tags too (Settings → Repository → Protected tags)"
            }
            (Ci::Bitbucket, _) => {
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
    pub const ALL: [Example; 4] = [
        Example::SinglePackage,
        Example::PrebuiltBinaries,
        Example::Monorepo,
        Example::TrustedPublishing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Example::SinglePackage => "single-package",
            Example::PrebuiltBinaries => "prebuilt-binaries",
            Example::Monorepo => "monorepo",
            Example::TrustedPublishing => "trusted-publishing",
        }
    }
}

/// The committed example file for a platform and example, relative to the repository root.
pub fn example_path(platform: Ci, example: Example) -> PathBuf {
    PathBuf::from("ci-examples")
        .join(platform.name())
        .join(format!("{}{}", example.name(), platform.suffix()))
}

/// The template of a platform's example: `<platform>-<example>.yml`.
fn template(platform: Ci, example: Example) -> String {
    format!("{}-{}.yml", platform.name(), example.name())
}

/// The surface whose options and token hint an example's inline scripts use.
fn surface(platform: Ci) -> Surface {
    match platform {
        Ci::Github => Surface::Github,
        Ci::Gitlab => Surface::Gitlab,
        Ci::Bitbucket => Surface::Bitbucket,
    }
}

/// Renders the pipeline file for a platform and example, with the action pinned as `pin` says,
/// for a shim whose library is `lib<shim_library>.so` (the GitLab and Bitbucket examples copy the
/// file by name; GitHub's reusable workflow looks it up).
pub fn render_pinned(
    platform: Ci,
    example: Example,
    pin: &ActionPin,
    shim_library: Option<&str>,
) -> Result<String, RenderError> {
    Renderer::new(pin)?.example(platform, example, shim_library)
}

/// Renders the pipeline file for a platform and example as committed in `ci-examples/`.
pub fn render(platform: Ci, example: Example) -> Result<String, RenderError> {
    render_pinned(platform, example, &ActionPin::committed(), None)
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
pub fn generated_files() -> Result<Vec<(PathBuf, String)>, RenderError> {
    const FILES: [(&str, &str, Surface); 10] = [
        ("action.yml", "action.yml", Surface::Github),
        ("action/publish.sh", "action-publish.sh", Surface::Github),
        (
            "templates/chuks-publish/template.yml",
            "gitlab-component.yml",
            Surface::Gitlab,
        ),
        (
            "templates/gitlab/chuks-publish.gitlab-ci.yml",
            "gitlab-classic.yml",
            Surface::Gitlab,
        ),
        (
            "templates/bitbucket/shared-pipelines.yml",
            "bitbucket-shared-pipelines.yml",
            Surface::Bitbucket,
        ),
        (
            "templates/bitbucket/pipe/pipe.yml",
            "bitbucket-pipe.yml",
            Surface::Pipe,
        ),
        (
            "templates/bitbucket/pipe/pipe.sh",
            "bitbucket-pipe.sh",
            Surface::Pipe,
        ),
        (
            "templates/bitbucket/pipe/Dockerfile",
            "bitbucket-pipe.Dockerfile",
            Surface::Pipe,
        ),
        (
            "templates/github/publish.yml",
            "github-reusable.yml",
            Surface::Github,
        ),
        // GitHub only runs reusable workflows from .github/workflows.
        (
            ".github/workflows/publish.yml",
            "github-reusable.yml",
            Surface::Github,
        ),
    ];
    let renderer = Renderer::new(&ActionPin::committed())?;
    FILES
        .iter()
        .map(|&(path, template, surface)| {
            let text = renderer.file(template, surface, None)?;
            Ok((PathBuf::from(path), text))
        })
        .collect()
}

/// Every file `maintain examples` compares: the twelve examples, then the generated files.
pub fn all_rendered() -> Result<Vec<(PathBuf, String)>, RenderError> {
    let renderer = Renderer::new(&ActionPin::committed())?;
    let mut files = Vec::new();
    for platform in Ci::ALL {
        for example in Example::ALL {
            let text = renderer.example(platform, example, None)?;
            files.push((example_path(platform, example), text));
        }
    }
    files.extend(generated_files()?);
    Ok(files)
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

    /// `what@<sha> # vX.Y.Z`, or `what@vX.Y.Z`.
    fn reference(&self, what: &str) -> Option<Reference> {
        match &self.commit {
            Some(commit) => Reference::new(&format!("{what}@{commit}"), Some(&self.tag)),
            None => Reference::new(&format!("{what}@{}", self.tag), None),
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

/// What every template sees.
#[derive(Serialize)]
struct Context<'a> {
    /// This chuks-ci's version, which the files install.
    chuks_ci_version: &'static str,
    /// The options that exist where the file runs.
    options: Vec<&'a PublishOption>,
    outputs: &'a [Output],
    /// What to do about an empty token, where the platform keeps its secrets.
    token_hint: &'static str,
    pins: &'a Pins,
    /// What only the examples use; none for the integrations.
    example: Option<ExampleFacts>,
}

/// What the files reference by version, tag, commit or digest.
#[derive(Serialize)]
struct Pins {
    checkout: Reference,
    action: Reference,
    /// The action of this very release, by tag: what the reusable workflow runs.
    action_self: String,
    reusable: Reference,
    gitlab_component: String,
    gitlab_classic: String,
    /// The pipe image, by digest once the release wrote one.
    pipe_image: String,
    /// `(platform, sha256)` of each Linux archive of this release.
    archive_sums: Vec<(String, String)>,
}

#[derive(Serialize)]
struct ExampleFacts {
    /// The shim's library, as cargo names its file `lib<name>.so`.
    shim_library: String,
    /// `sha256-<base64>` of the classic template, for `include: remote: integrity:`.
    gitlab_classic_integrity: String,
}

/// The engine, the options and the pins, ready to render any file.
struct Renderer {
    engine: Engine,
    options: Options,
    pins: Pins,
}

impl Renderer {
    fn new(pin: &ActionPin) -> Result<Renderer, RenderError> {
        let pins = Pins::new(pin).ok_or_else(|| {
            let words = format!("`{}`, `{}`", pin.tag, pin.commit.as_deref().unwrap_or(""));
            RenderError::new(
                "the pins".to_string(),
                format!("the action pin {words} holds more than letters, digits and `._/@:+=-`"),
            )
        })?;
        Ok(Renderer {
            engine: Engine::new(),
            options: Options::load(),
            pins,
        })
    }

    /// An example, for a shim whose library is `lib<shim_library>.so`.
    fn example(
        &self,
        platform: Ci,
        example: Example,
        shim_library: Option<&str>,
    ) -> Result<String, RenderError> {
        let classic = self.file("gitlab-classic.yml", Surface::Gitlab, None)?;
        let facts = ExampleFacts {
            shim_library: shim_library.unwrap_or("shim").to_string(),
            gitlab_classic_integrity: integrity(&classic),
        };
        self.file(&template(platform, example), surface(platform), Some(facts))
    }

    /// One template, for a file that runs on `surface`.
    fn file(
        &self,
        template: &str,
        surface: Surface,
        example: Option<ExampleFacts>,
    ) -> Result<String, RenderError> {
        let context = Context {
            chuks_ci_version: CHUKS_CI_VERSION,
            options: self.options.on(surface).collect(),
            outputs: &self.options.outputs,
            token_hint: token_hint(surface),
            pins: &self.pins,
            example,
        };
        self.engine.render(template, &context)
    }
}

impl Pins {
    fn new(pin: &ActionPin) -> Option<Pins> {
        let (checkout, checkout_version) = CHECKOUT;
        let tag = release_tag();
        let release = ReleasePins::load(CHUKS_CI_VERSION);
        let image = format!("{PIPE_IMAGE}:{CHUKS_CI_VERSION}");
        Some(Pins {
            checkout: Reference::new(checkout, Some(checkout_version))?,
            action: pin.reference(ACTION_REPOSITORY)?,
            action_self: format!("{ACTION_REPOSITORY}@{tag}"),
            reusable: pin.reference(REUSABLE_WORKFLOW)?,
            gitlab_component: format!("gitlab.com/{ACTION_REPOSITORY}/chuks-publish@{tag}"),
            gitlab_classic: format!(
                "https://raw.githubusercontent.com/{ACTION_REPOSITORY}/{tag}/templates/gitlab/chuks-publish.gitlab-ci.yml"
            ),
            pipe_image: match release.pipe_digest.as_str() {
                "" => image,
                digest => format!("{image}@{digest}"),
            },
            archive_sums: archive_sums(CHUKS_CI_VERSION)
                .into_iter()
                .filter(|(platform, _)| platform.starts_with("linux-"))
                .collect(),
        })
    }
}

/// `sha256-<base64>` of `text`, as a subresource integrity.
fn integrity(text: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// What to do about an empty token, where the platform keeps its secrets.
fn token_hint(surface: Surface) -> &'static str {
    match surface {
        Surface::Github => {
            "add the repository secret CHUKS_TOKEN and pass it as the action input token: ${{ secrets.CHUKS_TOKEN }}"
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
    fn every_template_renders_with_a_final_newline() {
        for (path, text) in all_rendered().unwrap() {
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
                let text = render(platform, example).unwrap();
                match example {
                    Example::TrustedPublishing => {
                        assert!(!text.contains("secrets."), "{platform:?}");
                        assert!(!text.contains("CHUKS_TOKEN: "), "{platform:?}");
                    }
                    _ => assert!(text.contains("CHUKS_TOKEN"), "{platform:?} {example:?}"),
                }
                assert!(!text.contains("--token"), "{platform:?} {example:?}");
            }
        }
    }

    #[test]
    fn the_trusted_publishing_examples_let_the_job_have_an_id_token() {
        let grant = [
            (Ci::Github, "id-token: write"),
            (Ci::Gitlab, "id-token-audience:"),
            (
                Ci::Bitbucket,
                "oidc:\n          audiences:\n            - chuks\n",
            ),
        ];
        for (platform, grant) in grant {
            let text = render(platform, Example::TrustedPublishing).unwrap();
            assert!(text.contains(grant), "{platform:?}:\n{text}");
        }
    }
}
