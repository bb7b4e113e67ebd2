//! The AWS CLI's pagination of list operations: every page is fetched and the names joined
//! into one answer, unless `--max-items` stops early (the answer's `nextToken` then resumes
//! with `--starting-token`) or `--no-paginate` asks for one call.

use std::future::Future;

use clap::Args;
use tonic::{Response, Status};

use ferry_proto::registry::v1 as registry;

/// The most names the registry gives in one page.
const MAX_PAGE_SIZE: usize = 1000;

#[derive(Args, Clone, Debug)]
pub struct Paging {
    /// Where to start: the nextToken of an answer that --max-items cut short.
    #[arg(long)]
    starting_token: Option<String>,
    /// Print at most this many names; the answer's nextToken then says where to resume.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_items: Option<u32>,
    /// Names asked for per call (1-1000; the registry's default is 100).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=1000))]
    page_size: Option<i32>,
    /// Make one call and print its page as it is, with its nextToken.
    #[arg(long)]
    no_paginate: bool,
}

/// A list operation's answer: its names and the token of the next page.
pub trait Page: Default {
    fn items(&mut self) -> &mut Vec<String>;
    fn next_token(&mut self) -> &mut String;
}

macro_rules! pages {
    ($($response:ty => $items:ident,)+) => {$(
        impl Page for $response {
            fn items(&mut self) -> &mut Vec<String> {
                &mut self.$items
            }
            fn next_token(&mut self) -> &mut String {
                &mut self.next_token
            }
        }
    )+};
}

pages! {
    registry::ListApplicationsResponse => applications,
    registry::ListDeploymentConfigsResponse => deployment_configs_list,
    registry::ListDeploymentGroupsResponse => deployment_groups,
    registry::ListOnPremisesInstancesResponse => instance_names,
}

impl Paging {
    /// Calls `call(token, page_size)` page after page and joins the pages into one answer.
    pub async fn collect<M, F, Fut>(&self, mut call: F) -> Result<Response<M>, Status>
    where
        M: Page,
        F: FnMut(String, i32) -> Fut,
        Fut: Future<Output = Result<Response<M>, Status>>,
    {
        let mut token = self.starting_token.clone().unwrap_or_default();
        let mut joined: Option<M> = None;
        loop {
            let got = joined.as_mut().map_or(0, |page| page.items().len());
            let remaining = self.max_items.map(|max| (max as usize).saturating_sub(got));
            let page_size = match (remaining, self.page_size) {
                // Never more than --max-items still wants, so a page is never cut and the
                // service's own token resumes exactly after the last name printed.
                (Some(remaining), size) => {
                    let size = size.map_or(MAX_PAGE_SIZE, |s| s.unsigned_abs() as usize);
                    i32::try_from(remaining.min(size).min(MAX_PAGE_SIZE)).unwrap_or(0)
                }
                (None, size) => size.unwrap_or(0),
            };
            let mut page = call(std::mem::take(&mut token), page_size)
                .await?
                .into_inner();
            token = std::mem::take(page.next_token());
            let mut all = match joined.take() {
                Some(mut all) => {
                    all.items().append(page.items());
                    all
                }
                None => page,
            };
            let full = self
                .max_items
                .is_some_and(|max| all.items().len() >= max as usize);
            if token.is_empty() || self.no_paginate || full {
                *all.next_token() = token;
                return Ok(Response::new(all));
            }
            joined = Some(all);
        }
    }
}

#[cfg(test)]
mod tests {
    use registry::ListApplicationsResponse;

    use super::*;

    /// A service with names a0…a(n-1), pages of `page_size` (default 2), token = next index.
    fn service(
        n: usize,
        token: String,
        page_size: i32,
        calls: &mut Vec<(String, i32)>,
    ) -> Result<Response<ListApplicationsResponse>, Status> {
        calls.push((token.clone(), page_size));
        let start: usize = token.parse().unwrap_or(0);
        let size = if page_size == 0 {
            2
        } else {
            page_size as usize
        };
        let end = (start + size).min(n);
        Ok(Response::new(ListApplicationsResponse {
            applications: (start..end).map(|i| format!("a{i}")).collect(),
            next_token: if end < n {
                end.to_string()
            } else {
                String::new()
            },
        }))
    }

    fn paging(args: &[&str]) -> Paging {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            paging: Paging,
        }
        let args = std::iter::once("x").chain(args.iter().copied());
        <Cli as clap::Parser>::parse_from(args).paging
    }

    async fn run(args: &[&str], n: usize) -> (ListApplicationsResponse, Vec<(String, i32)>) {
        let mut calls = Vec::new();
        let answer = paging(args)
            .collect(|token, size| std::future::ready(service(n, token, size, &mut calls)))
            .await
            .unwrap()
            .into_inner();
        (answer, calls)
    }

    #[tokio::test]
    async fn every_page_is_joined() {
        let (answer, calls) = run(&[], 5).await;
        assert_eq!(answer.applications, ["a0", "a1", "a2", "a3", "a4"]);
        assert_eq!(answer.next_token, "");
        assert_eq!(calls.len(), 3);
    }

    #[tokio::test]
    async fn max_items_stops_with_a_token_that_resumes() {
        let (answer, calls) = run(&["--max-items", "3"], 5).await;
        assert_eq!(answer.applications, ["a0", "a1", "a2"]);
        assert_eq!(answer.next_token, "3");
        assert_eq!(calls, [(String::new(), 3)]);
        let (rest, _) = run(&["--starting-token", "3"], 5).await;
        assert_eq!(rest.applications, ["a3", "a4"]);
    }

    #[tokio::test]
    async fn no_paginate_makes_one_call() {
        let (answer, calls) = run(&["--no-paginate", "--page-size", "1"], 5).await;
        assert_eq!(answer.applications, ["a0"]);
        assert_eq!(answer.next_token, "1");
        assert_eq!(calls, [(String::new(), 1)]);
    }
}
