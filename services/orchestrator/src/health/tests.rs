use std::collections::VecDeque;

use super::MinimumHealthy::{FleetPercent, HostCount, MostConcurrency};
use super::*;

const ONE: MinimumHealthy = MinimumHealthy::ONE_AT_A_TIME;
const HALF: MinimumHealthy = MinimumHealthy::HALF_AT_A_TIME;
const ALL: MinimumHealthy = MinimumHealthy::ALL_AT_ONCE;

fn ok(total: u32, min_healthy: u32, max_in_progress: u32) -> Result<Plan, HealthError> {
    Ok(Plan {
        total,
        min_healthy,
        max_in_progress,
    })
}

fn invalid(total: u32, min_healthy: u32) -> Result<Plan, HealthError> {
    Err(HealthError::Invalid {
        message: HEALTH_CONSTRAINTS_INVALID_MESSAGE.to_owned(),
        total,
        min_healthy,
    })
}

fn must_plan(total: u32, rule: MinimumHealthy) -> Plan {
    match plan(total, rule) {
        Ok(p) => p,
        Err(e) => panic!("plan({total}, {rule:?}) failed: {e}"),
    }
}

const FAILED: Verdict = Verdict::Failed {
    code: HEALTH_CONSTRAINTS,
    message: HEALTH_CONSTRAINTS_MESSAGE,
};

#[test]
fn predefined_configurations() {
    let cases = [
        // OneAtATime: one at a time, all but one healthy.
        (ONE, 1, ok(1, 0, 1)),
        (ONE, 2, ok(2, 1, 1)),
        (ONE, 3, ok(3, 2, 1)),
        (ONE, 5, ok(5, 4, 1)),
        (ONE, 9, ok(9, 8, 1)),
        // HalfAtATime: half (rounded down) at a time, half (rounded up) healthy. Nine
        // instances: four at a time, five must succeed (deployment configurations page). One
        // instance: 50% rounds up to the whole fleet, so nothing can be deployed to.
        (HALF, 1, invalid(1, 1)),
        (HALF, 2, ok(2, 1, 1)),
        (HALF, 3, ok(3, 2, 1)),
        (HALF, 5, ok(5, 3, 2)),
        (HALF, 9, ok(9, 5, 4)),
        // AllAtOnce: everything at once.
        (ALL, 1, ok(1, 0, 1)),
        (ALL, 2, ok(2, 0, 2)),
        (ALL, 3, ok(3, 0, 3)),
        (ALL, 5, ok(5, 0, 5)),
        (ALL, 9, ok(9, 0, 9)),
    ];
    for (rule, total, want) in cases {
        assert_eq!(plan(total, rule), want, "{rule:?} on {total}");
    }
}

#[test]
fn custom_values() {
    let cases = [
        // MinimumHealthyHosts' examples on nine instances.
        (HostCount(6), 9, ok(9, 6, 3)),
        (FleetPercent(40), 9, ok(9, 4, 5)),
        // CodeDeploy instance health's examples on ten instances.
        (HostCount(9), 10, ok(10, 9, 1)),
        (HostCount(8), 10, ok(10, 8, 2)),
        (HostCount(0), 10, ok(10, 0, 10)),
        (FleetPercent(85), 10, ok(10, 9, 1)),
        (FleetPercent(95), 10, invalid(10, 10)),
        // HOST_COUNT at or above the total leaves nothing to deploy to.
        (HostCount(10), 10, invalid(10, 10)),
        (HostCount(11), 10, invalid(10, 11)),
        (HostCount(1), 1, invalid(1, 1)),
        (HostCount(0), 1, ok(1, 0, 1)),
        (HostCount(u32::MAX), 3, invalid(3, u32::MAX)),
        // FLEET_PERCENT rounds up.
        (FleetPercent(0), 7, ok(7, 0, 7)),
        (FleetPercent(1), 1, invalid(1, 1)),
        (FleetPercent(1), 9, ok(9, 1, 8)),
        (FleetPercent(1), 100, ok(100, 1, 99)),
        (FleetPercent(1), 101, ok(101, 2, 99)),
        (FleetPercent(50), 9, ok(9, 5, 4)),
        (FleetPercent(99), 9, invalid(9, 9)),
        (FleetPercent(99), 100, ok(100, 99, 1)),
        (FleetPercent(99), 101, ok(101, 100, 1)),
        (FleetPercent(99), 50, invalid(50, 50)),
        (FleetPercent(99), 200, ok(200, 198, 2)),
        (FleetPercent(100), 5, invalid(5, 5)),
        (FleetPercent(150), 5, invalid(5, 8)),
        (
            FleetPercent(u32::MAX),
            u32::MAX,
            invalid(u32::MAX, u32::MAX),
        ),
        (
            FleetPercent(50),
            u32::MAX,
            ok(u32::MAX, u32::MAX / 2 + 1, u32::MAX / 2),
        ),
        // MOST_CONCURRENCY n: n at a time, the rest healthy.
        (MostConcurrency(2), 5, ok(5, 3, 2)),
        (MostConcurrency(3), 2, ok(2, 0, 2)),
        (MostConcurrency(0), 4, invalid(4, 4)),
    ];
    for (rule, total, want) in cases {
        assert_eq!(plan(total, rule), want, "{rule:?} on {total}");
    }
}

#[test]
fn errors_carry_codedeploy_codes() {
    for rule in [ONE, HALF, ALL, HostCount(3), FleetPercent(10)] {
        assert_eq!(plan(0, rule), Err(HealthError::NoInstances), "{rule:?}");
    }
    assert_eq!(HealthError::NoInstances.code(), "NO_INSTANCES");
    let Err(err) = plan(4, HostCount(4)) else {
        panic!("HOST_COUNT 4 of 4 must be invalid");
    };
    assert_eq!(err.code(), "HEALTH_CONSTRAINTS_INVALID");
    assert_eq!(err.to_string(), HEALTH_CONSTRAINTS_INVALID_MESSAGE);
    assert_eq!(
        FAILED,
        Verdict::Failed {
            code: "HEALTH_CONSTRAINTS",
            message: HEALTH_CONSTRAINTS_MESSAGE,
        }
    );
}

fn tally(succeeded: u32, failed: u32, in_progress: u32, pending: u32) -> Progress {
    Progress {
        succeeded,
        failed,
        in_progress,
        pending,
        skipped: 0,
    }
}

#[test]
fn verdicts() {
    use Verdict::{Running, Succeeded};
    let cases = [
        // OneAtATime on 5: the second target fails → Failed at once (3 still pending).
        (ONE, 5, tally(1, 1, 0, 3), FAILED),
        // … but a failure of the last one still succeeds.
        (ONE, 5, tally(4, 1, 0, 0), Succeeded),
        (ONE, 5, tally(4, 0, 1, 0), Running),
        (ONE, 5, tally(3, 0, 1, 1), Running),
        (ONE, 1, tally(0, 1, 0, 0), FAILED),
        (ONE, 1, tally(1, 0, 0, 0), Succeeded),
        // HalfAtATime on 5 (3 must stay healthy, 2 at a time).
        (HALF, 5, tally(0, 2, 0, 3), FAILED),
        (HALF, 5, tally(0, 1, 1, 3), Running),
        (HALF, 5, tally(3, 2, 0, 0), Succeeded),
        (HALF, 5, tally(3, 1, 1, 0), Running),
        (HALF, 5, tally(2, 3, 0, 0), FAILED),
        (HALF, 5, tally(1, 2, 0, 2), FAILED),
        // AllAtOnce: any one success is enough; all failing is not.
        (ALL, 5, tally(1, 4, 0, 0), Succeeded),
        (ALL, 5, tally(0, 5, 0, 0), FAILED),
        (ALL, 5, tally(0, 4, 1, 0), Running),
        (ALL, 9, tally(1, 8, 0, 0), Succeeded),
        (ALL, 5, Progress::new(5), Running),
        // HOST_COUNT 8 of 10: two failures fail it, unless the second is the last target.
        (HostCount(8), 10, tally(2, 2, 0, 6), FAILED),
        (HostCount(8), 10, tally(7, 1, 1, 1), Running),
        (HostCount(8), 10, tally(8, 2, 0, 0), Succeeded),
        // Fewer left that could succeed than needed, with a target still running.
        (HostCount(3), 5, tally(1, 3, 1, 0), FAILED),
    ];
    for (rule, total, progress, want) in cases {
        let p = must_plan(total, rule);
        assert_eq!(
            p.verdict(&progress),
            want,
            "{rule:?} on {total}: {progress:?}"
        );
    }
}

/// What happened to one simulated deployment.
#[derive(Debug)]
struct Run {
    verdict: Verdict,
    /// The tally at the moment the verdict was reached, before skipping.
    decided: Progress,
    /// The tally once pending targets were skipped and running ones finished.
    end: Progress,
    /// The largest number of targets in progress at once.
    peak: u32,
    /// How many targets were started.
    started: u32,
}

/// Runs a deployment the way the scheduler will: start what `may_start` allows, let the
/// oldest running target finish with `outcomes[i]` (true = succeeded), repeat. Checks the
/// planner's promises at every step.
fn simulate(plan: Plan, outcomes: &[bool]) -> Run {
    assert_eq!(outcomes.len(), plan.total as usize);
    let mut progress = Progress::new(plan.total);
    let mut running = VecDeque::new();
    let mut next = 0usize;
    let mut peak = 0;
    loop {
        let verdict = plan.verdict(&progress);
        if verdict != Verdict::Running {
            let decided = progress;
            assert_eq!(plan.may_start(&progress), 0);
            progress.skipped += progress.pending;
            progress.pending = 0;
            while let Some(i) = running.pop_front() {
                finish(&mut progress, outcomes[i]);
                assert_eq!(
                    plan.verdict(&progress),
                    verdict,
                    "a decided verdict changed"
                );
            }
            return Run {
                verdict,
                decided,
                end: progress,
                peak,
                started: next as u32,
            };
        }
        let n = plan.may_start(&progress);
        assert!(n <= progress.pending);
        for _ in 0..n {
            running.push_back(next);
            next += 1;
        }
        progress.pending -= n;
        progress.in_progress += n;
        peak = peak.max(progress.in_progress);
        assert!(
            progress.in_progress <= plan.max_in_progress,
            "{plan:?} {progress:?}"
        );
        assert!(
            progress.healthy() >= plan.min_healthy,
            "{plan:?} {progress:?}"
        );
        let Some(i) = running.pop_front() else {
            panic!("stalled: Running with nothing in progress: {plan:?} {progress:?}");
        };
        finish(&mut progress, outcomes[i]);
    }
}

fn finish(progress: &mut Progress, succeeded: bool) {
    progress.in_progress -= 1;
    if succeeded {
        progress.succeeded += 1;
    } else {
        progress.failed += 1;
    }
}

fn outcomes(pattern: &str) -> Vec<bool> {
    pattern.chars().map(|c| c == 'S').collect()
}

#[test]
fn scenarios() {
    use Verdict::Succeeded;
    // (rule, outcomes per target in start order, verdict, tally when decided, targets started)
    let cases = [
        // OneAtATime on 5: the last fails → still Succeeded.
        (ONE, "SSSSF", Succeeded, tally(4, 1, 0, 0), 5),
        // The second fails → Failed at once, the other three never start.
        (ONE, "SFSSS", FAILED, tally(1, 1, 0, 3), 2),
        (ONE, "FSSSS", FAILED, tally(0, 1, 0, 4), 1),
        (ONE, "SSSSS", Succeeded, tally(5, 0, 0, 0), 5),
        // HalfAtATime on 5, two failures: fatal when they take the healthy count down to the
        // minimum with targets still to go, fine when the second is the last target.
        (HALF, "FFSSS", FAILED, tally(0, 2, 0, 3), 2),
        (HALF, "FSFSS", FAILED, tally(1, 2, 0, 2), 3),
        (HALF, "SSSFF", Succeeded, tally(3, 2, 0, 0), 5),
        (HALF, "FSSSF", Succeeded, tally(3, 2, 0, 0), 5),
        // Three failures never succeed: after one failure only one target runs at a time, so
        // the second failure, with a target still to go, already stops the deployment.
        (HALF, "SSFFF", FAILED, tally(2, 2, 0, 1), 4),
        (HALF, "FSSFF", FAILED, tally(2, 2, 0, 1), 4),
        // AllAtOnce: all-but-one failing succeeds, all failing fails.
        (ALL, "FFFFS", Succeeded, tally(1, 4, 0, 0), 5),
        (ALL, "FFFFF", FAILED, tally(0, 5, 0, 0), 5),
    ];
    for (rule, pattern, verdict, decided, started) in cases {
        let run = simulate(must_plan(5, rule), &outcomes(pattern));
        assert_eq!(run.verdict, verdict, "{rule:?} {pattern}");
        assert_eq!(run.decided, decided, "{rule:?} {pattern}");
        assert_eq!(run.started, started, "{rule:?} {pattern}");
        assert_eq!(run.end.skipped, 5 - started, "{rule:?} {pattern}");
    }
    // AllAtOnce really is all at once; HalfAtATime on 9 four at a time.
    assert_eq!(simulate(must_plan(9, ALL), &outcomes("SSSSSSSSS")).peak, 9);
    assert_eq!(simulate(must_plan(9, HALF), &outcomes("SSSSSSSSS")).peak, 4);
    assert_eq!(simulate(must_plan(9, ONE), &outcomes("SSSSSSSSS")).peak, 1);
    // AllAtOnce on 9: any single success is enough.
    let run = simulate(must_plan(9, ALL), &outcomes("FFFFFFFFS"));
    assert_eq!((run.verdict, run.end), (Succeeded, tally(1, 8, 0, 0)));
    // HOST_COUNT 8 of 10 (CodeDeploy instance health): two at a time; a second failure stops
    // it unless that failure is the last instance.
    let eight = must_plan(10, HostCount(8));
    assert_eq!(simulate(eight, &outcomes("SSSSSSSSSS")).peak, 2);
    assert_eq!(simulate(eight, &outcomes("SSSSSSSSFF")).verdict, Succeeded);
    assert_eq!(simulate(eight, &outcomes("FSSSSSSSSF")).verdict, Succeeded);
    let run = simulate(eight, &outcomes("SFSFSSSSSS"));
    assert_eq!((run.verdict, run.end.skipped), (FAILED, 6));
    // HOST_COUNT 9 of 10: one at a time; any failure but the last is fatal.
    let nine = must_plan(10, HostCount(9));
    assert_eq!(simulate(nine, &outcomes("SSSSSSSSSF")).verdict, Succeeded);
    assert_eq!(simulate(nine, &outcomes("SSSSSSSSFS")).verdict, FAILED);
}

/// Every rule on up to 8 targets, every combination of outcomes: the deployment never stalls,
/// never exceeds its concurrency, never drops below its minimum, succeeds when everything
/// succeeds, and succeeds only with enough successes.
#[test]
fn exhaustive_runs() {
    let rules = [
        ONE,
        HALF,
        ALL,
        HostCount(1),
        HostCount(2),
        HostCount(5),
        FleetPercent(1),
        FleetPercent(25),
        FleetPercent(75),
        FleetPercent(99),
        MostConcurrency(2),
        MostConcurrency(3),
    ];
    for total in 1..=8u32 {
        for rule in rules {
            let Ok(plan) = plan(total, rule) else {
                continue;
            };
            for mask in 0u32..(1 << total) {
                let outcomes: Vec<bool> = (0..total).map(|i| mask & (1 << i) != 0).collect();
                let failures = total - mask.count_ones();
                let run = simulate(plan, &outcomes);
                let what = format!("{rule:?} on {total}, outcomes {outcomes:?}: {run:?}");
                assert_eq!(
                    run.decided.in_progress, 0,
                    "decided with work in flight: {what}"
                );
                match run.verdict {
                    Verdict::Succeeded => {
                        assert!(run.end.succeeded >= plan.required_successes(), "{what}");
                        assert_eq!(run.end.skipped, 0, "{what}");
                    }
                    Verdict::Failed { code, .. } => {
                        assert_eq!(code, HEALTH_CONSTRAINTS, "{what}");
                        assert_ne!(failures, 0, "{what}");
                    }
                    Verdict::Running => panic!("ended Running: {what}"),
                }
                if failures > total - plan.required_successes() {
                    assert_eq!(run.verdict, FAILED, "{what}");
                }
                // A single failure on the last target never fails a deployment that can
                // afford one failed target.
                if failures == 1 && !outcomes[total as usize - 1] {
                    let affordable = total > plan.required_successes();
                    assert_eq!(run.verdict == Verdict::Succeeded, affordable, "{what}");
                }
            }
        }
    }
}

/// `may_start` on every tally of up to 9 targets: never past the concurrency limit, never
/// below the minimum, never more than is pending, and never zero while the deployment is
/// Running with nothing in progress.
#[test]
fn may_start_respects_the_constraint() {
    let rules = [
        ONE,
        HALF,
        ALL,
        HostCount(3),
        FleetPercent(60),
        MostConcurrency(2),
    ];
    for total in 1..=9u32 {
        for rule in rules {
            let Ok(plan) = plan(total, rule) else {
                continue;
            };
            for progress in tallies(total) {
                let n = plan.may_start(&progress);
                let what = format!("{rule:?} on {total}: {progress:?} → {n}");
                assert!(n <= progress.pending, "{what}");
                if n > 0 {
                    assert!(progress.in_progress + n <= plan.max_in_progress, "{what}");
                    assert!(progress.healthy() - n >= plan.min_healthy, "{what}");
                    assert_eq!(plan.verdict(&progress), Verdict::Running, "{what}");
                }
                if plan.verdict(&progress) == Verdict::Running
                    && progress.in_progress == 0
                    && progress.healthy() >= plan.min_healthy
                {
                    assert!(n >= 1, "stall: {what}");
                }
            }
        }
    }
}

/// Every way to split `total` targets into succeeded, failed, in progress and pending.
fn tallies(total: u32) -> Vec<Progress> {
    let mut all = Vec::new();
    for succeeded in 0..=total {
        for failed in 0..=total - succeeded {
            for in_progress in 0..=total - succeeded - failed {
                let pending = total - succeeded - failed - in_progress;
                all.push(tally(succeeded, failed, in_progress, pending));
            }
        }
    }
    all
}

#[test]
fn progress_counts() {
    let p = Progress {
        succeeded: 2,
        failed: 1,
        in_progress: 3,
        pending: 4,
        skipped: 5,
    };
    assert_eq!(p.total(), 15);
    assert_eq!(p.healthy(), 11);
    assert_eq!(Progress::new(7), tally(0, 0, 0, 7));
    assert_eq!(must_plan(7, ALL).may_start(&Progress::new(7)), 7);
    assert_eq!(must_plan(7, ONE).may_start(&Progress::new(7)), 1);
    assert_eq!(must_plan(7, HALF).may_start(&Progress::new(7)), 3);
}
