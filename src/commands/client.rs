//! What every command that talks to the controller shares: the typed
//! client (`sextant_api::client`) set up from the flags, the environment
//! and the config file, and the one table renderer.

use std::path::Path;

use anyhow::{Context, Result};
use sextant_api::client::Client;
use sextant_api::client::config::{ClientConfig, DEFAULT_SERVER, default_path};

/// The client for `--server` / `SEXTANT_SERVER` and `--token` /
/// `SEXTANT_TOKEN`, each falling back on the config file (`--config`, or
/// ~/.config/sextant/config.yaml when it exists), then on the default.
pub fn connect(
    server: Option<&str>,
    token: Option<&str>,
    ca_cert: Option<&Path>,
    config: Option<&Path>,
) -> Result<Client> {
    let file = match config {
        Some(path) => ClientConfig::load(path, true)?,
        None => match default_path() {
            Some(path) => ClientConfig::load(&path, false)?,
            None => ClientConfig::default(),
        },
    };
    let server = server.map(str::to_string).or(file.server.clone());
    let token = match token {
        Some(t) => Some(t.to_string()),
        None => file.token()?,
    };
    let ca = match ca_cert.map(Path::to_path_buf).or(file.ca_cert.clone()) {
        Some(path) => {
            Some(std::fs::read(&path).with_context(|| format!("cannot read the CA certificate {}", path.display()))?)
        }
        None => None,
    };
    Ok(Client::with_root_ca(
        server.as_deref().unwrap_or(DEFAULT_SERVER),
        token.as_deref(),
        ca.as_deref(),
    )?)
}

/// Rows as left-aligned columns three spaces apart, each line after
/// `indent`.
pub fn table(rows: &[Vec<String>], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
