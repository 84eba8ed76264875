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

/// Rows as left-aligned columns three spaces apart (widths in
/// characters), each line after `indent`, trailing whitespace trimmed.
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
    // Written in place (no string per cell or line): a table can have
    // thousands of rows.
    let line_len = indent.len() + widths.iter().map(|w| w + 3).sum::<usize>();
    let mut out = String::with_capacity(rows.len() * (line_len + 1));
    for row in rows {
        let start = out.len();
        out.push_str(indent);
        for (c, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c].saturating_sub(cell.chars().count()) + 3;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let end = start + out[start..].trim_end().len();
        out.truncate(end);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::table;

    #[test]
    fn tables_align_columns_by_characters_and_trim_line_ends() {
        let rows: Vec<Vec<String>> = [
            vec!["NAME", "STATUS", "AGE"],
            vec!["café", "-", ""],
            vec!["a", "RolloutInProgress", "5m"],
            vec!["only"],
        ]
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
        assert_eq!(
            table(&rows, "  "),
            "  NAME   STATUS              AGE\n  café   -\n  a      RolloutInProgress   5m\n  only\n"
        );
        assert_eq!(table(&[], ""), "");
    }
}
