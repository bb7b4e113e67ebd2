//! Scenario 4, `fan-out`: N real agents deploy one S3 revision of a large random bundle at
//! once (AllAtOnce). S3 is a moto server behind a counting TCP relay, so the bytes ferry read
//! from the origin are counted on the wire; the goal is that they amount to one read of the
//! bundle, however many agents download it. The deployment, and its DownloadBundle phase (the
//! first target's start to the last one's end), are timed against a loopback copy of the same
//! file to N concurrent clients, each hashing (sha256) what it receives and writing it to a
//! file of its own, synced, as an agent does with a bundle; and against the same copy followed
//! by the agent's unpacking (ferry-bundle), which DownloadBundle also does. The bench
//! process's CPU time, storage writes and peak RSS are reported alongside.

mod baseline;
mod bundle;
mod moto;
mod relay;
mod usage;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ferry_proto::common::v1::{BundleType, RevisionLocation, RevisionLocationType, S3Location};
use ferry_proto::deploy::v1::{BatchGetDeploymentTargetsRequest, ListDeploymentsRequest};
use ferry_revisions::fetch::{FetchConfig, S3Config};
use serde_json::json;

use self::baseline::loopback_copy;
use self::bundle::write_bundle;
use self::moto::Moto;
use self::relay::Relay;
use self::usage::{Spent, Usage};
use crate::cluster::{APP, Cluster, ClusterOptions};
use crate::stats::{Row, millis, percentile, print_table};
use crate::system::{self, Process};

const GROUP: &str = "fan-out";
const BUCKET: &str = "ferry-bench";
const KEY: &str = "fan-out/bundle.tar";
const PAYLOAD: &str = "payload/random.bin";
const MIB: u64 = 1 << 20;
/// What a read or write of the relay and the loopback copy moves at most.
const BUFFER: usize = 256 * 1024;
/// How long moto may take to answer after it is started (Python is slow to start).
const MOTO_START: Duration = Duration::from_secs(60);
/// BatchGetDeploymentTargets takes at most this many ids.
const BATCH: usize = 25;
/// How long the deployment may go without an event: 100 agents writing 128 MiB each (twice:
/// the bundle, then its unpacked payload) take minutes on a slow disk.
const DEPLOY_WAIT: Duration = Duration::from_secs(600);
/// How many times each loopback copy runs (the fastest is kept).
const BASELINE_ROUNDS: usize = 2;

pub async fn run(quick: bool) -> anyhow::Result<serde_json::Value> {
    let (agents, payload_mib) = if quick { (10, 16) } else { (100, 128) };
    // Other work on the machine skews every figure: the load is reported with them.
    let load_before = system::load_average();
    let moto = Moto::start().await?;
    let work = tempfile::Builder::new()
        .prefix("ferry-bench-fan-out-")
        .tempdir()
        .context("cannot create the temporary directory")?;
    let bundle_path = work.path().join("bundle.tar");
    let bundle = {
        let path = bundle_path.clone();
        tokio::task::spawn_blocking(move || write_bundle(&path, payload_mib * MIB)).await??
    };

    moto.put(BUCKET, KEY, &bundle_path, bundle.size).await?;
    // Only ferry goes through the relay: the upload above is not counted.
    let relay = Relay::start(moto.address).await?;
    let fetch = FetchConfig {
        s3: S3Config {
            endpoint: Some(format!("http://{}", relay.address)),
            path_style: true,
            allow_http: true,
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
            ..S3Config::default()
        },
        ..FetchConfig::default()
    };
    let setup = Instant::now();
    let mut cluster = Cluster::start_with(ClusterOptions { fetch }).await?;
    let measured = deploy(&mut cluster, agents, &relay, setup).await;
    let fetches_started = cluster.origin_reads();
    cluster.stop().await;
    let peak_rss = system::status_kib(Process::Current, "VmHWM:").map(|kib| kib * 1024);
    drop(relay);
    drop(moto);
    let measured = measured?;

    // The loopback copies, after the cluster is gone so they do not share the cores with it:
    // as the issue says (copy + sha256, here into a synced file as an agent writes its
    // bundle), and also unpacking each copy as an agent's DownloadBundle does. Each is run
    // BASELINE_ROUNDS times, alternating, and the fastest kept.
    let (mut copy, mut copy_unpack): (Option<Timed>, Option<Timed>) = (None, None);
    let mut samples = (Vec::new(), Vec::new());
    for _ in 0..BASELINE_ROUNDS {
        for unpack in [false, true] {
            settle().await?;
            let before = Usage::now();
            let time =
                loopback_copy(&bundle_path, agents, work.path(), &bundle.sha256, unpack).await?;
            let spent = before.since();
            let (best, samples) = if unpack {
                (&mut copy_unpack, &mut samples.1)
            } else {
                (&mut copy, &mut samples.0)
            };
            samples.push(millis(time));
            if best.as_ref().is_none_or(|(fastest, _)| time < *fastest) {
                *best = Some((time, spent));
            }
        }
    }
    let ((copy, copy_usage), (copy_unpack, copy_unpack_usage)) = (
        copy.context("no loopback copy ran")?,
        copy_unpack.context("no loopback copy ran")?,
    );
    drop(work);
    let load_after = system::load_average();

    let size = bundle.size;
    let origin_reads = measured.origin_bytes as f64 / size as f64;
    let met = origin_reads.round() == 1.0;
    let moved = (size * agents as u64) as f64;
    let mib_per_s = |time: Duration| moved / MIB as f64 / time.as_secs_f64().max(f64::EPSILON);
    let timed = |time: Duration| format!("{:.1} ms ({:.0} MiB/s)", millis(time), mib_per_s(time));
    let download_p50 = percentile(&measured.downloads, 50.0);
    let download_max = percentile(&measured.downloads, 100.0);
    let ratios = [
        ("phase_to_copy", measured.download_phase, copy),
        ("phase_to_copy_unpack", measured.download_phase, copy_unpack),
        ("deployment_to_copy", measured.total, copy),
        ("deployment_to_copy_unpack", measured.total, copy_unpack),
    ]
    .map(|(name, time, baseline)| (name, ratio(time, baseline)));
    let mut rows = vec![
        Row::figure(
            "cluster start-up + agents",
            format!("{:.1} ms", millis(measured.setup)),
        ),
        Row::figure("bundle size", format!("{size} B")),
        Row::figure(
            "bytes read from the origin",
            format!("{} B", measured.origin_bytes),
        ),
        Row::goal(
            "origin reads (bytes / bundle size)",
            format!("{origin_reads:.3}"),
            "= 1",
            met,
        ),
        Row::figure(
            "origin fetches started / relay connections",
            format!("{fetches_started} / {}", measured.relay_connections),
        ),
        Row::figure(
            "origin read (first to last byte)",
            format!("{:.1} ms", millis(measured.origin_span)),
        ),
        Row::figure(
            "deployment wall time",
            format!("{:.1} ms", millis(measured.total)),
        ),
        Row::figure(
            "DownloadBundle phase (first start to last end)",
            timed(measured.download_phase),
        ),
        Row::figure(
            "DownloadBundle per target p50 / max",
            format!(
                "{:.1} / {:.1} ms",
                millis(download_p50),
                millis(download_max)
            ),
        ),
        Row::figure(
            &format!("loopback copy + sha256 + synced file x {agents} (best of {BASELINE_ROUNDS})"),
            timed(copy),
        ),
        Row::figure(
            &format!("  ... + unpack (ferry-bundle) x {agents} (best of {BASELINE_ROUNDS})"),
            timed(copy_unpack),
        ),
    ];
    for (name, value) in ratios {
        rows.push(Row::figure(
            &format!("ratio {}", name.replace('_', " ")),
            format!("{value:.1}x"),
        ));
    }
    rows.push(Row::figure(
        "machine load average (1 min) before / after",
        format!(
            "{} / {}",
            load_before.map_or_else(|| "?".into(), |l| format!("{l:.1}")),
            load_after.map_or_else(|| "?".into(), |l| format!("{l:.1}"))
        ),
    ));
    rows.push(Row::figure(
        "peak RSS of ferry-bench (VmHWM)",
        peak_rss.map_or_else(|| "unknown".into(), |b| format!("{} MiB", b / MIB)),
    ));
    print_table(
        &format!(
            "fan-out: {agents} agents download one {payload_mib} MiB S3 bundle (moto behind a counting relay), AllAtOnce"
        ),
        &rows,
    );
    let spent: Vec<Row> = [
        ("deployment", &measured.usage),
        ("loopback copy", &copy_usage),
        ("loopback copy + unpack", &copy_unpack_usage),
    ]
    .into_iter()
    .map(|(name, spent)| Row::figure(name, spent.describe()))
    .collect();
    print_table(
        "fan-out: CPU time and storage writes of ferry-bench (cluster, agents, copies; not moto)",
        &spent,
    );
    let ratios: serde_json::Map<String, serde_json::Value> = ratios
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!((value * 100.0).round() / 100.0)))
        .collect();
    Ok(json!({
        "agents": agents,
        "payload_mib": payload_mib,
        "bundle_bytes": size,
        "bundle_sha256": bundle.sha256,
        "setup_ms": millis(measured.setup),
        "origin_bytes": measured.origin_bytes,
        "origin_reads": (origin_reads * 1000.0).round() / 1000.0,
        "origin_fetches_started": fetches_started,
        "relay_connections": measured.relay_connections,
        "origin_read_ms": millis(measured.origin_span),
        "deployment_ms": millis(measured.total),
        "download_phase_ms": millis(measured.download_phase),
        "download_per_target_p50_ms": millis(download_p50),
        "download_per_target_max_ms": millis(download_max),
        "download_per_target_ms": measured.downloads.iter().map(|t| millis(*t)).collect::<Vec<_>>(),
        "loopback_copy_ms": millis(copy),
        "loopback_copy_unpack_ms": millis(copy_unpack),
        "loopback_copy_samples_ms": samples.0,
        "loopback_copy_unpack_samples_ms": samples.1,
        "loopback_copy": "a tokio listener streams the bundle file to each client over loopback TCP; each client hashes it (sha256) and writes it to a file of its own, synced; the _unpack variant then unpacks that file with ferry-bundle, as DownloadBundle does; dirty pages are written back (sync) before the deployment and before each copy",
        "ratios": ratios,
        "spent": {
            "deployment": measured.usage.json(),
            "loopback_copy": copy_usage.json(),
            "loopback_copy_unpack": copy_unpack_usage.json(),
        },
        "cores": std::thread::available_parallelism().map_or(1, usize::from),
        "peak_rss_bytes": peak_rss,
        "load_average_1m_before": load_before,
        "load_average_1m_after": load_after,
        "goal": "origin reads = 1",
        "goal_met": met,
    }))
}

/// A wall time and what was spent during it.
type Timed = (Duration, Spent);

/// What one deployment of the bundle measured.
struct Measured {
    setup: Duration,
    total: Duration,
    download_phase: Duration,
    downloads: Vec<Duration>,
    origin_bytes: u64,
    origin_span: Duration,
    relay_connections: u64,
    usage: Spent,
}

/// Starts `agents` agents, deploys the S3 revision to them and reads the targets' DownloadBundle
/// events; `setup` is when the cluster began to start.
async fn deploy(
    cluster: &mut Cluster,
    agents: usize,
    relay: &Relay,
    setup: Instant,
) -> anyhow::Result<Measured> {
    cluster.set_deploy_wait(DEPLOY_WAIT);
    cluster.group(GROUP).await?;
    cluster.agents(GROUP, agents).await?;
    let setup = setup.elapsed();
    let revision = RevisionLocation {
        revision_type: RevisionLocationType::S3 as i32,
        s3_location: Some(S3Location {
            bucket: BUCKET.into(),
            key: KEY.into(),
            bundle_type: BundleType::Tar as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    settle().await?;
    let usage = Usage::now();
    let before = relay.counters.bytes.load(Ordering::Relaxed);
    // The AppSpec has no hooks: no hook event is expected to run a script.
    let total = cluster
        .deploy_expecting(GROUP, &revision, agents, &[])
        .await?;
    let usage = usage.since();
    let origin_bytes = relay.counters.bytes.load(Ordering::Relaxed) - before;
    let origin_span = relay.counters.span();

    let mut client = cluster.deployments();
    let id = client
        .list_deployments(ListDeploymentsRequest {
            application_name: APP.into(),
            deployment_group_name: GROUP.into(),
            ..Default::default()
        })
        .await
        .context("ListDeployments")?
        .into_inner()
        .deployments
        .into_iter()
        .next()
        .context("ListDeployments returned no deployment")?;
    let names: Vec<String> = (1..=agents).map(|i| format!("{GROUP}-{i}")).collect();
    let (mut first_start, mut last_end) = (i128::MAX, i128::MIN);
    let mut downloads = Vec::new();
    for chunk in names.chunks(BATCH) {
        let targets = client
            .batch_get_deployment_targets(BatchGetDeploymentTargetsRequest {
                deployment_id: id.clone(),
                target_ids: chunk.to_vec(),
            })
            .await
            .context("BatchGetDeploymentTargets")?
            .into_inner()
            .deployment_targets;
        for target in targets {
            let target = target
                .instance_target
                .context("a deployment target that is not an instance")?;
            let event = target
                .lifecycle_events
                .iter()
                .find(|e| e.lifecycle_event_name == "DownloadBundle")
                .with_context(|| format!("{} has no DownloadBundle event", target.target_id))?;
            let (Some(start), Some(end)) = (&event.start_time, &event.end_time) else {
                anyhow::bail!(
                    "the DownloadBundle of {} has no start or end",
                    target.target_id
                );
            };
            let (start, end) = (
                i128::from(start.seconds) * 1_000_000_000 + i128::from(start.nanos),
                i128::from(end.seconds) * 1_000_000_000 + i128::from(end.nanos),
            );
            first_start = first_start.min(start);
            last_end = last_end.max(end);
            downloads.push(nanos(end - start));
        }
    }
    anyhow::ensure!(
        downloads.len() == agents,
        "{} of {agents} targets were read",
        downloads.len()
    );
    Ok(Measured {
        setup,
        total,
        download_phase: nanos(last_end - first_start),
        downloads,
        origin_bytes,
        origin_span,
        relay_connections: relay.counters.connections.load(Ordering::Relaxed),
        usage,
    })
}

/// Writes back every dirty page (`sync`), so a timed phase does not pay for the writes of
/// the one before it.
async fn settle() -> anyhow::Result<()> {
    let status = tokio::process::Command::new("sync")
        .status()
        .await
        .context("cannot run sync")?;
    anyhow::ensure!(status.success(), "sync exited with {status}");
    Ok(())
}

fn nanos(nanos: i128) -> Duration {
    Duration::from_nanos(u64::try_from(nanos.max(0)).unwrap_or(u64::MAX))
}

fn ratio(time: Duration, baseline: Duration) -> f64 {
    time.as_secs_f64() / baseline.as_secs_f64().max(f64::EPSILON)
}
