//! Scenario 3, `true-hooks`: M real agents whose five hooks each exec `/bin/true`, deployed
//! AllAtOnce; the deployment's wall time against spawning the same processes (5 sequential
//! per target, targets concurrent) straight from one tokio process.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::cluster::{Cluster, HOOK_EVENTS, hooks_bundle};
use crate::stats::{Row, millis, percentile, print_table};

const GROUP: &str = "true-hooks";
const GOAL_RATIO: f64 = 2.0;
const TRUE: &str = "/bin/true";

pub async fn run(quick: bool) -> anyhow::Result<serde_json::Value> {
    let (agents, rounds) = if quick { (5, 2) } else { (20, 5) };
    let setup = Instant::now();
    let mut cluster = Cluster::start().await?;
    cluster.group(GROUP).await?;
    cluster.agents(GROUP, agents).await?;
    let files = hooks_bundle(&format!("#!/bin/sh\nexec {TRUE}\n"));
    let refs: Vec<(&str, &str, u32)> = files.iter().map(|(p, c, m)| (*p, c.as_str(), *m)).collect();
    let revision = cluster.upload(&refs).await?;
    let setup = setup.elapsed();

    // A first deployment, not counted: the first download and unpack of the bundle.
    let mut deployments = Vec::new();
    let mut result = cluster.deploy(GROUP, &revision, agents).await.map(|_| ());
    if result.is_ok() {
        for _ in 0..rounds {
            match cluster.deploy(GROUP, &revision, agents).await {
                Ok(time) => deployments.push(time),
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
        }
    }
    cluster.stop().await;
    result?;

    // The raw spawns, after the cluster is gone so they do not share the cores with it.
    let mut raw = Vec::new();
    for _ in 0..rounds {
        raw.push(spawn_true(agents, HOOK_EVENTS.len()).await?);
    }

    let deployment = percentile(&deployments, 50.0);
    let raw_p50 = percentile(&raw, 50.0);
    let ratio = deployment.as_secs_f64() / raw_p50.as_secs_f64().max(f64::EPSILON);
    let met = ratio <= GOAL_RATIO;
    let processes = agents * HOOK_EVENTS.len();
    print_table(
        &format!(
            "true-hooks: {agents} agents x {} hooks exec {TRUE}, AllAtOnce; median of {rounds} rounds",
            HOOK_EVENTS.len()
        ),
        &[
            Row::figure("cluster start-up", format!("{:.1} ms", millis(setup))),
            Row::figure(
                "deployment wall time",
                format!("{:.1} ms", millis(deployment)),
            ),
            Row::figure(
                &format!("raw spawn of {processes} x {TRUE}"),
                format!("{:.1} ms", millis(raw_p50)),
            ),
            Row::goal("ratio deployment/raw", format!("{ratio:.1}x"), "<= 2x", met),
        ],
    );
    Ok(json!({
        "agents": agents,
        "hooks_per_target": HOOK_EVENTS.len(),
        "rounds": rounds,
        "setup_ms": millis(setup),
        "deployment_samples_ms": deployments.iter().map(|t| millis(*t)).collect::<Vec<_>>(),
        "raw_samples_ms": raw.iter().map(|t| millis(*t)).collect::<Vec<_>>(),
        "deployment_p50_ms": millis(deployment),
        "raw_p50_ms": millis(raw_p50),
        "ratio": (ratio * 100.0).round() / 100.0,
        "goal_ratio": GOAL_RATIO,
        "goal_met": met,
    }))
}

/// Spawns `/bin/true` `per_target` times in sequence for each of `targets` concurrent
/// targets; the wall time of the whole.
async fn spawn_true(targets: usize, per_target: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..targets {
        tasks.spawn(async move {
            for _ in 0..per_target {
                let status = tokio::process::Command::new(TRUE).status().await?;
                anyhow::ensure!(status.success(), "{TRUE} exited with {status}");
            }
            Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(started.elapsed())
}
