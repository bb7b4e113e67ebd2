//! Scenario 5, `peers`: the same rolling deployment (copy the 20 files of a bundle, run three
//! hooks) to K local targets with ferry, with pyinfra and with Ansible, in two halves, K = 10
//! and 50; the wall time of each and the ratios to ferry.
//!
//! - ferry: K resident agents (its model), a `CodeDeployDefault.HalfAtATime` group; timed
//!   from UploadBundle to the Succeeded event of the deployment. HalfAtATime keeps at most
//!   half the targets (rounded down) in progress, starting the next target as soon as one
//!   ends: a sliding window of half, not two strict batches as Ansible's `serial` and the
//!   pyinfra halves are.
//! - pyinfra and Ansible (the test venv, `scripts/install-tools.sh`): the wall time of their
//!   processes, start-up included, as someone running them pays it. See [`tools`] for the
//!   settings and how the halves are made. Both receive `site/` as one archive and unpack
//!   it on the target (what their docs advise for a tree of files), as ferry's agent does
//!   with its bundle.
//!
//! Each tool runs `rounds` times per K, interleaved (ferry, pyinfra, Ansible, again); every
//! target directory is emptied before a run and checked after it: all the files with their
//! contents and the three hooks' markers, in order. The markers' times give how many targets
//! were between BeforeInstall and ApplicationStart at once (at most half, for every tool).

mod bundle;
mod tools;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::cluster::Cluster;
use crate::stats::{Row, millis, percentile, print_table};
use bundle::{Bundle, HOOKS, clear, most_at_once};
use tools::{Ansible, Pyinfra, half};

const GROUP: &str = "peers";
const CONFIG: &str = "CodeDeployDefault.HalfAtATime";
/// The goals, at K = [`GOAL_TARGETS`]: ferry this many times faster.
const GOAL_PYINFRA: f64 = 10.0;
const GOAL_ANSIBLE: f64 = 50.0;
const GOAL_TARGETS: usize = 50;

/// The times of one tool at one K.
#[derive(Default)]
struct Samples {
    times: Vec<Duration>,
    /// The most targets between BeforeInstall and ApplicationStart at once, per run.
    at_once: Vec<usize>,
}

impl Samples {
    fn add(&mut self, time: Duration, bundle: &Bundle, targets: &[PathBuf]) -> anyhow::Result<()> {
        let spans = targets
            .iter()
            .map(|target| bundle.verify(target))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.times.push(time);
        self.at_once.push(most_at_once(&spans));
        Ok(())
    }

    fn median(&self) -> Duration {
        percentile(&self.times, 50.0)
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "samples_ms": self.times.iter().map(|t| millis(*t)).collect::<Vec<_>>(),
            "median_ms": millis(self.median()),
            "most_targets_at_once": self.at_once,
        })
    }
}

pub async fn run(quick: bool) -> anyhow::Result<serde_json::Value> {
    let venv = tools::venv()?;
    let pyinfra_version = tools::version(&venv, "pyinfra").await?;
    let ansible_version = tools::version(&venv, "ansible-playbook").await?;
    let (sizes, rounds): (&[usize], usize) = if quick { (&[4], 1) } else { (&[10, 50], 3) };
    let work = tempfile::Builder::new()
        .prefix("ferry-bench-peers-")
        .tempdir()
        .context("cannot create the temporary directory")?;
    let bundle = Bundle::write(&work.path().join("bundle"))?;

    let mut results = Vec::new();
    for &targets in sizes {
        let dir = work.path().join(format!("k{targets}"));
        let pyinfra = Pyinfra::set_up(&venv, &dir.join("pyinfra"), &bundle, targets)?;
        let ansible = Ansible::set_up(&venv, &dir.join("ansible"), &bundle, targets)?;
        let setup = Instant::now();
        let mut cluster = Cluster::start().await?;
        let measured = async {
            cluster.group_with_config(GROUP, CONFIG).await?;
            cluster.agents(GROUP, targets).await?;
            let setup = setup.elapsed();
            let roots: Vec<PathBuf> = (1..=targets)
                .map(|i| cluster.install_root(&format!("{GROUP}-{i}")))
                .collect();
            let files = bundle.files();
            let files: Vec<(&str, &str, u32)> = files
                .iter()
                .map(|(p, c, m)| (p.as_str(), c.as_str(), *m))
                .collect();
            let (mut ferry, mut py, mut ans) = Default::default();
            for round in 1..=rounds {
                eprintln!("peers: K = {targets}, round {round}/{rounds}");
                roots.iter().try_for_each(|root| clear(root))?;
                let started = Instant::now();
                let revision = cluster.upload(&files).await?;
                cluster
                    .deploy_expecting(GROUP, &revision, targets, &HOOKS)
                    .await?;
                Samples::add(&mut ferry, started.elapsed(), &bundle, &roots).context("ferry")?;

                pyinfra.targets().iter().try_for_each(|t| clear(t))?;
                let time = pyinfra.deploy().await?;
                Samples::add(&mut py, time, &bundle, pyinfra.targets()).context("pyinfra")?;

                ansible.targets().iter().try_for_each(|t| clear(t))?;
                let time = ansible.deploy().await?;
                Samples::add(&mut ans, time, &bundle, ansible.targets()).context("ansible")?;
            }
            anyhow::Ok((setup, ferry, py, ans))
        }
        .await;
        cluster.stop().await;
        let (setup, ferry, py, ans): (Duration, Samples, Samples, Samples) =
            measured.with_context(|| format!("K = {targets}"))?;
        results.push(report(
            targets,
            rounds,
            bundle.site_files(),
            setup,
            &ferry,
            &py,
            &ans,
        ));
    }
    Ok(json!({
        "rounds": rounds,
        "site_files": bundle.site_files(),
        "hooks": HOOKS,
        "ferry_deployment_config": CONFIG,
        "pyinfra_version": pyinfra_version,
        "ansible_version": ansible_version,
        "goal_targets": GOAL_TARGETS,
        "goal_pyinfra_ratio": GOAL_PYINFRA,
        "goal_ansible_ratio": GOAL_ANSIBLE,
        "by_targets": results,
    }))
}

/// Prints the table of one K and returns its figures.
fn report(
    targets: usize,
    rounds: usize,
    files: usize,
    setup: Duration,
    ferry: &Samples,
    pyinfra: &Samples,
    ansible: &Samples,
) -> serde_json::Value {
    let ratio = |other: &Samples| {
        other.median().as_secs_f64() / ferry.median().as_secs_f64().max(f64::EPSILON)
    };
    let (py_ratio, ans_ratio) = (ratio(pyinfra), ratio(ansible));
    let goals = targets == GOAL_TARGETS;
    let ratio_row = |name: &str, ratio: f64, goal: f64| {
        let value = format!("{ratio:.1}x");
        if goals {
            Row::goal(name, value, &format!(">= {goal}x"), ratio >= goal)
        } else {
            Row::figure(name, value)
        }
    };
    let most = |samples: &Samples| samples.at_once.iter().max().copied().unwrap_or(0);
    print_table(
        &format!(
            "peers: K = {targets} local targets, {} files + {} hooks each, two halves; median of {rounds}",
            files,
            HOOKS.len()
        ),
        &[
            Row::figure(
                "ferry cluster start-up (not counted)",
                format!("{:.1} ms", millis(setup)),
            ),
            Row::figure(
                "ferry (UploadBundle + deployment)",
                format!("{:.1} ms", millis(ferry.median())),
            ),
            Row::figure(
                "pyinfra (one @local process per target)",
                format!("{:.1} ms", millis(pyinfra.median())),
            ),
            Row::figure(
                "ansible-playbook",
                format!("{:.1} ms", millis(ansible.median())),
            ),
            ratio_row("ratio pyinfra/ferry", py_ratio, GOAL_PYINFRA),
            ratio_row("ratio ansible/ferry", ans_ratio, GOAL_ANSIBLE),
            Row::figure(
                "most targets mid-deployment at once: ferry, pyinfra, ansible",
                format!(
                    "{}, {}, {} (half: {})",
                    most(ferry),
                    most(pyinfra),
                    most(ansible),
                    half(targets)
                ),
            ),
        ],
    );
    json!({
        "targets": targets,
        "batch": half(targets),
        "ferry_setup_ms": millis(setup),
        "ferry": ferry.json(),
        "pyinfra": pyinfra.json(),
        "ansible": ansible.json(),
        "ratio_pyinfra_ferry": (py_ratio * 100.0).round() / 100.0,
        "ratio_ansible_ferry": (ans_ratio * 100.0).round() / 100.0,
        "goal_pyinfra_met": goals.then_some(py_ratio >= GOAL_PYINFRA),
        "goal_ansible_met": goals.then_some(ans_ratio >= GOAL_ANSIBLE),
    })
}
