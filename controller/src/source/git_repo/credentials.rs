//! What reaches git besides its arguments, and the secrets in it: the clean
//! environment every git runs with, the config passed as `GIT_CONFIG_COUNT`
//! environment entries (the remote url, a Basic `Authorization` header, the
//! SSH command), the credentials file read for it (one `USER:TOKEN`, a bare
//! token, or git-credential-store lines matched like git does), and the url
//! handling this needs: splitting into parts, percent-decoding, and
//! redacting passwords and tokens from anything shown.

use std::fs;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::run::shell_quote;
use super::{GitAuth, GitError};

/// User name sent with a bare token; GitHub and GitLab accept any user name
/// with a token as the password.
const TOKEN_USER: &str = "x-access-token";

/// Environment passed through to git; everything else is cleared.
const PASSTHROUGH_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "SSH_AUTH_SOCK",
    "GIT_EXEC_PATH",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "http_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// What one git invocation gets besides its arguments: config entries
/// (passed as `GIT_CONFIG_KEY_n`/`VALUE_n`), environment variables, and the
/// secrets to redact from its messages.
#[derive(Debug, Default)]
pub(super) struct GitEnv {
    config: Vec<(String, String)>,
    pub(super) vars: Vec<(&'static str, String)>,
    pub(super) secrets: Vec<String>,
}

impl GitEnv {
    /// The config every git gets: no credential helper, nothing detached.
    pub(super) fn base() -> Self {
        let config = [
            // Empty values reset lists inherited from any other config.
            ("credential.helper", ""),
            // A detached gc would outlive the deadline and the process group.
            ("gc.autoDetach", "false"),
            ("maintenance.autoDetach", "false"),
        ];
        Self {
            config: config.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..Self::default()
        }
    }

    /// The environment of a fetch: the remote, and credentials read now so
    /// a rotated token is used. `known_hosts` is the mirror's SSH host key
    /// file.
    pub(super) fn for_fetch(url: &str, known_hosts: &Path, auth: &GitAuth) -> Result<Self, GitError> {
        let mut env = Self::base();
        env.config.push(("remote.origin.url".into(), url.to_owned()));
        if let Some(password) = url_parts(url).and_then(|u| u.password) {
            env.secrets.push(password.to_owned());
        }
        let mut ssh = format!(
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={}",
            shell_quote(&known_hosts.to_string_lossy())
        );
        if let Some(key) = &auth.ssh_key {
            fs::metadata(key).map_err(|e| GitError::Credentials {
                path: key.clone(),
                message: format!("cannot read SSH key: {e}"),
            })?;
            ssh.push_str(&format!(
                " -i {} -o IdentitiesOnly=yes",
                shell_quote(&key.to_string_lossy())
            ));
        }
        env.vars.push(("GIT_SSH_COMMAND", ssh));
        let is_http =
            url_parts(url).is_some_and(|u| matches!(u.scheme.to_ascii_lowercase().as_str(), "http" | "https"));
        if let (Some(path), true) = (&auth.credentials_file, is_http) {
            let text = fs::read_to_string(path).map_err(|e| GitError::Credentials {
                path: path.clone(),
                message: format!("cannot read credentials file: {e}"),
            })?;
            let (user, token) = parse_credentials(&text, url).map_err(|message| GitError::Credentials {
                path: path.clone(),
                message,
            })?;
            let basic = BASE64.encode(format!("{user}:{token}"));
            // Preemptive Basic auth instead of `credential.helper=store`:
            // the store helper rewrites its file on success and deletes the
            // line on a 401, which a mounted secret must not suffer.
            env.config.push(("http.extraHeader".into(), String::new()));
            env.config
                .push(("http.extraHeader".into(), format!("Authorization: Basic {basic}")));
            env.secrets.push(token);
            env.secrets.push(basic);
        }
        Ok(env)
    }

    /// git on the repository `git_dir` with a clean environment and this
    /// config.
    pub(super) fn command(&self, git_dir: &Path) -> Command {
        let mut cmd = Command::new("git");
        cmd.env_clear();
        for key in PASSTHROUGH_ENV {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        cmd.env("GIT_DIR", git_dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("SSH_ASKPASS_REQUIRE", "never")
            .env("LC_ALL", "C");
        cmd.env("GIT_CONFIG_COUNT", self.config.len().to_string());
        for (n, (key, value)) in self.config.iter().enumerate() {
            cmd.env(format!("GIT_CONFIG_KEY_{n}"), key);
            cmd.env(format!("GIT_CONFIG_VALUE_{n}"), value);
        }
        for (key, value) in &self.vars {
            cmd.env(key, value);
        }
        cmd
    }
}

/// The user and token for `url` from a credentials file's text.
fn parse_credentials(text: &str, url: &str) -> Result<(String, String), String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.iter().any(|l| l.contains("://")) {
        let remote =
            url_parts(url).ok_or_else(|| format!("cannot match the remote url {} to a line", redact_urls(url)))?;
        return lines
            .iter()
            .filter_map(|line| url_parts(line))
            .find(|line| store_line_matches(line, &remote))
            .and_then(|line| Some((percent_decode(line.user?), percent_decode(line.password?))))
            .ok_or_else(|| {
                format!(
                    "no line with a user and password matches {}://{}",
                    remote.scheme, remote.host
                )
            });
    }
    let line = match lines.as_slice() {
        [] => return Err("the file is empty".into()),
        [line] => *line,
        _ => {
            return Err(
                "expected one line (USER:TOKEN or TOKEN) or git-credential-store lines (https://USER:TOKEN@host)"
                    .into(),
            );
        }
    };
    let (user, token) = match line.split_once(':') {
        Some((user, token)) => (user, token),
        None => (TOKEN_USER, line),
    };
    if user.is_empty() || token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err("expected USER:TOKEN or a bare TOKEN, without spaces".into());
    }
    Ok((user.to_owned(), token.to_owned()))
}

/// git-credential-store's matching: same scheme, host and port; a line with
/// a path only for that path; a user in the remote url must match.
fn store_line_matches(line: &UrlParts<'_>, remote: &UrlParts<'_>) -> bool {
    let path = line.path.trim_matches('/');
    line.scheme.eq_ignore_ascii_case(remote.scheme)
        && line.host.eq_ignore_ascii_case(remote.host)
        && (path.is_empty() || path == remote.path.trim_matches('/'))
        && remote
            .user
            .is_none_or(|user| line.user.map(percent_decode).as_deref() == Some(user))
}

/// The pieces of a `scheme://[user[:password]@]host[:port][/path]` url.
#[derive(Debug)]
struct UrlParts<'a> {
    scheme: &'a str,
    user: Option<&'a str>,
    password: Option<&'a str>,
    /// Host and port.
    host: &'a str,
    path: &'a str,
}

fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority),
    };
    let (user, password) = match userinfo.map(|u| u.split_once(':').map_or((u, None), |(u, p)| (u, Some(p)))) {
        Some((user, password)) => (Some(user), password),
        None => (None, None),
    };
    Some(UrlParts {
        scheme,
        user,
        password,
        host,
        path,
    })
}

/// Replaces the password of every url in `text` with `***`, and a lone
/// HTTP(S) user name too (it is usually a token: `https://TOKEN@host`).
/// The SSH user (`ssh://git@host`) is not a secret and stays.
pub(super) fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let scheme = &rest[scheme_start..at];
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#' | '\'' | '"') || c.is_whitespace())
            .unwrap_or(after.len());
        out.push_str(&rest[..at + 3]);
        let authority = &after[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                match userinfo.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:***")),
                    None if matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") => out.push_str("***"),
                    None => out.push_str(userinfo),
                }
                out.push('@');
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::source::git_repo::Mirror;

    const T: Duration = Duration::from_secs(30);

    fn http_mirror(dir: &Path, url: &str, credentials: &str) -> Mirror {
        let file = dir.join("credentials");
        fs::write(&file, credentials).expect("write credentials");
        Mirror::new(
            url,
            "main",
            dir.join("mirror"),
            GitAuth {
                credentials_file: Some(file),
                ssh_key: None,
            },
        )
    }

    /// The fetch command's arguments and environment, as strings.
    fn fetch_command(mirror: &Mirror) -> (Vec<String>, Vec<(String, String)>) {
        let env = mirror.fetch_env().expect("env");
        let cmd = mirror.fetch_command(&env);
        let args = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let envs = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_string_lossy().into_owned(), v?.to_string_lossy().into_owned())))
            .collect();
        (args, envs)
    }

    #[test]
    fn credentials_formats_reach_git_as_env_config_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let url = "https://git.example.com:8443/org/repo.git";
        let cases = [
            ("tok-bare-123\n", "x-access-token:tok-bare-123"),
            ("  bob:tok-pair-456  \n\n", "bob:tok-pair-456"),
            (
                "https://other:wrong@elsewhere.com\nhttps://carol:tok%2Fstore@git.example.com:8443\n",
                "carol:tok/store",
            ),
        ];
        for (text, pair) in cases {
            let mirror = http_mirror(tmp.path(), url, text);
            let (args, envs) = fetch_command(&mirror);
            let header = format!("Authorization: Basic {}", BASE64.encode(pair));
            let value_of = |key: &str| envs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            let count: usize = value_of("GIT_CONFIG_COUNT").expect("count").parse().expect("number");
            let config: Vec<(String, String)> = (0..count)
                .map(|n| {
                    (
                        value_of(&format!("GIT_CONFIG_KEY_{n}")).expect("key"),
                        value_of(&format!("GIT_CONFIG_VALUE_{n}")).expect("value"),
                    )
                })
                .collect();
            assert!(
                config.contains(&("http.extraHeader".into(), header.clone())),
                "{text}: {config:?}"
            );
            assert!(config.contains(&("remote.origin.url".into(), url.into())));
            let token = pair.split_once(':').expect("pair").1;
            for arg in &args {
                assert!(
                    !arg.contains(token) && !arg.contains(&header) && !arg.contains("example"),
                    "{arg}"
                );
            }
            assert_eq!(value_of("GIT_TERMINAL_PROMPT").as_deref(), Some("0"));
            assert_eq!(value_of("LC_ALL").as_deref(), Some("C"));
        }
    }

    #[test]
    fn credentials_file_errors_say_what_is_wrong() {
        let url = "https://git.example.com/org/repo.git";
        let err = |text: &str| parse_credentials(text, url).expect_err(text);
        assert_eq!(err(""), "the file is empty");
        assert!(err("a\nb\n").contains("expected one line"));
        assert!(err("user:\n").contains("USER:TOKEN"));
        assert!(err("https://u:p@elsewhere.com\n").contains("https://git.example.com"));
        // A path-scoped line matches only its path; the scheme must match.
        assert!(parse_credentials("https://u:p@git.example.com/other/repo\n", url).is_err());
        assert!(parse_credentials("http://u:p@git.example.com\n", url).is_err());
        assert_eq!(
            parse_credentials("https://u:p@git.example.com/org/repo.git\n", url),
            Ok(("u".into(), "p".into()))
        );
        // A user in the remote url picks that user's line.
        assert_eq!(
            parse_credentials(
                "https://a:pa@git.example.com\nhttps://b:pb@git.example.com\n",
                "https://b@git.example.com/x"
            ),
            Ok(("b".into(), "pb".into()))
        );

        let tmp = tempfile::tempdir().expect("tempdir");
        let mirror = Mirror::new(
            url,
            "main",
            tmp.path().join("m"),
            GitAuth {
                credentials_file: Some(tmp.path().join("missing")),
                ssh_key: None,
            },
        );
        let err = mirror.fetch(T).expect_err("missing file");
        assert_eq!(err.category(), "GitCredentials");
        assert!(
            err.to_string().contains("cannot read credentials file: No such file"),
            "{err}"
        );
    }

    #[test]
    fn credentials_are_ignored_for_non_http_remotes_and_ssh_is_quoted() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let key = tmp.path().join("it's a key");
        fs::write(&key, "key").expect("write key");
        let mirror = Mirror::new(
            "ssh://git@example.com/repo.git",
            "main",
            tmp.path().join("my mirror"),
            GitAuth {
                credentials_file: Some(tmp.path().join("never read")),
                ssh_key: Some(key),
            },
        );
        let (_, envs) = fetch_command(&mirror);
        assert!(!envs.iter().any(|(_, v)| v.contains("Authorization")));
        let ssh = envs
            .iter()
            .find(|(k, _)| k == "GIT_SSH_COMMAND")
            .expect("ssh")
            .1
            .clone();
        let dir = tmp.path().display();
        assert_eq!(
            ssh,
            format!(
                "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='{dir}/my mirror/known_hosts' -i '{dir}/it'\\''s a key' -o IdentitiesOnly=yes"
            )
        );
    }
}
