//! Users and groups from `/etc/passwd` and `/etc/group`, read directly: the agent is a static
//! binary, and NSS modules (LDAP, sssd) cannot be loaded into it. Hosts that keep their users
//! only in a directory service need them mirrored locally (for `runas` and `permissions`).

use std::io;
use std::path::{Path, PathBuf};

/// A local account, as `runas` and `owner` need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: PathBuf,
}

/// Where the account databases are; tests point this at their own files.
#[derive(Clone, Debug)]
pub struct Accounts {
    passwd: PathBuf,
    group: PathBuf,
}

impl Default for Accounts {
    fn default() -> Self {
        Self {
            passwd: PathBuf::from("/etc/passwd"),
            group: PathBuf::from("/etc/group"),
        }
    }
}

impl Accounts {
    pub fn at(passwd: impl Into<PathBuf>, group: impl Into<PathBuf>) -> Self {
        Self {
            passwd: passwd.into(),
            group: group.into(),
        }
    }

    /// The user with this name, or with this numeric id when `name` is all digits.
    pub fn user(&self, name: &str) -> io::Result<Option<User>> {
        let text = read(&self.passwd)?;
        Ok(text.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 7 || line.starts_with('#') {
                return None;
            }
            let user = User {
                name: fields[0].to_owned(),
                uid: fields[2].parse().ok()?,
                gid: fields[3].parse().ok()?,
                home: PathBuf::from(fields[5]),
                shell: PathBuf::from(fields[6]),
            };
            (user.name == name || name.parse() == Ok(user.uid)).then_some(user)
        }))
    }

    /// The id of the group with this name, or the number itself when `name` is all digits.
    pub fn group_id(&self, name: &str) -> io::Result<Option<u32>> {
        let text = read(&self.group)?;
        let named = text.lines().find_map(|line| {
            let mut fields = line.split(':');
            let group = fields.next()?;
            let gid = fields.nth(1)?.parse().ok()?;
            (group == name).then_some(gid)
        });
        Ok(named.or_else(|| name.parse().ok()))
    }
}

fn read(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_users_and_groups_by_name_and_id() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        let group = dir.path().join("group");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/bash\n# comment\nweb:x:1001:1002::/srv/web:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(&group, "root:x:0:\nwww:x:1002:web\n").unwrap();
        let accounts = Accounts::at(&passwd, &group);

        let web = accounts.user("web").unwrap().unwrap();
        assert_eq!((web.uid, web.gid), (1001, 1002));
        assert_eq!(web.home, PathBuf::from("/srv/web"));
        assert_eq!(accounts.user("1001").unwrap().unwrap().name, "web");
        assert_eq!(accounts.user("nobody-here").unwrap(), None);
        assert_eq!(accounts.group_id("www").unwrap(), Some(1002));
        assert_eq!(accounts.group_id("4242").unwrap(), Some(4242));
        assert_eq!(accounts.group_id("missing").unwrap(), None);
    }
}
