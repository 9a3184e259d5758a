//! `publish --workspace`: every package of a run checked in full (release, tag, leak guard,
//! token, what the registry already holds) before the first upload, then uploaded in dependency
//! order, each dependent only after its dependencies are published and read back. A failed
//! package stops its dependents; independent packages still go.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::uploader::Destination;
use super::{ConfirmTag, Prepared, PublishPlan, already_stored, deliver, dry_run, open, prepare};
use crate::publish::report::{PublishReport, PublishResult};
use crate::report::Reporter;
use crate::session::Session;
use crate::upload::{Sent, Stored};

/// The packages of one run, in release order, and which of them each depends on (by index into
/// `plans`, always earlier ones).
pub struct WorkspacePlan {
    pub plans: Vec<PublishPlan>,
    pub dependencies: Vec<Vec<usize>>,
    /// How many packages may upload at once.
    pub jobs: usize,
}

/// How one package of the run went.
#[derive(Default)]
pub struct PackageRun {
    pub report: PublishReport,
    /// Why it failed; `None` for a package that succeeded or was skipped.
    pub error: Option<anyhow::Error>,
    /// Why it was not attempted.
    pub skipped_because: Option<String>,
    /// How long its upload, settling and read-back took.
    pub elapsed: Option<Duration>,
}

impl PackageRun {
    fn fail(&mut self, error: anyhow::Error) {
        self.report.result = Some(PublishResult::Failed);
        self.error = Some(error);
    }

    fn skip(&mut self, because: String) {
        self.report.result = Some(PublishResult::Skipped);
        self.skipped_because = Some(because);
    }

    fn failed(&self) -> bool {
        matches!(
            self.report.result,
            Some(PublishResult::Failed | PublishResult::Skipped)
        )
    }
}

/// What the preflight decided for a package whose checks passed.
enum Decision {
    Upload,
    /// Settled without an upload: the registry holds our bytes (`unchanged`), or other bytes
    /// that `--if-exists skip` lets be (`exists`).
    Settled(PublishResult),
}

/// Runs the workspace plan on `session`: one report per package, in `plans` order.
pub fn run(
    workspace: &WorkspacePlan,
    session: &Session,
    confirm_tag: &ConfirmTag<'_>,
    reporter: &mut Reporter,
) -> Vec<PackageRun> {
    let plans = &workspace.plans;
    let mut runs: Vec<PackageRun> = plans.iter().map(|_| PackageRun::default()).collect();
    let prepared = prepare_all(workspace, confirm_tag, reporter, &mut runs);
    let Some(first) = plans.first() else {
        return runs;
    };
    if first.dry_run && !first.registry.can_be_asked() {
        for run in runs.iter_mut().filter(|run| !run.failed()) {
            run.report.result = Some(PublishResult::DryRun);
        }
        let mut registry = PublishReport::default();
        if let Err(err) = dry_run(first, session, reporter, &mut registry) {
            stop_all(&mut runs, err, "the token check failed");
        }
        share_destination(&mut runs, &registry);
        return runs;
    }
    if stop_if_any_failed(&mut runs, "another package failed its checks") {
        return runs;
    }
    let mut registry = PublishReport::default();
    let opened = match open(first, session, reporter, &mut registry) {
        Ok(opened) => opened,
        Err(err) => {
            stop_all(&mut runs, err, "the registry or the token was refused");
            return runs;
        }
    };
    share_destination(&mut runs, &registry);
    let decisions = preflight(
        workspace, &prepared, &opened.to, session, reporter, &mut runs,
    );
    let checked = !stop_if_any_failed(&mut runs, "another package failed the registry's checks");
    if checked && first.dry_run {
        for run in runs.iter_mut() {
            run.report.result = Some(PublishResult::DryRun);
        }
        reporter.note("dry run: every package passed its checks; nothing was uploaded");
    } else if checked {
        let work = Delivery {
            workspace,
            prepared: &prepared,
            decisions: &decisions,
            to: &opened.to,
            session,
        };
        work.run(&mut runs, reporter);
    }
    // A minted token is revoked once every package is done, whatever happened to them.
    opened.close(session, reporter);
    runs
}

/// The uploads of a run, once every check passed: each package after its dependencies, up to
/// `jobs` side by side.
struct Delivery<'a> {
    workspace: &'a WorkspacePlan,
    prepared: &'a [Option<Prepared>],
    decisions: &'a [Option<Decision>],
    to: &'a Destination,
    session: &'a Session,
}

/// Where each package of a delivery stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    Running,
    Done,
}

impl Delivery<'_> {
    fn run(&self, runs: &mut [PackageRun], reporter: &mut Reporter) {
        let count = runs.len();
        let jobs = self.workspace.jobs.clamp(1, count.max(1));
        let board = Mutex::new(Board {
            stages: vec![Stage::Waiting; count],
            runs: runs.iter_mut().map(std::mem::take).collect(),
            forks: Vec::new(),
        });
        let changed = Condvar::new();
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| self.work(&board, &changed, reporter.fork()));
            }
        });
        let board = board.into_inner().unwrap_or_else(PoisonError::into_inner);
        for (slot, run) in runs.iter_mut().zip(board.runs) {
            *slot = run;
        }
        for fork in board.forks {
            reporter.absorb(fork);
        }
    }

    /// One worker: takes the next package whose dependencies are done, until none is left.
    fn work(&self, board: &Mutex<Board>, changed: &Condvar, mut reporter: Reporter) {
        loop {
            let mut state = board.lock().unwrap_or_else(PoisonError::into_inner);
            let next = loop {
                match self.next(&mut state) {
                    Next::Package(index) => break Some(index),
                    Next::Finished => break None,
                    Next::Wait => {
                        state = changed.wait(state).unwrap_or_else(PoisonError::into_inner);
                    }
                }
            };
            let Some(index) = next else {
                state.forks.push(reporter);
                changed.notify_all();
                return;
            };
            state.stages[index] = Stage::Running;
            let mut run = std::mem::take(&mut state.runs[index]);
            drop(state);
            // A worker that panicked would leave its package running for ever and the others
            // waiting on it: the panic fails that package instead.
            let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.deliver_one(index, &mut run, &mut reporter)
            }));
            if delivered.is_err() {
                run.fail(anyhow::anyhow!(
                    "chuks-ci failed unexpectedly while publishing this package\nhint: this is a bug in chuks-ci; re-running the job finishes what is missing"
                ));
            }
            let mut state = board.lock().unwrap_or_else(PoisonError::into_inner);
            state.runs[index] = run;
            state.stages[index] = Stage::Done;
            changed.notify_all();
        }
    }

    /// The first waiting package (in release order) whose dependencies are all done; one whose
    /// dependency failed is skipped on the spot.
    fn next(&self, board: &mut Board) -> Next {
        let mut any_waiting = false;
        for index in 0..board.stages.len() {
            if board.stages[index] != Stage::Waiting {
                continue;
            }
            let dependencies = &self.workspace.dependencies[index];
            if let Some(&failed) = dependencies
                .iter()
                .find(|&&d| board.stages[d] == Stage::Done && board.runs[d].failed())
            {
                let name = &self.workspace.plans[failed].manifest.name;
                board.runs[index].skip(format!("its dependency `{name}` was not published"));
                board.stages[index] = Stage::Done;
                continue;
            }
            any_waiting = true;
            if dependencies.iter().all(|&d| board.stages[d] == Stage::Done) {
                return Next::Package(index);
            }
        }
        match any_waiting || board.stages.contains(&Stage::Running) {
            true => Next::Wait,
            false => Next::Finished,
        }
    }

    fn deliver_one(&self, index: usize, run: &mut PackageRun, reporter: &mut Reporter) {
        let (Some(prepared), Some(decision)) = (&self.prepared[index], &self.decisions[index])
        else {
            return;
        };
        match decision {
            Decision::Settled(result) => {
                run.report.result = Some(*result);
                run.report.confirmed = Some(*result == PublishResult::Unchanged);
            }
            Decision::Upload => {
                let started = Instant::now();
                let plan = &self.workspace.plans[index];
                let delivered = deliver(
                    plan,
                    prepared,
                    self.to,
                    self.session,
                    reporter,
                    &mut run.report,
                );
                run.elapsed = Some(started.elapsed());
                if let Err(err) = delivered {
                    run.fail(err);
                }
            }
        }
    }
}

/// What the workers share.
struct Board {
    stages: Vec<Stage>,
    runs: Vec<PackageRun>,
    /// The workers' reporters, handed back as they finish.
    forks: Vec<Reporter>,
}

enum Next {
    Package(usize),
    Wait,
    Finished,
}

/// Prepares every package (verify, confirm the tag, pack), up to `jobs` at once: these steps
/// are local and independent of each other.
fn prepare_all(
    workspace: &WorkspacePlan,
    confirm_tag: &ConfirmTag<'_>,
    reporter: &mut Reporter,
    runs: &mut [PackageRun],
) -> Vec<Option<Prepared>> {
    let plans = &workspace.plans;
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<(&mut PackageRun, Option<Prepared>)>> =
        runs.iter_mut().map(|run| Mutex::new((run, None))).collect();
    let jobs = workspace.jobs.clamp(1, plans.len().max(1));
    let forks: Vec<Reporter> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                let mut fork = reporter.fork();
                let (next, slots) = (&next, &slots);
                scope.spawn(move || {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(slot) = slots.get(index) else {
                            return fork;
                        };
                        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                        let (run, prepared) = &mut *slot;
                        match prepare(&plans[index], confirm_tag, &mut fork, &mut run.report) {
                            Ok(ready) => *prepared = Some(ready),
                            Err(err) => run.fail(err),
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for fork in forks {
        reporter.absorb(fork);
    }
    slots
        .into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner).1)
        .collect()
}

/// Asks the registry what it already holds for each package: our bytes are `unchanged` with no
/// upload; other bytes are refused now (unless `--if-exists skip`), before anything is sent.
fn preflight(
    workspace: &WorkspacePlan,
    prepared: &[Option<Prepared>],
    to: &Destination,
    session: &Session,
    reporter: &mut Reporter,
    runs: &mut [PackageRun],
) -> Vec<Option<Decision>> {
    let mut decisions = Vec::with_capacity(prepared.len());
    for ((plan, prepared), run) in workspace.plans.iter().zip(prepared).zip(runs.iter_mut()) {
        let Some(prepared) = prepared else {
            decisions.push(None);
            continue;
        };
        let decision = match already_stored(plan, prepared, &to.client, session) {
            Ok(Some(stored @ (Stored::Ours | Stored::Other(_)))) => {
                match prepared.settle_now(plan, Sent::Exists(stored), reporter) {
                    Ok(result) => Some(Decision::Settled(result)),
                    Err(err) => {
                        run.fail(err.into());
                        None
                    }
                }
            }
            Ok(Some(Stored::Unknown) | None) => Some(Decision::Upload),
            Err(err) => {
                run.fail(err.into());
                None
            }
        };
        decisions.push(decision);
    }
    decisions
}

/// The registry and the token's kind, found once for the run, in every package's report.
fn share_destination(runs: &mut [PackageRun], found: &PublishReport) {
    for run in runs {
        run.report.registry.clone_from(&found.registry);
        run.report.registry_is_local = found.registry_is_local;
        run.report.auth = found.auth;
    }
}

/// Marks every package not failed yet as skipped, if any failed; says whether any did.
fn stop_if_any_failed(runs: &mut [PackageRun], because: &str) -> bool {
    if !runs.iter().any(PackageRun::failed) {
        return false;
    }
    for run in runs.iter_mut().filter(|run| !run.failed()) {
        run.skip(format!("nothing was uploaded: {because}"));
    }
    true
}

/// One error stops the whole run: the first package carries it, the others are skipped.
fn stop_all(runs: &mut [PackageRun], error: anyhow::Error, because: &str) {
    let mut error = Some(error);
    for run in runs.iter_mut().filter(|run| !run.failed()) {
        match error.take() {
            Some(error) => run.fail(error),
            None => run.skip(format!("nothing was uploaded: {because}")),
        }
    }
}
