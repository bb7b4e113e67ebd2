//! create-deployment-config, get-deployment-config, list-deployment-configs,
//! delete-deployment-config.

use clap::{Args, Subcommand};
use ferry_proto::common::v1::ComputePlatform;
use ferry_proto::registry::v1::{
    CreateDeploymentConfigRequest, DeleteDeploymentConfigRequest, GetDeploymentConfigRequest,
    ListDeploymentConfigsRequest, MinimumHealthyHosts, TrafficRoutingConfig, ZonalConfig,
};

use super::paging::Paging;
use super::{client, reply};
use crate::commands::api::Global;
use crate::commands::api::input::{codedeploy, structure};

#[derive(Subcommand)]
pub enum Command {
    /// Creates a deployment configuration.
    CreateDeploymentConfig(CreateDeploymentConfig),
    /// Gets information about a deployment configuration.
    GetDeploymentConfig(DeploymentConfigName),
    /// Lists the deployment configurations, the predefined ones included.
    ListDeploymentConfigs(ListDeploymentConfigs),
    /// Deletes a deployment configuration no deployment group uses.
    DeleteDeploymentConfig(DeploymentConfigName),
}

#[derive(Args)]
pub struct CreateDeploymentConfig {
    /// The name of the deployment configuration.
    #[arg(long)]
    deployment_config_name: String,
    /// The healthy hosts a deployment keeps: type=HOST_COUNT|FLEET_PERCENT,value=integer or JSON.
    #[arg(long, value_parser = structure::<MinimumHealthyHosts>)]
    minimum_healthy_hosts: Option<MinimumHealthyHosts>,
    /// How traffic shifts (Lambda and ECS): type=TimeBasedCanary|TimeBasedLinear|AllAtOnce,
    /// timeBasedCanary={canaryPercentage=integer,canaryInterval=integer},... or JSON.
    #[arg(long, value_parser = structure::<TrafficRoutingConfig>)]
    traffic_routing_config: Option<TrafficRoutingConfig>,
    /// The destination platform type for the deployment (default Server).
    #[arg(long, value_parser = codedeploy::<ComputePlatform>())]
    compute_platform: Option<ComputePlatform>,
    /// Deployment by availability zone: firstZoneMonitorDurationInSeconds=long,
    /// monitorDurationInSeconds=long,minimumHealthyHostsPerZone={type=…,value=…} or JSON.
    #[arg(long, value_parser = structure::<ZonalConfig>)]
    zonal_config: Option<ZonalConfig>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct DeploymentConfigName {
    /// The name of the deployment configuration.
    #[arg(long)]
    deployment_config_name: String,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct ListDeploymentConfigs {
    #[command(flatten)]
    paging: Paging,
    #[command(flatten)]
    global: Global,
}

pub async fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::CreateDeploymentConfig(args) => {
            let request = CreateDeploymentConfigRequest {
                deployment_config_name: args.deployment_config_name,
                minimum_healthy_hosts: args.minimum_healthy_hosts,
                traffic_routing_config: args.traffic_routing_config,
                compute_platform: args.compute_platform.map_or(0, i32::from),
                zonal_config: args.zonal_config,
            };
            let result = client(&args.global)?
                .create_deployment_config(request)
                .await;
            reply(&args.global, "CreateDeploymentConfig", result)
        }
        Command::GetDeploymentConfig(args) => {
            let request = GetDeploymentConfigRequest {
                deployment_config_name: args.deployment_config_name,
            };
            let result = client(&args.global)?.get_deployment_config(request).await;
            reply(&args.global, "GetDeploymentConfig", result)
        }
        Command::ListDeploymentConfigs(args) => {
            let client = client(&args.global)?;
            let result = args
                .paging
                .collect(|next_token, page_size| {
                    let mut client = client.clone();
                    async move {
                        client
                            .list_deployment_configs(ListDeploymentConfigsRequest {
                                next_token,
                                page_size,
                            })
                            .await
                    }
                })
                .await;
            reply(&args.global, "ListDeploymentConfigs", result)
        }
        Command::DeleteDeploymentConfig(args) => {
            let request = DeleteDeploymentConfigRequest {
                deployment_config_name: args.deployment_config_name,
            };
            let result = client(&args.global)?
                .delete_deployment_config(request)
                .await;
            reply(&args.global, "DeleteDeploymentConfig", result)
        }
    }
}
