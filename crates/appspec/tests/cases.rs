//! Table-driven cases: each AppSpec text with the problem it must produce (path, line when
//! given, and a fragment of the message), or none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry_appspec::{Kind, Severity, validate};

/// A server AppSpec: `version` and `os` on lines 1 and 2, then the text.
macro_rules! srv {
    ($t:literal) => {
        concat!("version: 0.0\nos: linux\n", $t)
    };
}

/// A Lambda AppSpec head: lines 1–8, then the text.
macro_rules! lambda {
    ($t:literal) => {
        concat!(
            "version: 0.0\nResources:\n  - myFunction:\n      Type: AWS::Lambda::Function\n",
            "      Properties:\n        Name: myFunction\n        Alias: live\n",
            "        CurrentVersion: 1\n",
            $t
        )
    };
}

/// An ECS AppSpec head: lines 1–5 (up to `Properties:`), then the properties and the rest.
macro_rules! ecs {
    ($t:literal) => {
        concat!(
            "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n",
            "      Properties:\n",
            $t
        )
    };
}

enum Want {
    /// Valid, no problem at all, of this kind.
    Valid(Kind),
    /// An error at this path (and line, when given) whose message has this fragment.
    Error(&'static str, Option<u32>, &'static str),
    /// Valid, with a warning at this path whose message has this fragment.
    Warning(&'static str, Option<u32>, &'static str),
}

use Want::{Error, Valid, Warning};

const CASES: &[(&str, &str, Want)] = &[
    // ---- document and version ----
    ("minimal server", srv!(""), Valid(Kind::Server)),
    ("empty document", "", Error("", Some(1), "is empty")),
    (
        "top level is a list",
        "- a\n- b\n",
        Error("", Some(1), "not a list"),
    ),
    (
        "yaml syntax error",
        "version: 0.0\nos: [linux\nfiles: x\n",
        Error("", None, "invalid YAML"),
    ),
    (
        "json syntax error",
        "{\"version\": 0.0,\n \"os\": \"linux\",\n}\n",
        Error("", Some(3), "invalid JSON"),
    ),
    (
        "two documents",
        "version: 0.0\nos: linux\n---\nversion: 0.0\n",
        Error("", None, "more than one YAML document"),
    ),
    (
        "missing version",
        "os: linux\n",
        Error("", Some(1), "needs `version`"),
    ),
    (
        "version 1.0",
        "version: 1.0\nos: linux\n",
        Error("version", Some(1), "only AppSpec version is 0.0"),
    ),
    (
        "version as a word",
        "version: latest\nos: linux\n",
        Error("version", Some(1), "unsupported version"),
    ),
    (
        "version null",
        "version:\nos: linux\n",
        Error("version", Some(1), "has no value"),
    ),
    (
        "version quoted on a server",
        "version: \"0.0\"\nos: linux\n",
        Warning("version", Some(1), "without quotes"),
    ),
    (
        "json server",
        "{\"version\": 0.0, \"os\": \"linux\", \"files\": [{\"source\": \"/\", \"destination\": \"/srv/app\"}]}",
        Valid(Kind::Server),
    ),
    (
        "duplicate top-level key",
        srv!("os: linux\n"),
        Error("os", Some(3), "duplicate key"),
    ),
    (
        "unknown top-level key",
        srv!("hook:\n  BeforeInstall: []\n"),
        Error("hook", Some(3), "did you mean `hooks`"),
    ),
    (
        "capitalized Hooks on a server",
        srv!("Hooks: {}\n"),
        Error("Hooks", Some(3), "did you mean `hooks`"),
    ),
    (
        "unknown key, no suggestion",
        srv!("banana: 1\n"),
        Error("banana", Some(3), "takes version, os, files"),
    ),
    // ---- os ----
    (
        "missing os",
        "version: 0.0\n",
        Error("", Some(1), "needs `os`"),
    ),
    (
        "os ubuntu",
        "version: 0.0\nos: ubuntu\n",
        Error("os", Some(2), "use `linux` or `windows`"),
    ),
    (
        "os in capitals",
        "version: 0.0\nos: Linux\n",
        Error("os", Some(2), "lower case"),
    ),
    (
        "os windows",
        "version: 0.0\nos: windows\nfiles:\n  - source: app\n    destination: C:\\inetpub\\app\n",
        Valid(Kind::Server),
    ),
    // ---- files ----
    (
        "files ok",
        srv!(
            "files:\n  - source: /\n    destination: /var/www/html\n  - source: config/app.conf\n    destination: /etc/app\n"
        ),
        Valid(Kind::Server),
    ),
    (
        "files null is allowed",
        srv!("files:\n"),
        Valid(Kind::Server),
    ),
    (
        "files not a list",
        srv!("files:\n  source: /\n"),
        Error("files", Some(4), "must be a list"),
    ),
    (
        "file without source",
        srv!("files:\n  - destination: /srv\n"),
        Error("files[0]", Some(4), "needs `source`"),
    ),
    (
        "file without destination",
        srv!("files:\n  - source: app\n"),
        Error("files[0]", Some(4), "needs `destination`"),
    ),
    (
        "relative destination",
        srv!("files:\n  - source: app\n    destination: srv/app\n"),
        Error("files[0].destination", Some(5), "absolute path"),
    ),
    (
        "windows path on linux",
        srv!("files:\n  - source: app\n    destination: C:\\app\n"),
        Error("files[0].destination", Some(5), "such as /var/www/app"),
    ),
    (
        "linux path on windows",
        "version: 0.0\nos: windows\nfiles:\n  - source: app\n    destination: /srv/app\n",
        Error("files[0].destination", Some(5), "C:\\inetpub"),
    ),
    (
        "source leaves bundle",
        srv!("files:\n  - source: ../etc/passwd\n    destination: /tmp\n"),
        Error("files[0].source", Some(4), "leaves the bundle"),
    ),
    (
        "same file twice",
        srv!(
            "files:\n  - source: app\n    destination: /srv\n  - source: ./app\n    destination: /srv/\n"
        ),
        Error("files[1].destination", Some(7), "files[0] already copies"),
    ),
    (
        "same destination, other sources",
        srv!(
            "files:\n  - source: a.txt\n    destination: /srv\n  - source: b.txt\n    destination: /srv\n"
        ),
        Valid(Kind::Server),
    ),
    (
        "unknown key in files entry",
        srv!("files:\n  - source: a\n    destination: /srv\n    mode: 644\n"),
        Error(
            "files[0].mode",
            Some(6),
            "unknown key `mode` in a `files` entry",
        ),
    ),
    (
        "source as a list",
        srv!("files:\n  - source: [a, b]\n    destination: /srv\n"),
        Error("files[0].source", Some(4), "must be a string, not a list"),
    ),
    // ---- file_exists_behavior ----
    (
        "file_exists_behavior ok",
        srv!("file_exists_behavior: RETAIN\n"),
        Valid(Kind::Server),
    ),
    (
        "file_exists_behavior lower case",
        srv!("file_exists_behavior: overwrite\n"),
        Error("file_exists_behavior", Some(3), "capitals: `OVERWRITE`"),
    ),
    (
        "file_exists_behavior unknown",
        srv!("file_exists_behavior: MERGE\n"),
        Error("file_exists_behavior", Some(3), "use DISALLOW"),
    ),
    // ---- hooks ----
    (
        "hooks ok",
        srv!(
            "hooks:\n  ApplicationStop:\n    - location: scripts/stop.sh\n      timeout: 300\n      runas: root\n  ValidateService:\n    - location: scripts/check.sh\n"
        ),
        Valid(Kind::Server),
    ),
    (
        "hook on Install",
        srv!("hooks:\n  Install:\n    - location: x.sh\n"),
        Error("hooks.Install", Some(4), "run by CodeDeploy itself"),
    ),
    (
        "hook on DownloadBundle",
        srv!("hooks:\n  DownloadBundle:\n    - location: x.sh\n"),
        Error("hooks.DownloadBundle", Some(4), "cannot have hooks"),
    ),
    (
        "hook on AllowTraffic",
        srv!("hooks:\n  AllowTraffic:\n    - location: x.sh\n"),
        Error("hooks.AllowTraffic", Some(4), "run by CodeDeploy itself"),
    ),
    (
        "misspelt event",
        srv!("hooks:\n  BeforeInstal:\n    - location: x.sh\n"),
        Error(
            "hooks.BeforeInstal",
            Some(4),
            "did you mean `BeforeInstall`",
        ),
    ),
    (
        "event in lower case",
        srv!("hooks:\n  afterinstall:\n    - location: x.sh\n"),
        Error("hooks.afterinstall", Some(4), "did you mean `AfterInstall`"),
    ),
    (
        "unknown event",
        srv!("hooks:\n  Deploy:\n    - location: x.sh\n"),
        Error("hooks.Deploy", Some(4), "the events are ApplicationStop"),
    ),
    (
        "old ELB event name",
        srv!("hooks:\n  BeforeELBAdd:\n    - location: x.sh\n"),
        Error(
            "hooks.BeforeELBAdd",
            Some(4),
            "old name of `BeforeAllowTraffic`",
        ),
    ),
    (
        "ECS-only event on server",
        srv!("hooks:\n  AfterAllowTestTraffic:\n    - location: x.sh\n"),
        Error("hooks.AfterAllowTestTraffic", Some(4), "only in ECS"),
    ),
    (
        "traffic events ok",
        srv!(
            "hooks:\n  BeforeBlockTraffic:\n    - location: a.sh\n  AfterBlockTraffic:\n    - location: b.sh\n  BeforeAllowTraffic:\n    - location: c.sh\n  AfterAllowTraffic:\n    - location: d.sh\n"
        ),
        Valid(Kind::Server),
    ),
    (
        "event with no scripts",
        srv!("hooks:\n  AfterInstall:\n"),
        Error("hooks.AfterInstall", Some(4), "has no scripts"),
    ),
    (
        "event with empty list",
        srv!("hooks:\n  AfterInstall: []\n"),
        Warning("hooks.AfterInstall", Some(4), "empty list"),
    ),
    (
        "scripts as a mapping",
        srv!("hooks:\n  AfterInstall:\n    location: x.sh\n"),
        Error("hooks.AfterInstall", Some(5), "must be a list"),
    ),
    (
        "hooks as a list",
        srv!("hooks:\n  - AfterInstall\n"),
        Error("hooks", Some(4), "must be a mapping of lifecycle event"),
    ),
    (
        "script without location",
        srv!("hooks:\n  AfterInstall:\n    - timeout: 30\n"),
        Error("hooks.AfterInstall[0]", Some(5), "needs `location`"),
    ),
    (
        "empty location",
        srv!("hooks:\n  AfterInstall:\n    - location: \"\"\n"),
        Error(
            "hooks.AfterInstall[0].location",
            Some(5),
            "must not be empty",
        ),
    ),
    (
        "location leaves bundle",
        srv!("hooks:\n  AfterInstall:\n    - location: ../../bin/sh\n"),
        Error(
            "hooks.AfterInstall[0].location",
            Some(5),
            "inside the bundle",
        ),
    ),
    (
        "timeout zero",
        srv!("hooks:\n  AfterInstall:\n    - location: x.sh\n      timeout: 0\n"),
        Error("hooks.AfterInstall[0].timeout", Some(6), "positive"),
    ),
    (
        "timeout negative",
        srv!("hooks:\n  AfterInstall:\n    - location: x.sh\n      timeout: -5\n"),
        Error("hooks.AfterInstall[0].timeout", Some(6), "not -5"),
    ),
    (
        "timeout over an hour",
        srv!("hooks:\n  AfterInstall:\n    - location: x.sh\n      timeout: 3601\n"),
        Error("hooks.AfterInstall[0].timeout", Some(6), "limit of 3600"),
    ),
    (
        "timeout as text",
        srv!("hooks:\n  AfterInstall:\n    - location: x.sh\n      timeout: soon\n"),
        Error(
            "hooks.AfterInstall[0].timeout",
            Some(6),
            "whole number of seconds",
        ),
    ),
    (
        "timeout fractional",
        srv!("hooks:\n  AfterInstall:\n    - location: x.sh\n      timeout: 1.5\n"),
        Error("hooks.AfterInstall[0].timeout", Some(6), "whole number"),
    ),
    (
        "timeout quoted",
        srv!("hooks:\n  AfterInstall:\n    - location: x.sh\n      timeout: \"300\"\n"),
        Warning("hooks.AfterInstall[0].timeout", Some(6), "without quotes"),
    ),
    (
        "timeouts add up past an hour",
        srv!(
            "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 3000\n    - location: b.sh\n      timeout: 1000\n"
        ),
        Warning("hooks.AfterInstall", Some(5), "add up to 4000"),
    ),
    (
        "misspelt timeout",
        srv!("hooks:\n  AfterInstall:\n    - location: x.sh\n      timout: 30\n"),
        Error(
            "hooks.AfterInstall[0].timout",
            Some(6),
            "did you mean `timeout`",
        ),
    ),
    (
        "sudo key",
        srv!("hooks:\n  AfterInstall:\n    - location: x.sh\n      sudo: true\n"),
        Warning("hooks.AfterInstall[0].sudo", Some(6), "use `runas`"),
    ),
    (
        "runas on windows",
        "version: 0.0\nos: windows\nhooks:\n  AfterInstall:\n    - location: x.ps1\n      runas: admin\n",
        Warning(
            "hooks.AfterInstall[0].runas",
            Some(6),
            "Linux instances only",
        ),
    ),
    (
        "duplicate event",
        srv!(
            "hooks:\n  AfterInstall:\n    - location: a.sh\n  AfterInstall:\n    - location: b.sh\n"
        ),
        Error("hooks.AfterInstall", Some(6), "duplicate lifecycle event"),
    ),
    // ---- permissions ----
    (
        "permissions ok",
        srv!(
            "permissions:\n  - object: /var/www\n    pattern: \"*.html\"\n    except: [index.html]\n    owner: www-data\n    group: www-data\n    mode: 644\n    acls:\n      - u:mary:rw\n      - m::rw\n      - d:u:bob:rwx\n    context:\n      user: unconfined_u\n      type: httpd_sys_content_t\n      range: s0-s0:c0.c1023\n    type:\n      - file\n"
        ),
        Valid(Kind::Server),
    ),
    (
        "permission without object",
        srv!("permissions:\n  - owner: root\n"),
        Error("permissions[0]", Some(4), "needs `object`"),
    ),
    (
        "relative object",
        srv!("permissions:\n  - object: var/www\n"),
        Error("permissions[0].object", Some(4), "must be absolute"),
    ),
    (
        "mode with leading zero unquoted",
        srv!("permissions:\n  - object: /srv\n    mode: 0644\n"),
        Error("permissions[0].mode", Some(5), "quote it (\"0644\")"),
    ),
    (
        "mode with leading zero quoted",
        srv!("permissions:\n  - object: /srv\n    mode: \"0644\"\n"),
        Valid(Kind::Server),
    ),
    (
        "mode with an 8",
        srv!("permissions:\n  - object: /srv\n    mode: 648\n"),
        Error("permissions[0].mode", Some(5), "octal digits"),
    ),
    (
        "mode too long",
        srv!("permissions:\n  - object: /srv\n    mode: 47555\n"),
        Error("permissions[0].mode", Some(5), "one to four"),
    ),
    (
        "mode symbolic",
        srv!("permissions:\n  - object: /srv\n    mode: u+x\n"),
        Error("permissions[0].mode", Some(5), "octal digits"),
    ),
    (
        "type unknown",
        srv!("permissions:\n  - object: /srv\n    type:\n      - symlink\n"),
        Error(
            "permissions[0].type[0]",
            Some(6),
            "use `file` or `directory`",
        ),
    ),
    (
        "type empty",
        srv!("permissions:\n  - object: /srv\n    type: []\n"),
        Error("permissions[0].type", Some(5), "lists no object type"),
    ),
    (
        "unnamed ACL entry",
        srv!("permissions:\n  - object: /srv\n    acls:\n      - u::rw\n"),
        Error("permissions[0].acls[0]", Some(6), "set with `mode`"),
    ),
    (
        "bad ACL permission",
        srv!("permissions:\n  - object: /srv\n    acls:\n      - u:bob:rwz\n"),
        Error(
            "permissions[0].acls[0]",
            Some(6),
            "permission character `z`",
        ),
    ),
    (
        "bad ACL type",
        srv!("permissions:\n  - object: /srv\n    acls:\n      - x:bob:rw\n"),
        Error("permissions[0].acls[0]", Some(6), "unknown entry type `x`"),
    ),
    (
        "context without type",
        srv!("permissions:\n  - object: /srv\n    context:\n      user: unconfined_u\n"),
        Error("permissions[0].context", Some(6), "needs `type`"),
    ),
    (
        "context range backwards",
        srv!("permissions:\n  - object: /srv\n    context:\n      type: t\n      range: s3-s1\n"),
        Error("permissions[0].context.range", Some(7), "below the low"),
    ),
    (
        "context category too high",
        srv!(
            "permissions:\n  - object: /srv\n    context:\n      type: t\n      range: s0:c2000\n"
        ),
        Error("permissions[0].context.range", Some(7), "above c1023"),
    ),
    (
        "context name alias",
        srv!(
            "permissions:\n  - object: /srv\n    context:\n      name: unconfined_u\n      type: t\n"
        ),
        Warning("permissions[0].context.name", Some(6), "prefer `user`"),
    ),
    (
        "context role",
        srv!("permissions:\n  - object: /srv\n    context:\n      type: t\n      role: r\n"),
        Error("permissions[0].context.role", Some(7), "unknown key `role`"),
    ),
    (
        "identical permissions",
        srv!("permissions:\n  - object: /srv\n    mode: 755\n  - object: /srv\n    mode: 755\n"),
        Error("permissions[1]", Some(6), "same as permissions[0]"),
    ),
    (
        "permissions on windows",
        "version: 0.0\nos: windows\npermissions:\n  - object: C:\\app\n",
        Error("permissions", Some(4), "Linux instances only"),
    ),
    (
        "except not a list",
        srv!("permissions:\n  - object: /srv\n    except: a.txt\n"),
        Error("permissions[0].except", Some(5), "must be a list"),
    ),
    // ---- Lambda ----
    (
        "lambda ok",
        lambda!(
            "        TargetVersion: 2\nHooks:\n  - BeforeAllowTraffic: CheckBefore\n  - AfterAllowTraffic: CheckAfter\n"
        ),
        Valid(Kind::Lambda),
    ),
    (
        "lambda lower-case keys",
        "version: 0.0\nresources:\n  - fn:\n      type: AWS::Lambda::Function\n      properties:\n        name: fn\n        alias: live\n        currentversion: \"1\"\n        targetversion: \"2\"\nhooks:\n  - BeforeAllowTraffic: check\n",
        Valid(Kind::Lambda),
    ),
    (
        "lambda json",
        "{\"version\": \"0.0\", \"Resources\": [{\"fn\": {\"Type\": \"AWS::Lambda::Function\", \"Properties\": {\"Name\": \"fn\", \"Alias\": \"live\", \"CurrentVersion\": \"1\", \"TargetVersion\": \"2\"}}}]}",
        Valid(Kind::Lambda),
    ),
    (
        "lambda missing TargetVersion",
        lambda!(""),
        Error(
            "Resources[0].myFunction.Properties",
            Some(6),
            "needs `TargetVersion`",
        ),
    ),
    (
        "lambda hook on install",
        lambda!("        TargetVersion: 2\nHooks:\n  - BeforeInstall: Check\n"),
        Error(
            "Hooks[0].BeforeInstall",
            Some(11),
            "Lambda AppSpec can hook BeforeAllowTraffic, AfterAllowTraffic",
        ),
    ),
    (
        "lambda hook misspelt",
        lambda!("        TargetVersion: 2\nHooks:\n  - BeforeAllowTrafic: Check\n"),
        Error(
            "Hooks[0].BeforeAllowTrafic",
            Some(11),
            "did you mean `BeforeAllowTraffic`",
        ),
    ),
    (
        "lambda hooks as a mapping",
        lambda!("        TargetVersion: 2\nHooks:\n  BeforeAllowTraffic: Check\n"),
        Error("Hooks", Some(11), "list of one-entry mappings"),
    ),
    (
        "lambda hook twice",
        lambda!(
            "        TargetVersion: 2\nHooks:\n  - AfterAllowTraffic: A\n  - AfterAllowTraffic: B\n"
        ),
        Error("Hooks[1].AfterAllowTraffic", Some(12), "hooked twice"),
    ),
    (
        "lambda bad function name",
        lambda!("        TargetVersion: 2\nHooks:\n  - AfterAllowTraffic: my function\n"),
        Error(
            "Hooks[0].AfterAllowTraffic",
            Some(11),
            "not a Lambda function name",
        ),
    ),
    (
        "lambda same versions",
        lambda!("        TargetVersion: 1\n"),
        Warning(
            "Resources[0].myFunction.Properties.TargetVersion",
            Some(9),
            "shifts no traffic",
        ),
    ),
    (
        "lambda with files",
        lambda!("        TargetVersion: 2\nfiles: []\n"),
        Error("files", Some(10), "unknown key `files` in a Lambda AppSpec"),
    ),
    (
        "lambda two resources",
        lambda!("        TargetVersion: 2\n  - other:\n      Type: AWS::Lambda::Function\n"),
        Error("Resources[1]", Some(10), "exactly one entry"),
    ),
    (
        "unknown resource type",
        "version: 0.0\nResources:\n  - fn:\n      Type: AWS::EC2::Instance\n",
        Error(
            "Resources[0]",
            Some(3),
            "whose Type is AWS::Lambda::Function or AWS::ECS::Service",
        ),
    ),
    (
        "lambda unknown property",
        lambda!("        TargetVersion: 2\n        Region: us-east-1\n"),
        Error(
            "Resources[0].myFunction.Properties.Region",
            Some(10),
            "unknown key `Region`",
        ),
    ),
    // ---- ECS ----
    (
        "ecs ok",
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"arn:aws:ecs:us-east-1:111122223333:task-definition/web:3\"\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\n        PlatformVersion: LATEST\n        NetworkConfiguration:\n          AwsvpcConfiguration:\n            Subnets: [subnet-1, subnet-2]\n            SecurityGroups: [sg-1]\n            AssignPublicIp: DISABLED\n        CapacityProviderStrategy:\n          - Base: 1\n            CapacityProvider: FARGATE_SPOT\n            Weight: 2\n          - CapacityProvider: FARGATE\n            Weight: 1\nHooks:\n  - BeforeInstall: a\n  - AfterInstall: b\n  - AfterAllowTestTraffic: c\n  - BeforeAllowTraffic: d\n  - AfterAllowTraffic: e\n",
        Valid(Kind::Ecs),
    ),
    (
        "ecs missing TaskDefinition",
        ecs!(
            "        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\n"
        ),
        Error(
            "Resources[0].TargetService.Properties",
            Some(6),
            "needs `TaskDefinition`",
        ),
    ),
    (
        "ecs missing LoadBalancerInfo",
        ecs!("        TaskDefinition: td\n"),
        Error(
            "Resources[0].TargetService.Properties",
            Some(6),
            "needs `LoadBalancerInfo`",
        ),
    ),
    (
        "ecs port out of range",
        ecs!(
            "        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 70000\n"
        ),
        Error(
            "Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort",
            Some(9),
            "between 1 and 65535",
        ),
    ),
    (
        "ecs port as text",
        ecs!(
            "        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: http\n"
        ),
        Error(
            "Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort",
            Some(9),
            "whole number",
        ),
    ),
    (
        "ecs partial network",
        ecs!(
            "        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\n        NetworkConfiguration:\n          AwsvpcConfiguration:\n            Subnets: [subnet-1]\n"
        ),
        Error(
            "Resources[0].TargetService.Properties.NetworkConfiguration.AwsvpcConfiguration",
            Some(12),
            "all of its settings or none",
        ),
    ),
    (
        "ecs bad AssignPublicIp",
        ecs!(
            "        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\n        NetworkConfiguration:\n          AwsvpcConfiguration:\n            Subnets: [subnet-1]\n            SecurityGroups: [sg-1]\n            AssignPublicIp: YES\n"
        ),
        Error(
            "Resources[0].TargetService.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp",
            Some(14),
            "ENABLED or DISABLED",
        ),
    ),
    (
        "ecs too many security groups",
        ecs!(
            "        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\n        NetworkConfiguration:\n          AwsvpcConfiguration:\n            Subnets: [subnet-1]\n            SecurityGroups: [a, b, c, d, e, f]\n            AssignPublicIp: ENABLED\n"
        ),
        Error(
            "Resources[0].TargetService.Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups",
            Some(13),
            "between 1 and 5",
        ),
    ),
    (
        "ecs two bases",
        ecs!(
            "        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\n        CapacityProviderStrategy:\n          - CapacityProvider: A\n            Base: 1\n          - CapacityProvider: B\n            Base: 2\n"
        ),
        Error(
            "Resources[0].TargetService.Properties.CapacityProviderStrategy[1].Base",
            Some(14),
            "only one provider may have a Base",
        ),
    ),
    (
        "ecs strategy without provider",
        ecs!(
            "        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\n        CapacityProviderStrategy:\n          - Weight: 1\n"
        ),
        Error(
            "Resources[0].TargetService.Properties.CapacityProviderStrategy[0]",
            Some(11),
            "needs `CapacityProvider`",
        ),
    ),
    (
        "ecs lambda-only hook name",
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\nHooks:\n  - ValidateService: check\n",
        Error(
            "Hooks[0].ValidateService",
            Some(11),
            "not a ECS lifecycle event",
        ),
    ),
    (
        "ecs wrong Type for its kind",
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: td\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\n        Cluster: main\n",
        Error(
            "Resources[0].TargetService.Properties.Cluster",
            Some(10),
            "unknown key `Cluster`",
        ),
    ),
];

#[test]
fn cases() {
    assert!(CASES.len() >= 60, "only {} cases", CASES.len());
    let mut failures = Vec::new();
    for (name, text, want) in CASES {
        let report = validate(text);
        let shown = report
            .problems
            .iter()
            .map(|p| format!("    {p} [{}]", p.path))
            .collect::<Vec<_>>()
            .join("\n");
        let ok = match want {
            Valid(kind) => {
                report.problems.is_empty()
                    && report.spec.as_ref().is_some_and(|s| s.kind() == *kind)
            }
            Error(path, line, fragment) | Warning(path, line, fragment) => {
                let severity = if matches!(want, Error(..)) {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                let found = report.problems.iter().any(|p| {
                    p.severity == severity
                        && p.path == *path
                        && p.message.contains(fragment)
                        && line.is_none_or(|l| p.line == Some(l))
                });
                found
                    && (severity == Severity::Error) != report.is_valid()
                    && report.spec.is_some() == report.is_valid()
            }
        };
        if !ok {
            failures.push(format!("{name}:\n{shown}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}
