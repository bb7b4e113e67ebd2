//! Deployment triggers as webhooks, against a real HTTP server on both back ends: the
//! CodeDeploy message bodies, which triggers get which events, delivery in order per
//! deployment and trigger, retries with backoff, and a dead webhook that fails on its own
//! without holding back anyone else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ferry_orchestrator::store::{self, Pools};
use ferry_orchestrator::triggers::{
    self, Deliveries, DeliverySettings, DeploymentNotice, Identity, InstanceNotice,
    LifecycleNotice, Notice, Overview,
};
use ferry_proto::registry::v1::{TriggerConfig, TriggerEventType};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------------
// A webhook receiver.

/// One request a hook received.
#[derive(Clone, Debug)]
struct Received {
    hook: String,
    event: String,
    delivery: String,
    content_type: String,
    body: Value,
    /// The status it was answered with (`None`: never answered).
    answered: Option<u16>,
}

#[derive(Default)]
struct HookState {
    received: Vec<Received>,
    /// Hook → how many more requests to answer 500.
    failures: HashMap<String, u32>,
}

/// An HTTP server on 127.0.0.1 taking POSTs at `/hooks/{name}`: it records each request and
/// answers 200, or 500 while the hook has scripted failures left. The hook `silent` never
/// answers.
struct Hooks {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<HookState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hooks {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(HookState::default()));
        let router = Router::new()
            .route("/hooks/{name}", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { addr, state, task }
    }

    fn url(&self, hook: &str) -> String {
        format!("http://{}/hooks/{hook}", self.addr)
    }

    fn fail_next(&self, hook: &str, times: u32) {
        self.state
            .lock()
            .unwrap()
            .failures
            .insert(hook.to_owned(), times);
    }

    /// What `hook` received, in arrival order.
    fn received(&self, hook: &str) -> Vec<Received> {
        let state = self.state.lock().unwrap();
        state
            .received
            .iter()
            .filter(|r| r.hook == hook)
            .cloned()
            .collect()
    }

    /// What `hook` received and answered 2xx.
    fn accepted(&self, hook: &str) -> Vec<Received> {
        self.received(hook)
            .into_iter()
            .filter(|r| r.answered == Some(200))
            .collect()
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<Arc<Mutex<HookState>>>,
    Path(hook): Path<String>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let status = {
        let mut state = state.lock().unwrap();
        let status = match state.failures.get_mut(&hook) {
            _ if hook == "silent" => None,
            Some(left) if *left > 0 => {
                *left -= 1;
                Some(StatusCode::INTERNAL_SERVER_ERROR)
            }
            _ => Some(StatusCode::OK),
        };
        state.received.push(Received {
            hook: hook.clone(),
            event: header("x-ferry-event"),
            delivery: header("x-ferry-delivery"),
            content_type: header("content-type"),
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
            answered: status.map(|s| s.as_u16()),
        });
        status
    };
    match status {
        Some(status) => status,
        None => std::future::pending().await,
    }
}

/// A URL nothing listens on.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/hooks/refused")
}

// ---------------------------------------------------------------------------------------------
// The orchestrator's side.

fn identity() -> Identity {
    Identity {
        region: "eu-local-1".into(),
        account_id: "123456789012".into(),
    }
}

fn trigger(name: &str, url: &str, events: &[TriggerEventType]) -> TriggerConfig {
    TriggerConfig {
        trigger_name: name.into(),
        trigger_target_arn: url.into(),
        trigger_events: events.iter().map(|&e| e as i32).collect(),
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn deployment(deployment_id: &str, status: &str) -> Notice {
    Notice::Deployment(DeploymentNotice {
        application_name: "shop".into(),
        deployment_group_name: "production".into(),
        deployment_id: deployment_id.into(),
        create_time: at(1_665_676_245),
        complete_time: None,
        status: status.into(),
        overview: Overview {
            pending: 2,
            ..Default::default()
        },
        error: None,
    })
}

fn instance(deployment_id: &str, status: &str) -> Notice {
    Notice::Instance(InstanceNotice {
        application_name: "shop".into(),
        deployment_group_name: "production".into(),
        deployment_id: deployment_id.into(),
        instance_id: "arn:aws:codedeploy:eu-local-1:123456789012:instance/web-1".into(),
        status: status.into(),
        last_updated_at: at(1_665_676_300),
        lifecycle_events: Vec::new(),
    })
}

/// Enqueues in a write transaction of its own, as the orchestrator does with its state
/// change; returns how many deliveries were stored.
async fn enqueue(
    pools: &Pools,
    triggers: &[TriggerConfig],
    event: TriggerEventType,
    notice: &Notice,
) -> usize {
    let tx = store::begin_write(&pools.write).await.unwrap();
    let count = triggers::enqueue(&tx, &identity(), triggers, event, notice)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    count
}

/// A running delivery worker.
struct Worker {
    deliveries: Deliveries,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    fn start(pools: &Pools, settings: DeliverySettings) -> Self {
        let deliveries = Deliveries::new(pools.clone(), settings);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(deliveries.clone().run(shutdown.clone()));
        Self {
            deliveries,
            shutdown,
            task,
        }
    }

    /// Stops it, and checks that it does stop promptly, even with requests under way.
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("run ends soon after shutdown")
            .unwrap();
    }
}

/// Quick retries, for tests.
fn fast() -> DeliverySettings {
    DeliverySettings {
        request_timeout: Duration::from_secs(5),
        first_retry: Duration::from_millis(10),
        max_retry: Duration::from_millis(40),
        max_attempts: 5,
        concurrency: 4,
    }
}

/// Polls `check` until it holds; fails the test after 30 seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn states(pools: &Pools, deployment_id: &str) -> Vec<(String, String, String, i32)> {
    triggers::deliveries_of(pools, deployment_id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.trigger_name, d.event_type, d.state, d.attempts))
        .collect()
}

async fn all_settled(pools: &Pools, deployment_id: &str) -> bool {
    triggers::deliveries_of(pools, deployment_id)
        .await
        .unwrap()
        .iter()
        .all(|d| d.state != triggers::PENDING)
}

/// A field that CodeDeploy sends as a JSON document inside a string.
fn nested(body: &Value, field: &str) -> Value {
    let text = body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string: {body}"));
    serde_json::from_str(text).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The scenarios, each run on SQLite and on PostgreSQL.

async fn payload_fields(url: &str) {
    let pools = store::connect(url).await.unwrap();
    let hooks = Hooks::start().await;
    let worker = Worker::start(&pools, fast());
    let triggers = [
        trigger(
            "deploy-failed",
            &hooks.url("deploys"),
            &[TriggerEventType::DeploymentFailure],
        ),
        trigger(
            "instance-failed",
            &hooks.url("instances"),
            &[TriggerEventType::InstanceFailure],
        ),
    ];
    let failed = Notice::Deployment(DeploymentNotice {
        application_name: "shop".into(),
        deployment_group_name: "production".into(),
        deployment_id: "d-PAYLOAD01".into(),
        create_time: at(1_665_676_245),
        complete_time: Some(at(1_665_676_777)),
        status: "Failed".into(),
        overview: Overview {
            pending: 0,
            in_progress: 0,
            succeeded: 2,
            failed: 1,
            skipped: 1,
        },
        error: Some((
            "HEALTH_CONSTRAINTS".into(),
            "The overall deployment failed because too many individual instances failed \
             deployment."
                .into(),
        )),
    });
    let instance_failed = Notice::Instance(InstanceNotice {
        application_name: "shop".into(),
        deployment_group_name: "production".into(),
        deployment_id: "d-PAYLOAD01".into(),
        instance_id: "arn:aws:codedeploy:eu-local-1:123456789012:instance/web-1".into(),
        status: "Failed".into(),
        last_updated_at: at(1_665_676_700),
        lifecycle_events: vec![
            LifecycleNotice {
                name: "ApplicationStop".into(),
                status: "Succeeded".into(),
                start_time: Some(at(1_665_676_250)),
                end_time: Some(at(1_665_676_251)),
            },
            LifecycleNotice {
                name: "BeforeInstall".into(),
                status: "Failed".into(),
                start_time: Some(at(1_665_676_260)),
                end_time: Some(at(1_665_676_700)),
            },
            LifecycleNotice {
                name: "AfterInstall".into(),
                status: "Skipped".into(),
                start_time: None,
                end_time: None,
            },
        ],
    });
    assert_eq!(
        enqueue(
            &pools,
            &triggers,
            TriggerEventType::InstanceFailure,
            &instance_failed
        )
        .await,
        1
    );
    assert_eq!(
        enqueue(
            &pools,
            &triggers,
            TriggerEventType::DeploymentFailure,
            &failed
        )
        .await,
        1
    );
    worker.deliveries.wake();
    eventually("both notifications", || async {
        hooks.accepted("deploys").len() == 1 && hooks.accepted("instances").len() == 1
    })
    .await;
    eventually("both recorded as delivered", || {
        all_settled(&pools, "d-PAYLOAD01")
    })
    .await;
    let rows = triggers::deliveries_of(&pools, "d-PAYLOAD01")
        .await
        .unwrap();

    let deploy = &hooks.accepted("deploys")[0];
    assert_eq!(deploy.content_type, "application/json");
    assert_eq!(deploy.event, "DeploymentFailure");
    assert_eq!(deploy.delivery, rows[1].id);
    let body = &deploy.body;
    assert_eq!(body["region"], "eu-local-1");
    assert_eq!(body["accountId"], "123456789012");
    assert_eq!(body["eventTriggerName"], "deploy-failed");
    assert_eq!(body["applicationName"], "shop");
    assert_eq!(body["deploymentGroupName"], "production");
    assert_eq!(body["deploymentId"], "d-PAYLOAD01");
    assert_eq!(body["createTime"], "Thu Oct 13 15:50:45 UTC 2022");
    assert_eq!(body["completeTime"], "Thu Oct 13 15:59:37 UTC 2022");
    assert_eq!(body["status"], "FAILED");
    assert_eq!(
        nested(body, "deploymentOverview"),
        serde_json::json!({
            "Failed": "1", "InProgress": "0", "Pending": "0", "Skipped": "1", "Succeeded": "2"
        })
    );
    let error = nested(body, "errorInformation");
    assert_eq!(error["ErrorCode"], "HEALTH_CONSTRAINTS");
    assert!(
        error["ErrorMessage"]
            .as_str()
            .unwrap()
            .starts_with("The overall deployment failed")
    );

    let inst = &hooks.accepted("instances")[0];
    assert_eq!(inst.event, "InstanceFailure");
    assert_eq!(inst.delivery, rows[0].id);
    let body = &inst.body;
    assert_eq!(body["eventTriggerName"], "instance-failed");
    assert_eq!(body["deploymentId"], "d-PAYLOAD01");
    assert_eq!(
        body["instanceId"],
        "arn:aws:codedeploy:eu-local-1:123456789012:instance/web-1"
    );
    assert_eq!(body["instanceStatus"], "Failed");
    assert_eq!(body["lastUpdatedAt"], "Thu Oct 13 15:58:20 UTC 2022");
    assert!(body.get("status").is_none() && body.get("deploymentOverview").is_none());
    let events = nested(body, "lifecycleEvents");
    assert_eq!(
        events[1],
        serde_json::json!({
            "LifecycleEvent": "BeforeInstall",
            "LifecycleEventStatus": "Failed",
            "StartTime": "Thu Oct 13 15:51:00 UTC 2022",
            "EndTime": "Thu Oct 13 15:58:20 UTC 2022",
        })
    );
    assert_eq!(events.as_array().unwrap().len(), 3);
    assert!(events[2]["StartTime"].is_null());

    // The rows keep what was sent and how it went.
    assert_eq!(rows[1].event_type, "DeploymentFailure");
    assert_eq!(rows[1].target_url, hooks.url("deploys"));
    assert_eq!(
        serde_json::from_str::<Value>(&rows[1].payload).unwrap(),
        deploy.body
    );
    assert_eq!((rows[1].state.as_str(), rows[1].attempts), ("delivered", 1));
    assert_eq!(rows[1].last_error, None);
    worker.stop().await;
}

async fn only_listed_events(url: &str) {
    let pools = store::connect(url).await.unwrap();
    let hooks = Hooks::start().await;
    let worker = Worker::start(&pools, fast());
    use TriggerEventType as E;
    let triggers = [
        trigger("starts", &hooks.url("starts"), &[E::DeploymentStart]),
        trigger(
            "instances",
            &hooks.url("instances"),
            &[E::InstanceStart, E::InstanceSuccess],
        ),
        trigger(
            "outcomes",
            &hooks.url("outcomes"),
            &[
                E::DeploymentSuccess,
                E::DeploymentFailure,
                E::InstanceFailure,
            ],
        ),
    ];
    let d = "d-FILTER01";
    let sent = [
        (E::DeploymentStart, deployment(d, "Created"), 1),
        (E::InstanceStart, instance(d, "InProgress"), 1),
        (E::InstanceFailure, instance(d, "Failed"), 1),
        (E::InstanceSuccess, instance(d, "Succeeded"), 1),
        (E::InstanceReady, instance(d, "Ready"), 0),
        (E::DeploymentStop, deployment(d, "Stopped"), 0),
        (E::DeploymentSuccess, deployment(d, "Succeeded"), 1),
    ];
    for (event, notice, expected) in &sent {
        assert_eq!(
            enqueue(&pools, &triggers, *event, notice).await,
            *expected,
            "{event:?}"
        );
        worker.deliveries.wake();
    }
    assert_eq!(
        enqueue(&pools, &[], E::DeploymentStart, &deployment(d, "Created")).await,
        0
    );
    eventually("every delivery settled", || all_settled(&pools, d)).await;
    let events =
        |hook: &str| -> Vec<String> { hooks.accepted(hook).into_iter().map(|r| r.event).collect() };
    assert_eq!(events("starts"), ["DeploymentStart"]);
    assert_eq!(events("instances"), ["InstanceStart", "InstanceSuccess"]);
    assert_eq!(events("outcomes"), ["InstanceFailure", "DeploymentSuccess"]);
    assert_eq!(states(&pools, d).await.len(), 5);
    worker.stop().await;
}

async fn in_order_per_trigger(url: &str) {
    let pools = store::connect(url).await.unwrap();
    let hooks = Hooks::start().await;
    use TriggerEventType as E;
    let triggers = [trigger(
        "everything",
        &hooks.url("ordered"),
        &[
            E::DeploymentStart,
            E::DeploymentSuccess,
            E::InstanceStart,
            E::InstanceSuccess,
        ],
    )];
    let d = "d-ORDER01";
    let sent = [
        (E::DeploymentStart, deployment(d, "Created")),
        (E::InstanceStart, instance(d, "InProgress")),
        (E::InstanceSuccess, instance(d, "Succeeded")),
        (E::DeploymentSuccess, deployment(d, "Succeeded")),
    ];
    // Stored before any worker runs (as after a restart), and the first answer is a 500:
    // the later notifications wait for its retry.
    for (event, notice) in &sent {
        assert_eq!(enqueue(&pools, &triggers, *event, notice).await, 1);
    }
    hooks.fail_next("ordered", 1);
    let worker = Worker::start(&pools, fast());
    eventually("every delivery settled", || all_settled(&pools, d)).await;

    let ids: Vec<String> = triggers::deliveries_of(&pools, d)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let arrived: Vec<String> = hooks
        .received("ordered")
        .into_iter()
        .map(|r| r.delivery)
        .collect();
    let mut expected = vec![ids[0].clone()];
    expected.extend(ids.iter().cloned());
    assert_eq!(
        arrived, expected,
        "the first, again, then the rest in order"
    );
    let statuses: Vec<String> = hooks
        .accepted("ordered")
        .into_iter()
        .map(|r| {
            let body = r.body;
            body.get("status")
                .or_else(|| body.get("instanceStatus"))
                .and_then(Value::as_str)
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        statuses,
        ["CREATED", "InProgress", "Succeeded", "SUCCEEDED"]
    );
    let attempts: Vec<i32> = states(&pools, d).await.iter().map(|s| s.3).collect();
    assert_eq!(attempts, [2, 1, 1, 1]);
    worker.stop().await;
}

async fn retried_until_delivered(url: &str) {
    let pools = store::connect(url).await.unwrap();
    let hooks = Hooks::start().await;
    let worker = Worker::start(&pools, fast());
    let triggers = [trigger(
        "flaky",
        &hooks.url("flaky"),
        &[TriggerEventType::DeploymentSuccess],
    )];
    hooks.fail_next("flaky", 2);
    let d = "d-RETRY01";
    enqueue(
        &pools,
        &triggers,
        TriggerEventType::DeploymentSuccess,
        &deployment(d, "Succeeded"),
    )
    .await;
    worker.deliveries.wake();
    eventually("the delivery settled", || all_settled(&pools, d)).await;
    let row = &triggers::deliveries_of(&pools, d).await.unwrap()[0];
    assert_eq!(row.state, "delivered");
    assert_eq!(row.attempts, 3);
    assert!(
        row.last_error.as_deref().unwrap().contains("500"),
        "{:?}",
        row.last_error
    );
    let received = hooks.received("flaky");
    let answers: Vec<Option<u16>> = received.iter().map(|r| r.answered).collect();
    assert_eq!(answers, [Some(500), Some(500), Some(200)]);
    assert!(
        received.iter().all(|r| r.delivery == row.id),
        "one id for every attempt"
    );
    worker.stop().await;
}

async fn dead_webhooks_fail_alone(url: &str) {
    let pools = store::connect(url).await.unwrap();
    let hooks = Hooks::start().await;
    let settings = DeliverySettings {
        request_timeout: Duration::from_millis(500),
        first_retry: Duration::from_millis(10),
        max_retry: Duration::from_millis(20),
        max_attempts: 3,
        concurrency: 4,
    };
    let worker = Worker::start(&pools, settings);
    use TriggerEventType as E;
    let events = [E::DeploymentStart, E::DeploymentSuccess];
    let triggers = [
        trigger("silent", &hooks.url("silent"), &events),
        trigger("refused", &refused_url(), &events),
        trigger("live", &hooks.url("live"), &events),
    ];
    let d = "d-DEAD01";
    enqueue(
        &pools,
        &triggers,
        E::DeploymentStart,
        &deployment(d, "Created"),
    )
    .await;
    enqueue(
        &pools,
        &triggers,
        E::DeploymentSuccess,
        &deployment(d, "Succeeded"),
    )
    .await;
    worker.deliveries.wake();

    eventually("the live webhook got both", || async {
        hooks.accepted("live").len() == 2
    })
    .await;
    // A silent webhook needs at least 3 × 500 ms to fail one delivery: the live one did not
    // wait for it.
    let silent_first = triggers::deliveries_of(&pools, d)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.trigger_name == "silent")
        .unwrap();
    assert_eq!(silent_first.state, "pending");

    eventually("every delivery settled", || all_settled(&pools, d)).await;
    let rows = triggers::deliveries_of(&pools, d).await.unwrap();
    for row in &rows {
        let expected = if row.trigger_name == "live" {
            ("delivered", 1)
        } else {
            ("failed", 3)
        };
        assert_eq!(
            (row.state.as_str(), row.attempts),
            expected,
            "{}: {:?}",
            row.trigger_name,
            row.last_error
        );
    }
    let error = |name: &str| {
        rows.iter()
            .find(|r| r.trigger_name == name)
            .and_then(|r| r.last_error.clone())
            .unwrap()
    };
    assert!(
        error("silent").contains("no answer within"),
        "{}",
        error("silent")
    );
    assert!(error("refused").contains("connect"), "{}", error("refused"));
    // The silent hook saw each of its deliveries three times, the first one's before the
    // second one's.
    let seen: Vec<String> = hooks
        .received("silent")
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert_eq!(
        seen,
        [
            "DeploymentStart",
            "DeploymentStart",
            "DeploymentStart",
            "DeploymentSuccess",
            "DeploymentSuccess",
            "DeploymentSuccess"
        ]
    );
    worker.stop().await;
}

macro_rules! on_both_back_ends {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = ferry_orchestrator::store::database_url(None, dir.path()).unwrap();
                super::$scenario(&url).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$scenario(&ferry_store::testing::fresh_postgres().await).await;
            }
        }
    )+};
}

on_both_back_ends!(
    payload_fields,
    only_listed_events,
    in_order_per_trigger,
    retried_until_delivered,
    dead_webhooks_fail_alone,
);
