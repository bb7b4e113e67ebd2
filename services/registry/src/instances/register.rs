//! RegisterOnPremisesInstance (which issues the agent credential) and
//! AuthenticateOnPremisesInstance (which checks it, for the orchestrator).
//!
//! Re-registering: CodeDeploy keeps a deregistered instance listed and lets its name be
//! registered again once it has been cleaned up ("you cannot immediately create another
//! instance with the same name"). ferry keeps deregistered rows until the name is reused:
//! registering a deregistered name replaces the old record with a fresh one — new credential,
//! new register time, no tags, the ARN of the new request. A registered name is
//! `InstanceNameAlreadyRegisteredException`.
//!
//! IAM ARNs: optional in ferry (the credential replaces them), at most one per request, and
//! an ARN stays bound to the instance that registered with it, also after it is deregistered
//! ("already been used to register a different instance"), until that name is registered
//! again.

use chrono::Utc;
use ferry_proto::registry::v1 as pb;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use ferry_runtime::error::{ApiError, Exception};

use super::{credential, find, info, load_tags};
use crate::Registry;
use crate::names::{self, NameKind};
use crate::store::entities::{instance, instance_tag};
use crate::store::{begin_write, internal, is_unique_violation};

/// Longest IAM ARN accepted (IAM's own limit for an ARN).
const MAX_ARN_LEN: usize = 2048;

/// Which IAM ARN a request gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IamArn {
    User,
    Session,
}

impl IamArn {
    fn label(self) -> &'static str {
        match self {
            Self::User => "IAM user ARN",
            Self::Session => "IAM session ARN",
        }
    }

    fn shape(self) -> &'static str {
        match self {
            Self::User => "arn:PARTITION:iam::ACCOUNT:user/NAME",
            Self::Session => "arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION",
        }
    }

    fn column(self) -> instance::Column {
        match self {
            Self::User => instance::Column::IamUserArn,
            Self::Session => instance::Column::IamSessionArn,
        }
    }

    fn taken(self) -> Exception {
        match self {
            Self::User => Exception::IamUserArnAlreadyRegistered,
            Self::Session => Exception::IamSessionArnAlreadyRegistered,
        }
    }

    /// Checks the shape: an IAM user (`iam` service, `user/[PATH/]NAME`) or an STS
    /// assumed-role session (`sts` service, `assumed-role/ROLE/SESSION`).
    fn check(self, arn: &str) -> Result<(), ApiError> {
        let invalid = || {
            let exception = match self {
                Self::User => Exception::InvalidIamUserArn,
                Self::Session => Exception::InvalidIamSessionArn,
            };
            ApiError::new(
                exception,
                format!(
                    "the {} {arn:?} is not valid; use the form {}",
                    self.label(),
                    self.shape()
                ),
            )
        };
        if arn.len() > MAX_ARN_LEN || arn.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [scheme, partition, service, _region, account, resource] = parts[..] else {
            return Err(invalid());
        };
        if scheme != "arn" || partition.is_empty() || account.is_empty() {
            return Err(invalid());
        }
        let (want_service, prefix, min_segments) = match self {
            Self::User => ("iam", "user/", 1),
            Self::Session => ("sts", "assumed-role/", 2),
        };
        let segments: Vec<&str> = resource
            .strip_prefix(prefix)
            .ok_or_else(invalid)?
            .split('/')
            .collect();
        if service != want_service
            || segments.len() < min_segments
            || segments.iter().any(|s| s.is_empty())
        {
            return Err(invalid());
        }
        Ok(())
    }
}

/// The ARN a request gives, if any: both is `MultipleIamArnsProvidedException`, a malformed
/// one is `InvalidIamUserArnException` / `InvalidIamSessionArnException`.
fn requested_arn(
    req: &pb::RegisterOnPremisesInstanceRequest,
) -> Result<Option<(IamArn, &str)>, ApiError> {
    match (req.iam_user_arn.as_str(), req.iam_session_arn.as_str()) {
        ("", "") => Ok(None),
        (user, "") => IamArn::User
            .check(user)
            .map(|()| Some((IamArn::User, user))),
        ("", session) => IamArn::Session
            .check(session)
            .map(|()| Some((IamArn::Session, session))),
        _ => Err(ApiError::new(
            Exception::MultipleIamArnsProvided,
            "give either iam_user_arn or iam_session_arn, not both",
        )),
    }
}

fn name_taken(name: &str) -> ApiError {
    ApiError::new(
        Exception::InstanceNameAlreadyRegistered,
        format!("instance {name:?} is already registered"),
    )
    .with_metadata("instance_name", name)
}

/// The instance that holds an IAM ARN, if any.
async fn arn_holder(
    conn: &impl ConnectionTrait,
    kind: IamArn,
    arn: &str,
) -> Result<Option<String>, ApiError> {
    let row = instance::Entity::find()
        .filter(kind.column().eq(arn))
        .one(conn)
        .await
        .map_err(internal)?;
    Ok(row.map(|row| row.name))
}

fn arn_taken(kind: IamArn, arn: &str, holder: &str) -> ApiError {
    ApiError::new(
        kind.taken(),
        format!(
            "the {} {arn:?} is already registered to instance {holder:?}",
            kind.label()
        ),
    )
}

/// Compared against when the name is unknown, so an unknown instance costs the same hash and
/// comparison as a known one. No credential hashes to it (finding a sha256 preimage of it is
/// infeasible).
const NO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Registry {
    /// Registers an instance and returns its agent credential, once.
    pub async fn register_on_premises_instance(
        &self,
        req: pb::RegisterOnPremisesInstanceRequest,
    ) -> Result<pb::RegisterOnPremisesInstanceResponse, ApiError> {
        names::check(NameKind::Instance, &req.instance_name)?;
        let arn = requested_arn(&req)?;
        let name = req.instance_name.as_str();
        let secret = credential::generate()?;
        let arn_of = |kind: IamArn| arn.filter(|(k, _)| *k == kind).map(|(_, a)| a.to_owned());
        let row = instance::ActiveModel {
            name: Set(name.to_owned()),
            iam_session_arn: Set(arn_of(IamArn::Session)),
            iam_user_arn: Set(arn_of(IamArn::User)),
            credential_hash: Set(credential::hash(&secret)),
            register_time: Set(Utc::now()),
            deregister_time: Set(None),
        };

        let txn = begin_write(&self.writer).await?;
        match find(&txn, name).await? {
            Some(old) if old.deregister_time.is_none() => return Err(name_taken(name)),
            Some(_) => {
                // A deregistered instance of this name is replaced: its tags go with it.
                instance_tag::Entity::delete_many()
                    .filter(instance_tag::Column::InstanceName.eq(name))
                    .exec(&txn)
                    .await
                    .map_err(internal)?;
                instance::Entity::delete_many()
                    .filter(instance::Column::Name.eq(name))
                    .filter(instance::Column::DeregisterTime.is_not_null())
                    .exec(&txn)
                    .await
                    .map_err(internal)?;
            }
            None => {}
        }
        if let Some((kind, arn)) = arn
            && let Some(holder) = arn_holder(&txn, kind, arn).await?
        {
            return Err(arn_taken(kind, arn, &holder));
        }
        match row.insert(&txn).await {
            Ok(_) => txn.commit().await.map_err(internal)?,
            Err(err) if is_unique_violation(&err) => {
                // A concurrent registration committed first (PostgreSQL; SQLite serialises
                // writers). The unique indexes decided; say which, from what is now stored.
                txn.rollback().await.map_err(internal)?;
                return Err(self.explain_conflict(name, arn).await);
            }
            Err(err) => return Err(internal(err)),
        }
        Ok(pb::RegisterOnPremisesInstanceResponse {
            instance_credential: secret,
            instance_arn: self.arns.instance(name),
        })
    }

    /// Which unique index a losing registration ran into.
    async fn explain_conflict(&self, name: &str, arn: Option<(IamArn, &str)>) -> ApiError {
        if let Some((kind, arn)) = arn
            && let Ok(Some(holder)) = arn_holder(&self.db, kind, arn).await
            && holder != name
        {
            return arn_taken(kind, arn, &holder);
        }
        name_taken(name)
    }

    /// Checks an agent's credential. An unknown name and a wrong credential get the same
    /// answer, `InstanceNotRegisteredException` "instance name or credential is not valid",
    /// so a caller cannot probe for names. Only when the credential matches is a deregistered
    /// instance told apart (also `InstanceNotRegisteredException`): the orchestrator refuses it.
    pub async fn authenticate_on_premises_instance(
        &self,
        req: pb::AuthenticateOnPremisesInstanceRequest,
    ) -> Result<pb::AuthenticateOnPremisesInstanceResponse, ApiError> {
        names::check(NameKind::Instance, &req.instance_name)?;
        let name = req.instance_name.as_str();
        let row = find(&self.db, name).await?;
        let stored = row
            .as_ref()
            .map_or(NO_HASH, |row| row.credential_hash.as_str());
        let matches = credential::verify(&req.instance_credential, stored);
        let Some(row) = row.filter(|_| matches) else {
            return Err(ApiError::new(
                Exception::InstanceNotRegistered,
                "instance name or credential is not valid",
            ));
        };
        if row.deregister_time.is_some() {
            return Err(ApiError::new(
                Exception::InstanceNotRegistered,
                format!(
                    "instance {name:?} is deregistered; register it again to get a new credential"
                ),
            )
            .with_metadata("instance_name", name));
        }
        let mut tags = load_tags(&self.db, instance_tag::Column::InstanceName.eq(name)).await?;
        let own = tags.remove(name).unwrap_or_default();
        Ok(pb::AuthenticateOnPremisesInstanceResponse {
            instance_info: Some(info(&self.arns, row, own)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<(), ApiError>) -> Option<&'static str> {
        result
            .err()
            .and_then(|e| e.exception())
            .map(Exception::name)
    }

    #[test]
    fn accepts_user_and_session_arns() {
        assert!(
            IamArn::User
                .check("arn:aws:iam::123456789012:user/host-1")
                .is_ok()
        );
        assert!(
            IamArn::User
                .check("arn:aws-cn:iam::123456789012:user/fleet/east/host-1")
                .is_ok()
        );
        assert!(
            IamArn::Session
                .check("arn:aws:sts::123456789012:assumed-role/CodeDeploy/host-1")
                .is_ok()
        );
    }

    #[test]
    fn rejects_malformed_arns_with_the_kinds_exception() {
        for bad in [
            "host-1",
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:sts::123456789012:assumed-role/r/s",
            "arn:aws:iam::123456789012:user/",
            "arn:aws:iam:::user/x",
            "arn::iam::1:user/x",
            "arn:aws:iam::1:user/a b",
        ] {
            assert_eq!(
                reason(IamArn::User.check(bad)),
                Some("InvalidIamUserArnException"),
                "{bad}"
            );
        }
        for bad in [
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:sts::123456789012:assumed-role/role-only",
            "arn:aws:sts::123456789012:assumed-role//s",
            "arn:aws:sts::123456789012:federated-user/x",
        ] {
            assert_eq!(
                reason(IamArn::Session.check(bad)),
                Some("InvalidIamSessionArnException"),
                "{bad}"
            );
        }
        let long = format!("arn:aws:iam::1:user/{}", "x".repeat(MAX_ARN_LEN));
        assert_eq!(
            reason(IamArn::User.check(&long)),
            Some("InvalidIamUserArnException")
        );
    }

    #[test]
    fn at_most_one_arn_per_request() {
        let req = pb::RegisterOnPremisesInstanceRequest {
            instance_name: "h".into(),
            iam_user_arn: "arn:aws:iam::1:user/h".into(),
            iam_session_arn: "arn:aws:sts::1:assumed-role/r/h".into(),
        };
        assert_eq!(
            requested_arn(&req).unwrap_err().exception(),
            Some(Exception::MultipleIamArnsProvided)
        );
        let user_only = pb::RegisterOnPremisesInstanceRequest {
            iam_session_arn: String::new(),
            ..req
        };
        assert_eq!(
            requested_arn(&user_only).unwrap(),
            Some((IamArn::User, "arn:aws:iam::1:user/h"))
        );
    }
}
