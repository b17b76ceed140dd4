//! etcd authentication for tests: a `root` user and an application user
//! whose role may read and write one key prefix only.

use crate::cluster::EtcdCluster;

/// The users [`Auth::enable`] creates.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Password of `root` (needed by etcdctl once auth is on).
    pub root_password: String,
    /// The application user and its password.
    pub user: String,
    pub password: String,
    /// The only key prefix the application user's role may use.
    pub prefix: String,
}

impl Auth {
    /// `user`/`password` limited to keys under `prefix`.
    pub fn new(user: &str, password: &str, prefix: &str) -> Self {
        Auth {
            root_password: format!("root-{}", std::process::id()),
            user: user.to_string(),
            password: password.to_string(),
            prefix: prefix.to_string(),
        }
    }

    /// Creates the users and the role, then turns authentication on.
    pub fn enable(&self, cluster: &EtcdCluster) -> std::io::Result<()> {
        let role = format!("{}-role", self.user);
        let root_password = format!("--new-user-password={}", self.root_password);
        let password = format!("--new-user-password={}", self.password);
        let steps: [&[&str]; 7] = [
            &["user", "add", "root", &root_password, "--interactive=false"],
            &["user", "grant-role", "root", "root"],
            &["role", "add", &role],
            &[
                "role",
                "grant-permission",
                &role,
                "--prefix=true",
                "readwrite",
                &self.prefix,
            ],
            &["user", "add", &self.user, &password, "--interactive=false"],
            &["user", "grant-role", &self.user, &role],
            &["auth", "enable"],
        ];
        for step in steps {
            let output = cluster.etcdctl(step)?;
            if !output.status.success() {
                return Err(std::io::Error::other(format!(
                    "etcdctl {} failed: {}",
                    step[..2].join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
        }
        Ok(())
    }

    /// The etcdctl flag that authenticates as root.
    pub fn root_flag(&self) -> String {
        format!("--user=root:{}", self.root_password)
    }
}
