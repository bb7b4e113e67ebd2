#!/usr/bin/env python3
"""Generate src/error/exceptions.rs from CodeDeploy's API model.

Run from the crate directory:

    python3 scripts/gen_exceptions.py /work/shared/reference/codedeploy-model/service-2.json

Every shape with `"exception": true` becomes one `Exception` variant. The gRPC code of each
variant is chosen here by explicit name (no pattern matching), so the generated match is the
table a reviewer reads; an exception the model gains later fails the script until someone
puts it in a bucket.
"""

import json
import sys
from pathlib import Path

# Explicit buckets. Each name appears exactly once; the script checks this against the model.
ALREADY_EXISTS = [
    "ApplicationAlreadyExists",
    "DeploymentConfigAlreadyExists",
    "DeploymentGroupAlreadyExists",
    "IamSessionArnAlreadyRegistered",
    "IamUserArnAlreadyRegistered",
    "InstanceNameAlreadyRegistered",
]

NOT_FOUND = [
    "ApplicationDoesNotExist",
    "DeploymentConfigDoesNotExist",
    "DeploymentDoesNotExist",
    "DeploymentGroupDoesNotExist",
    "DeploymentTargetDoesNotExist",
    "GitHubAccountTokenDoesNotExist",
    "InstanceDoesNotExist",
    # GetOnPremisesInstance / tag operations on a name nobody registered.
    "InstanceNotRegistered",
    "RevisionDoesNotExist",
]

# Missing or malformed input, or a request that is too big on its own: retrying the same
# request can never succeed.
INVALID_ARGUMENT = [
    # Per-request size limits (about one request, not an account quota).
    "AlarmsLimitExceeded",
    "BatchLimitExceeded",
    "DeploymentTargetListSizeExceeded",
    "ECSServiceMappingLimitExceeded",
    "InstanceLimitExceeded",  # "allowed on-premises instances in a single call"
    "LifecycleHookLimitExceeded",
    "TagLimitExceeded",
    "TagSetListLimitExceeded",
    "TriggerTargetsLimitExceeded",
    # Required values.
    "ApplicationNameRequired",
    "BucketNameFilterRequired",
    "DeploymentConfigNameRequired",
    "DeploymentGroupNameRequired",
    "DeploymentIdRequired",
    "DeploymentTargetIdRequired",
    "GitHubAccountTokenNameRequired",
    "IamArnRequired",
    "IamUserArnRequired",
    "InstanceIdRequired",
    "InstanceNameRequired",
    "ResourceArnRequired",
    "RevisionRequired",
    "RoleRequired",
    "TagRequired",
    # Malformed or contradictory values.
    "ArnNotSupported",
    "DescriptionTooLong",
    "MultipleIamArnsProvided",
    "InvalidAlarmConfig",
    "InvalidApplicationName",
    "InvalidArn",
    "InvalidAutoRollbackConfig",
    "InvalidAutoScalingGroup",
    "InvalidBlueGreenDeploymentConfiguration",
    "InvalidBucketNameFilter",
    "InvalidComputePlatform",
    "InvalidDeployedStateFilter",
    "InvalidDeploymentConfigName",
    "InvalidDeploymentGroupName",
    "InvalidDeploymentId",
    "InvalidDeploymentInstanceType",
    "InvalidDeploymentStyle",
    "InvalidDeploymentTargetId",
    "InvalidDeploymentWaitType",
    "InvalidEC2Tag",
    "InvalidEC2TagCombination",
    "InvalidECSService",
    "InvalidExternalId",
    "InvalidFileExistsBehavior",
    "InvalidGitHubAccountToken",
    "InvalidGitHubAccountTokenName",
    "InvalidIamSessionArn",
    "InvalidIamUserArn",
    "InvalidIgnoreApplicationStopFailuresValue",
    "InvalidInput",
    "InvalidInstanceId",
    "InvalidInstanceName",
    "InvalidInstanceStatus",
    "InvalidInstanceType",
    "InvalidKeyPrefixFilter",
    "InvalidLifecycleEventHookExecutionId",
    "InvalidLifecycleEventHookExecutionStatus",
    "InvalidLoadBalancerInfo",
    "InvalidMinimumHealthyHostValue",
    "InvalidNextToken",
    "InvalidOnPremisesTagCombination",
    "InvalidRegistrationStatus",
    "InvalidRevision",
    "InvalidRole",
    "InvalidSortBy",
    "InvalidSortOrder",
    "InvalidTag",
    "InvalidTagFilter",
    "InvalidTagsToAdd",
    "InvalidTarget",
    "InvalidTargetFilterName",
    "InvalidTargetGroupPair",
    "InvalidTargetInstances",
    "InvalidTimeRange",
    "InvalidTrafficRoutingConfiguration",
    "InvalidTriggerConfig",
    "InvalidUpdateOutdatedInstancesOnlyValue",
    "InvalidZonalDeploymentConfiguration",
    "ResourceValidation",
]

# The request is fine but the resource is in the wrong state for it: the caller must change
# the state first (wait, stop, detach), so retrying as-is will not help.
FAILED_PRECONDITION = [
    "DeploymentAlreadyCompleted",
    "DeploymentAlreadyStarted",
    "DeploymentConfigInUse",
    "DeploymentIsNotInReadyState",
    "DeploymentNotStarted",
    # ContinueDeployment on a deployment that is not waiting; with typed enums on the wire
    # an unknown status value cannot reach the service, so the state meaning is the one left.
    "InvalidDeploymentStatus",
    # DeleteDeploymentConfig on a predefined CodeDeployDefault.* config: read-only by state.
    "InvalidOperation",
    "LifecycleEventAlreadyCompleted",
    "UnsupportedActionForDeploymentType",
]

# Quotas that free up over time or with cleanup: the caller may retry later.
RESOURCE_EXHAUSTED = [
    "ApplicationLimitExceeded",
    "DeploymentConfigLimitExceeded",
    "DeploymentGroupLimitExceeded",
    # Too many deployments in flight: it clears when deployments finish, which is a quota
    # that frees up (ResourceExhausted) rather than a state the caller must change
    # (FailedPrecondition). Retry-with-backoff clients treat it correctly.
    "DeploymentLimitExceeded",
    "Throttling",
]

# Only thrown by the GitHub account-token operations, which ferry does not implement.
UNIMPLEMENTED = [
    "OperationNotSupported",
]

BUCKETS = [
    ("AlreadyExists", ALREADY_EXISTS),
    ("NotFound", NOT_FOUND),
    ("InvalidArgument", INVALID_ARGUMENT),
    ("FailedPrecondition", FAILED_PRECONDITION),
    ("ResourceExhausted", RESOURCE_EXHAUSTED),
    ("Unimplemented", UNIMPLEMENTED),
]


def variant_of(shape: str) -> str:
    return shape[: -len("Exception")] if shape.endswith("Exception") else shape


def main() -> None:
    model = json.loads(Path(sys.argv[1]).read_text())
    shapes = sorted(k for k, v in model["shapes"].items() if v.get("exception"))
    code_of: dict[str, str] = {}
    for code, names in BUCKETS:
        for name in names:
            if name in code_of:
                sys.exit(f"{name} is in two buckets")
            code_of[name] = code
    variants = [(variant_of(s), s) for s in shapes]
    missing = [v for v, _ in variants if v not in code_of]
    extra = sorted(set(code_of) - {v for v, _ in variants})
    if missing or extra:
        sys.exit(f"unbucketed: {missing}; not in model: {extra}")

    docs = {s: model["shapes"][s].get("documentation", "") for s in shapes}
    out = [
        "// @generated by scripts/gen_exceptions.py from CodeDeploy's service-2.json; do not edit.",
        "// Change the buckets in the script and run it again.",
        "",
        "//! Every CodeDeploy exception and the gRPC code it maps to.",
        "",
        "use tonic::Code;",
        "",
        "/// A CodeDeploy exception; its `name()` is the `ErrorInfo.reason` clients see.",
        "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]",
        "pub enum Exception {",
    ]
    for v, s in variants:
        out.append(f"    /// {clean_doc(docs[s])}")
        out.append(f"    {v},")
    out.append("}")
    out.append("")
    out.append("impl Exception {")
    out.append("    /// Every exception, in name order.")
    out.append(f"    pub const ALL: &[Exception] = &[")
    for v, _ in variants:
        out.append(f"        Exception::{v},")
    out.append("    ];")
    out.append("")
    out.append("    /// The exact CodeDeploy exception name.")
    out.append("    pub const fn name(self) -> &'static str {")
    out.append("        match self {")
    for v, s in variants:
        out.append(f'            Exception::{v} => "{s}",')
    out.append("        }")
    out.append("    }")
    out.append("")
    out.append("    /// The gRPC code this exception is answered with: the one mapping table.")
    out.append("    pub const fn code(self) -> Code {")
    out.append("        match self {")
    for code, names in BUCKETS:
        for name in sorted(names):
            out.append(f"            Exception::{name} => Code::{code},")
    out.append("        }")
    out.append("    }")
    out.append("")
    out.append("    /// The exception with this exact CodeDeploy name.")
    out.append("    pub fn from_name(name: &str) -> Option<Exception> {")
    out.append("        Some(match name {")
    for v, s in variants:
        out.append(f'            "{s}" => Exception::{v},')
    out.append("            _ => return None,")
    out.append("        })")
    out.append("    }")
    out.append("}")
    out.append("")
    target = Path(__file__).resolve().parent.parent / "src" / "error" / "exceptions.rs"
    target.write_text("\n".join(out))
    print(f"wrote {len(variants)} exceptions to {target}")


def clean_doc(html: str) -> str:
    import re

    text = re.sub(r"<[^>]+>", "", html)
    text = " ".join(text.split())
    # Keep the first sentence: the variant docs are a reminder, not the AWS manual.
    first = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return first.replace("[", "\\[").replace("]", "\\]") or "(no description in the model)"


if __name__ == "__main__":
    main()
