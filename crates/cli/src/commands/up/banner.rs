//! What `ferry up` prints on stdout once it is ready: where it is, where its data is, its
//! local agents, and the `ferry` commands that deploy the example site to them. The first
//! line is always `ferry is up at http://HOST:PORT`, for people and scripts alike.

use std::fmt;
use std::path::Path;

use super::DEFAULT_LISTEN;
use super::agents::{TAG_KEY, TAG_VALUE};

pub struct Banner<'a> {
    /// `http://HOST:PORT`.
    pub endpoint: &'a str,
    pub data_dir: &'a Path,
    /// The local agents' instance names, in order.
    pub agents: &'a [String],
}

impl fmt::Display for Banner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = format!("{TAG_KEY}={TAG_VALUE}");
        writeln!(f, "ferry is up at {}", self.endpoint)?;
        writeln!(f, "  data dir  {}", self.data_dir.display())?;
        match self.agents {
            [] => writeln!(
                f,
                "  agents    none: start with --agents N, or tag your own instances {tag}"
            )?,
            [only] => writeln!(f, "  agents    {only}, tag {tag}")?,
            [first, .., last] => writeln!(f, "  agents    {first} … {last}, tag {tag}")?,
        }
        writeln!(f)?;
        writeln!(f, "Next, in another terminal:")?;
        if self.endpoint != format!("http://{DEFAULT_LISTEN}") {
            writeln!(f, "  export FERRY_ENDPOINT={}", self.endpoint)?;
        }
        for line in [
            "ferry create-application --application-name demo".to_owned(),
            format!(
                "ferry create-deployment-group --application-name demo --deployment-group-name local \
                 --on-premises-instance-tag-filters Key={TAG_KEY},Value={TAG_VALUE},Type=KEY_AND_VALUE \
                 --service-role-arn arn:aws:iam::000000000000:role/ferry"
            ),
            "ferry push --application-name demo --source examples/hello-site --output json"
                .to_owned(),
            "ferry create-deployment --application-name demo --deployment-group-name local \
             --revision '<the revision JSON push printed>' --watch"
                .to_owned(),
        ] {
            writeln!(f, "  {line}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Ctrl-C stops ferry; the same `ferry up` again carries on with this data."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: u32) -> Vec<String> {
        (1..=n).map(super::super::agents::instance_name).collect()
    }

    #[test]
    fn the_default_address_needs_no_endpoint() {
        let agents = names(3);
        let text = Banner {
            endpoint: "http://127.0.0.1:50051",
            data_dir: Path::new("/srv/ferry-data"),
            agents: &agents,
        }
        .to_string();
        let expected = "\
ferry is up at http://127.0.0.1:50051
  data dir  /srv/ferry-data
  agents    local-1 … local-3, tag ferry-up=local

Next, in another terminal:
  ferry create-application --application-name demo
  ferry create-deployment-group --application-name demo --deployment-group-name local --on-premises-instance-tag-filters Key=ferry-up,Value=local,Type=KEY_AND_VALUE --service-role-arn arn:aws:iam::000000000000:role/ferry
  ferry push --application-name demo --source examples/hello-site --output json
  ferry create-deployment --application-name demo --deployment-group-name local --revision '<the revision JSON push printed>' --watch

Ctrl-C stops ferry; the same `ferry up` again carries on with this data.
";
        assert_eq!(text, expected);
    }

    #[test]
    fn another_address_is_exported_first() {
        let agents = names(1);
        let text = Banner {
            endpoint: "http://127.0.0.1:40123",
            data_dir: Path::new("/tmp/d"),
            agents: &agents,
        }
        .to_string();
        assert!(text.starts_with("ferry is up at http://127.0.0.1:40123\n"));
        assert!(text.contains("  agents    local-1, tag ferry-up=local\n"));
        assert!(text.contains(
            "Next, in another terminal:\n  export FERRY_ENDPOINT=http://127.0.0.1:40123\n  ferry create-application"
        ));
    }

    #[test]
    fn no_agents_says_how_to_get_some() {
        let text = Banner {
            endpoint: "http://127.0.0.1:50051",
            data_dir: Path::new("/tmp/d"),
            agents: &[],
        }
        .to_string();
        assert!(
            text.contains("  agents    none: start with --agents N, or tag your own instances ferry-up=local\n"),
            "{text}"
        );
    }
}
