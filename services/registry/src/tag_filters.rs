//! Which instances a set of tag filters selects, as CodeDeploy matches them: a flat filter list
//! selects an instance matching ANY filter; a tag set selects an instance matching at least one
//! filter of EVERY group in the set.

use ferry_proto::common::v1::{TagFilter, TagFilterType};

/// A deployment group's way of naming its on-premises instances.
#[derive(Clone, Debug, PartialEq)]
pub enum InstanceSelector {
    /// `on_premises_instance_tag_filters`: any filter matches.
    AnyOf(Vec<TagFilter>),
    /// `on_premises_tag_set`: every group has a matching filter.
    AllGroups(Vec<Vec<TagFilter>>),
}

/// True when an instance with these tags matches the filter.
pub fn filter_matches(filter: &TagFilter, tags: &[(String, String)]) -> bool {
    match TagFilterType::try_from(filter.r#type).unwrap_or(TagFilterType::Unspecified) {
        TagFilterType::KeyOnly => tags.iter().any(|(key, _)| *key == filter.key),
        TagFilterType::ValueOnly => tags.iter().any(|(_, value)| *value == filter.value),
        TagFilterType::KeyAndValue => tags
            .iter()
            .any(|(key, value)| *key == filter.key && *value == filter.value),
        TagFilterType::Unspecified => false,
    }
}

impl InstanceSelector {
    /// True when an instance with these tags is selected.
    pub fn matches(&self, tags: &[(String, String)]) -> bool {
        match self {
            Self::AnyOf(filters) => filters.iter().any(|f| filter_matches(f, tags)),
            Self::AllGroups(groups) => {
                !groups.is_empty()
                    && groups
                        .iter()
                        .all(|group| group.iter().any(|f| filter_matches(f, tags)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(key: &str, value: &str, kind: TagFilterType) -> TagFilter {
        TagFilter {
            key: key.into(),
            value: value.into(),
            r#type: kind as i32,
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_filter_type_matches_its_part_of_a_tag() {
        let host = tags(&[("env", "prod"), ("role", "web")]);
        assert!(filter_matches(
            &filter("env", "", TagFilterType::KeyOnly),
            &host
        ));
        assert!(filter_matches(
            &filter("", "web", TagFilterType::ValueOnly),
            &host
        ));
        assert!(filter_matches(
            &filter("env", "prod", TagFilterType::KeyAndValue),
            &host
        ));
        assert!(!filter_matches(
            &filter("env", "web", TagFilterType::KeyAndValue),
            &host
        ));
        assert!(!filter_matches(
            &filter("env", "prod", TagFilterType::Unspecified),
            &host
        ));
    }

    #[test]
    fn a_list_is_any_of_and_a_set_is_every_group() {
        let prod_web = tags(&[("env", "prod"), ("role", "web")]);
        let prod_db = tags(&[("env", "prod"), ("role", "db")]);
        let any = InstanceSelector::AnyOf(vec![
            filter("role", "web", TagFilterType::KeyAndValue),
            filter("role", "cache", TagFilterType::KeyAndValue),
        ]);
        assert!(any.matches(&prod_web));
        assert!(!any.matches(&prod_db));
        let set = InstanceSelector::AllGroups(vec![
            vec![filter("env", "prod", TagFilterType::KeyAndValue)],
            vec![
                filter("role", "web", TagFilterType::KeyAndValue),
                filter("role", "api", TagFilterType::KeyAndValue),
            ],
        ]);
        assert!(set.matches(&prod_web));
        assert!(!set.matches(&prod_db));
        assert!(!InstanceSelector::AllGroups(vec![]).matches(&prod_web));
    }
}
