//! The typed AppSpec, built only from a document without errors.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// A valid AppSpec of one of CodeDeploy's three compute platforms.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AppSpec {
    Server(ServerSpec),
    Lambda(LambdaSpec),
    Ecs(EcsSpec),
}

/// The compute platform an AppSpec is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// EC2/on-premises.
    Server,
    Lambda,
    Ecs,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Server => "EC2/on-premises",
            Self::Lambda => "Lambda",
            Self::Ecs => "ECS",
        })
    }
}

/// The lifecycle events that can have hooks, in the order a deployment runs them.
/// `DownloadBundle`, `Install`, `BlockTraffic`, `AllowTraffic` (and `Start`, `End`,
/// `TestTraffic`) are run by CodeDeploy itself and cannot be hooked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LifecycleEvent {
    BeforeBlockTraffic,
    AfterBlockTraffic,
    ApplicationStop,
    BeforeInstall,
    AfterInstall,
    AfterAllowTestTraffic,
    ApplicationStart,
    ValidateService,
    BeforeAllowTraffic,
    AfterAllowTraffic,
}

impl LifecycleEvent {
    pub const ALL: [Self; 10] = [
        Self::BeforeBlockTraffic,
        Self::AfterBlockTraffic,
        Self::ApplicationStop,
        Self::BeforeInstall,
        Self::AfterInstall,
        Self::AfterAllowTestTraffic,
        Self::ApplicationStart,
        Self::ValidateService,
        Self::BeforeAllowTraffic,
        Self::AfterAllowTraffic,
    ];

    /// The events a server (EC2/on-premises) AppSpec can hook scripts to.
    pub const SERVER: [Self; 9] = [
        Self::ApplicationStop,
        Self::BeforeInstall,
        Self::AfterInstall,
        Self::ApplicationStart,
        Self::ValidateService,
        Self::BeforeBlockTraffic,
        Self::AfterBlockTraffic,
        Self::BeforeAllowTraffic,
        Self::AfterAllowTraffic,
    ];

    /// The events a Lambda AppSpec can hook validation functions to.
    pub const LAMBDA: [Self; 2] = [Self::BeforeAllowTraffic, Self::AfterAllowTraffic];

    /// The events an ECS AppSpec can hook validation functions to.
    pub const ECS: [Self; 5] = [
        Self::BeforeInstall,
        Self::AfterInstall,
        Self::AfterAllowTestTraffic,
        Self::BeforeAllowTraffic,
        Self::AfterAllowTraffic,
    ];

    /// CodeDeploy's name of the event.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeforeBlockTraffic => "BeforeBlockTraffic",
            Self::AfterBlockTraffic => "AfterBlockTraffic",
            Self::ApplicationStop => "ApplicationStop",
            Self::BeforeInstall => "BeforeInstall",
            Self::AfterInstall => "AfterInstall",
            Self::AfterAllowTestTraffic => "AfterAllowTestTraffic",
            Self::ApplicationStart => "ApplicationStart",
            Self::ValidateService => "ValidateService",
            Self::BeforeAllowTraffic => "BeforeAllowTraffic",
            Self::AfterAllowTraffic => "AfterAllowTraffic",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl fmt::Display for LifecycleEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Linux,
    Windows,
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Linux => "linux",
            Self::Windows => "windows",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FileExistsBehavior {
    Disallow,
    Overwrite,
    Retain,
}

/// An EC2/on-premises AppSpec.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerSpec {
    pub os: Os,
    pub files: Vec<FileMapping>,
    /// `None` when the AppSpec leaves it to the deployment (whose default is DISALLOW).
    pub file_exists_behavior: Option<FileExistsBehavior>,
    pub permissions: Vec<Permission>,
    pub hooks: BTreeMap<LifecycleEvent, Vec<Hook>>,
}

/// A `files` entry: `source` in the bundle (`/` is all of it), copied into `destination`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileMapping {
    pub source: String,
    pub destination: String,
}

/// A script run in a lifecycle event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hook {
    /// Relative to the bundle root.
    pub location: String,
    /// Seconds; 3600 when not given.
    pub timeout: u32,
    pub runas: Option<String>,
}

/// The default (and CodeDeploy's maximum) script timeout, in seconds.
pub const DEFAULT_TIMEOUT: u32 = 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectType {
    File,
    Directory,
}

/// A `permissions` entry (Linux only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Permission {
    /// A path on the instance, after the copy.
    pub object: String,
    /// `**` (everything below `object`) when not given.
    pub pattern: String,
    pub except: Vec<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mode: Option<Mode>,
    pub acls: Vec<String>,
    pub context: Option<SelinuxContext>,
    /// Both file and directory when not given.
    pub types: Vec<ObjectType>,
}

/// A chmod mode of three or four octal digits, kept as written (`644`, `4755`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mode(pub String);

impl Mode {
    pub fn bits(&self) -> u32 {
        u32::from_str_radix(&self.0, 8).unwrap_or(0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SelinuxContext {
    pub user: Option<String>,
    #[serde(rename = "type")]
    pub type_: String,
    pub range: Option<SelinuxRange>,
}

/// `s<low>[-s<high>][:c<n>[.c<m>],…]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SelinuxRange {
    pub low: u32,
    pub high: u32,
    pub categories: Vec<u32>,
}

/// A Lambda AppSpec: one function whose alias is shifted from one version to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LambdaSpec {
    /// The resource's key in `Resources`.
    pub resource: String,
    pub name: String,
    pub alias: String,
    pub current_version: String,
    pub target_version: String,
    /// Lambda function run in each event.
    pub hooks: BTreeMap<LifecycleEvent, String>,
}

/// An ECS AppSpec: one service receiving a replacement task set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EcsSpec {
    pub resource: String,
    pub task_definition: String,
    pub container_name: String,
    pub container_port: u16,
    pub platform_version: Option<String>,
    pub network: Option<AwsVpcConfiguration>,
    pub capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    pub hooks: BTreeMap<LifecycleEvent, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AwsVpcConfiguration {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CapacityProviderStrategyItem {
    pub capacity_provider: String,
    pub base: Option<u32>,
    pub weight: Option<u32>,
}

/// What the revisions service stores about a revision's AppSpec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub kind: Kind,
    pub os: Option<Os>,
    pub files: usize,
    pub permissions: usize,
    /// Number of hooks (scripts, or functions) per lifecycle event.
    pub hooks: BTreeMap<LifecycleEvent, usize>,
}

impl AppSpec {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Server(_) => Kind::Server,
            Self::Lambda(_) => Kind::Lambda,
            Self::Ecs(_) => Kind::Ecs,
        }
    }

    pub fn summary(&self) -> Summary {
        match self {
            Self::Server(s) => Summary {
                kind: Kind::Server,
                os: Some(s.os),
                files: s.files.len(),
                permissions: s.permissions.len(),
                hooks: s.hooks.iter().map(|(e, hooks)| (*e, hooks.len())).collect(),
            },
            Self::Lambda(LambdaSpec { hooks, .. }) | Self::Ecs(EcsSpec { hooks, .. }) => Summary {
                kind: self.kind(),
                os: None,
                files: 0,
                permissions: 0,
                hooks: hooks.keys().map(|e| (*e, 1)).collect(),
            },
        }
    }
}
