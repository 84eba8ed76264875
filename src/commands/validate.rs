//! `sextant validate` and `sextant schema`: offline tooling over the
//! manifest types, with no server.

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use sextant_api::{LoadError, load_paths, revision};

use crate::cli::{Output, SchemaArgs, ValidateArgs};

/// One valid app, as `-o json` reports it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidApp {
    namespace: String,
    name: String,
    file: String,
    line: usize,
    revision: String,
}

/// One error, as `-o json` reports it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorView {
    file: String,
    line: usize,
    column: usize,
    field: Option<String>,
    message: String,
    /// The full `file:line:col: field: message` text.
    text: String,
}

impl From<&LoadError> for ErrorView {
    fn from(e: &LoadError) -> Self {
        ErrorView {
            file: e.file.display().to_string(),
            line: e.line,
            column: e.col,
            field: e.field.clone(),
            message: e.message.clone(),
            text: e.to_string(),
        }
    }
}

#[derive(Serialize)]
struct Report {
    valid: bool,
    apps: Vec<ValidApp>,
    errors: Vec<ErrorView>,
}

/// Exit 0 when every file is valid, 1 otherwise.
pub fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let report = match load_paths(&args.files) {
        Ok(apps) => Report {
            valid: true,
            apps: apps
                .iter()
                .map(|loaded| ValidApp {
                    namespace: loaded.namespace().to_string(),
                    name: loaded.name().to_string(),
                    file: loaded.file.display().to_string(),
                    line: loaded.line,
                    revision: revision(&loaded.app.spec),
                })
                .collect(),
            errors: Vec::new(),
        },
        Err(errors) => Report {
            valid: false,
            apps: Vec::new(),
            errors: errors.0.iter().map(ErrorView::from).collect(),
        },
    };
    match args.output {
        Output::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
        Output::Table => {
            for error in &report.errors {
                eprintln!("{}", error.text);
            }
            if report.valid {
                for app in &report.apps {
                    outln!(
                        "{}/{} ({}:{}) valid, revision {}",
                        app.namespace,
                        app.name,
                        app.file,
                        app.line,
                        app.revision
                    );
                }
                outln!("{} app(s) valid", report.apps.len());
            } else {
                eprintln!("{} error(s); nothing is valid until all are fixed", report.errors.len());
            }
        }
    }
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints the CRD (YAML) or the JSON Schema of the App kind.
pub fn schema(args: SchemaArgs) -> Result<ExitCode> {
    if args.json_schema {
        let schema = sextant_api::schema::json_schema();
        outln!("{}", serde_json::to_string_pretty(&schema)?);
    } else {
        let crd = sextant_api::schema::crd_yaml().context("cannot render the CustomResourceDefinition")?;
        out!("{crd}");
    }
    Ok(ExitCode::SUCCESS)
}
