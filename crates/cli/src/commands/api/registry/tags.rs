//! tag-resource, untag-resource, list-tags-for-resource: tags on applications, deployment
//! groups and deployment configurations, by ARN.

use clap::{Args, Subcommand};
use ferry_proto::common::v1::Tag;
use ferry_proto::registry::v1::{
    ListTagsForResourceRequest, TagResourceRequest, UntagResourceRequest,
};

use super::{client, reply};
use crate::commands::api::Global;
use crate::commands::api::input::{Items, flatten, items, names};

// The variants are the operations' names, which become the subcommands' names.
#[allow(clippy::enum_variant_names)]
#[derive(Subcommand)]
pub enum Command {
    /// Adds tags to an application, deployment group or deployment configuration.
    TagResource(TagResource),
    /// Removes tags, by key, from an application, deployment group or deployment configuration.
    UntagResource(UntagResource),
    /// Lists the tags of an application, deployment group or deployment configuration.
    ListTagsForResource(ListTagsForResource),
}

#[derive(Args)]
pub struct TagResource {
    /// The resource's ARN (arn:…:application:NAME, …:deploymentgroup:APP/GROUP,
    /// …:deploymentconfig:NAME).
    #[arg(long)]
    resource_arn: String,
    /// The tags: Key=string,Value=string ... or JSON.
    #[arg(long, required = true, num_args = 1.., value_parser = items::<Tag>)]
    tags: Vec<Items<Tag>>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct UntagResource {
    /// The resource's ARN.
    #[arg(long)]
    resource_arn: String,
    /// The keys of the tags to remove: key1 key2 ... or a JSON list.
    #[arg(long, required = true, num_args = 1.., value_parser = names)]
    tag_keys: Vec<Items<String>>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct ListTagsForResource {
    /// The resource's ARN.
    #[arg(long)]
    resource_arn: String,
    /// The nextToken of the previous page.
    #[arg(long)]
    next_token: Option<String>,
    #[command(flatten)]
    global: Global,
}

pub async fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::TagResource(args) => {
            let request = TagResourceRequest {
                resource_arn: args.resource_arn,
                tags: flatten(args.tags),
            };
            let result = client(&args.global)?.tag_resource(request).await;
            reply(&args.global, "TagResource", result)
        }
        Command::UntagResource(args) => {
            let request = UntagResourceRequest {
                resource_arn: args.resource_arn,
                tag_keys: flatten(args.tag_keys),
            };
            let result = client(&args.global)?.untag_resource(request).await;
            reply(&args.global, "UntagResource", result)
        }
        Command::ListTagsForResource(args) => {
            let request = ListTagsForResourceRequest {
                resource_arn: args.resource_arn,
                next_token: args.next_token.unwrap_or_default(),
            };
            let result = client(&args.global)?.list_tags_for_resource(request).await;
            reply(&args.global, "ListTagsForResource", result)
        }
    }
}
