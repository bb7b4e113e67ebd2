//! create-application, get-application, batch-get-applications, list-applications,
//! update-application, delete-application.

use clap::{Args, Subcommand};
use ferry_proto::common::v1::{ComputePlatform, Tag};
use ferry_proto::registry::v1::{
    BatchGetApplicationsRequest, CreateApplicationRequest, DeleteApplicationRequest,
    GetApplicationRequest, ListApplicationsRequest, UpdateApplicationRequest,
};

use super::paging::Paging;
use super::{client, reply};
use crate::commands::api::Global;
use crate::commands::api::input::{Items, codedeploy, flatten, items, names};

#[derive(Subcommand)]
pub enum Command {
    /// Creates an application.
    CreateApplication(CreateApplication),
    /// Gets information about an application.
    GetApplication(ApplicationName),
    /// Gets information about one or more applications (at most 100).
    BatchGetApplications(BatchGetApplications),
    /// Lists the applications.
    ListApplications(ListApplications),
    /// Changes the name of an application.
    UpdateApplication(UpdateApplication),
    /// Deletes an application and its deployment groups.
    DeleteApplication(ApplicationName),
}

#[derive(Args)]
pub struct CreateApplication {
    /// The name of the application.
    #[arg(long)]
    application_name: String,
    /// The destination platform type for deployments of the application (default Server).
    #[arg(long, value_parser = codedeploy::<ComputePlatform>())]
    compute_platform: Option<ComputePlatform>,
    /// Tags for the application: Key=string,Value=string ... or JSON.
    #[arg(long, num_args = 1.., value_parser = items::<Tag>)]
    tags: Vec<Items<Tag>>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct ApplicationName {
    /// The name of the application.
    #[arg(long)]
    application_name: String,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct BatchGetApplications {
    /// The names of the applications: name1 name2 ... or a JSON list.
    #[arg(long, required = true, num_args = 1.., value_parser = names)]
    application_names: Vec<Items<String>>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct ListApplications {
    #[command(flatten)]
    paging: Paging,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct UpdateApplication {
    /// The current name of the application.
    #[arg(long)]
    application_name: String,
    /// The new name of the application.
    #[arg(long)]
    new_application_name: String,
    #[command(flatten)]
    global: Global,
}

pub async fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::CreateApplication(args) => {
            let request = CreateApplicationRequest {
                application_name: args.application_name,
                compute_platform: args.compute_platform.map_or(0, i32::from),
                tags: flatten(args.tags),
            };
            let result = client(&args.global)?.create_application(request).await;
            reply(&args.global, "CreateApplication", result)
        }
        Command::GetApplication(args) => {
            let request = GetApplicationRequest {
                application_name: args.application_name,
            };
            let result = client(&args.global)?.get_application(request).await;
            reply(&args.global, "GetApplication", result)
        }
        Command::BatchGetApplications(args) => {
            let request = BatchGetApplicationsRequest {
                application_names: flatten(args.application_names),
            };
            let result = client(&args.global)?.batch_get_applications(request).await;
            reply(&args.global, "BatchGetApplications", result)
        }
        Command::ListApplications(args) => {
            let client = client(&args.global)?;
            let result = args
                .paging
                .collect(|next_token, page_size| {
                    let mut client = client.clone();
                    async move {
                        client
                            .list_applications(ListApplicationsRequest {
                                next_token,
                                page_size,
                            })
                            .await
                    }
                })
                .await;
            reply(&args.global, "ListApplications", result)
        }
        Command::UpdateApplication(args) => {
            let request = UpdateApplicationRequest {
                application_name: args.application_name,
                new_application_name: args.new_application_name,
            };
            let result = client(&args.global)?.update_application(request).await;
            reply(&args.global, "UpdateApplication", result)
        }
        Command::DeleteApplication(args) => {
            let request = DeleteApplicationRequest {
                application_name: args.application_name,
            };
            let result = client(&args.global)?.delete_application(request).await;
            reply(&args.global, "DeleteApplication", result)
        }
    }
}
