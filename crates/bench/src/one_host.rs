//! Scenario 1, `one-host`: one real agent, a revision whose every hook is an empty script,
//! deployed sequentially to that host; deployment time from CreateDeployment to Succeeded.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::cluster::{Cluster, HOOK_EVENTS, hooks_bundle};
use crate::stats::{Row, millis, percentile, print_table};

const GROUP: &str = "one-host";
const GOAL_P50: Duration = Duration::from_millis(300);

pub async fn run(quick: bool) -> anyhow::Result<serde_json::Value> {
    let deployments = if quick { 5 } else { 20 };
    let setup = Instant::now();
    let mut cluster = Cluster::start().await?;
    cluster.group(GROUP).await?;
    cluster.agents(GROUP, 1).await?;
    let files = hooks_bundle("#!/bin/sh\nexit 0\n");
    let refs: Vec<(&str, &str, u32)> = files.iter().map(|(p, c, m)| (*p, c.as_str(), *m)).collect();
    let revision = cluster.upload(&refs).await?;
    let setup = setup.elapsed();

    // The first deployment also downloads and unpacks the bundle for the first time and
    // opens the connections: reported apart, not in the percentiles.
    let first = cluster.deploy(GROUP, &revision, 1).await;
    let mut times = Vec::new();
    let result = match first {
        Ok(first) => {
            let mut result = Ok(first);
            for _ in 0..deployments {
                match cluster.deploy(GROUP, &revision, 1).await {
                    Ok(time) => times.push(time),
                    Err(error) => {
                        result = Err(error);
                        break;
                    }
                }
            }
            result
        }
        Err(error) => Err(error),
    };
    cluster.stop().await;
    let first = result?;

    let (p50, p99) = (percentile(&times, 50.0), percentile(&times, 99.0));
    let max = times.iter().max().copied().unwrap_or_default();
    let met = p50 <= GOAL_P50;
    print_table(
        &format!(
            "one-host: {deployments} sequential deployments to 1 agent, {} hooks each (exit 0), AllAtOnce",
            HOOK_EVENTS.len()
        ),
        &[
            Row::figure("cluster start-up", format!("{:.1} ms", millis(setup))),
            Row::figure("first deployment", format!("{:.1} ms", millis(first))),
            Row::goal(
                "deployment p50",
                format!("{:.1} ms", millis(p50)),
                "<= 300 ms",
                met,
            ),
            Row::figure("deployment p99", format!("{:.1} ms", millis(p99))),
            Row::figure("deployment max", format!("{:.1} ms", millis(max))),
        ],
    );
    Ok(json!({
        "deployments": deployments,
        "hooks_per_deployment": HOOK_EVENTS.len(),
        "setup_ms": millis(setup),
        "first_ms": millis(first),
        "samples_ms": times.iter().map(|t| millis(*t)).collect::<Vec<_>>(),
        "p50_ms": millis(p50),
        "p99_ms": millis(p99),
        "max_ms": millis(max),
        "goal_p50_ms": millis(GOAL_P50),
        "goal_met": met,
    }))
}
