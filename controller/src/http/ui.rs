//! The web UI's files, built into the binary (`controller/ui/`, hand-written
//! HTML, CSS and JavaScript modules; no build step, nothing fetched at run
//! time): `GET /` is the page, `GET /ui/{file}` each asset.
//!
//! The files hold no data, so they are served without a token (the page
//! asks for one when the API answers 401); everything the page shows comes
//! from the documented API. Each answer carries its content type, a strong
//! ETag of its bytes (a matching `If-None-Match` gets 304), `Cache-Control:
//! no-cache` (revalidate, so a new binary's files are seen at once), and a
//! Content-Security-Policy that allows this origin's scripts, styles and
//! connections only (no inline script, no `eval`, no other host).

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sextant_api::wire::ErrorCode;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::openapi::documented;

/// The policy every UI answer carries.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the UI.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("main.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("apps.js", JS),
    asset!("app_page.js", JS),
    asset!("deploy.js", JS),
    asset!("cluster.js", JS),
    asset!("graphs.js", JS),
    asset!("chart.js", JS),
];

/// The ETag of each asset, in [`ASSETS`]' order, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.bytes);
                let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// `GET /` and `GET /ui/{file}`.
pub fn routes() -> Router {
    Router::new()
        .route(documented("GET", "/"), get(index))
        .route(documented("GET", "/ui/{file}"), get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return ApiError::new(ErrorCode::NotFound, format!("the UI has no file {name:?}")).into_response();
    };
    let (asset, etag) = (&ASSETS[i], &etags()[i]);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let status = if fresh {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut response = if fresh {
        status.into_response()
    } else {
        (status, asset.bytes).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use crate::http::test_api::{Options, serve};

    fn tokens() -> crate::http::auth::Tokens {
        crate::http::auth::Tokens::parse(
            std::path::Path::new("t.yaml"),
            "tokens: [{name: r, token: read-token-0123456789, role: read}]",
            false,
        )
        .expect("tokens")
    }

    /// Guards the login prompt: the page and its files load without a
    /// token (the API behind them still needs one), with their types,
    /// the policy, and ETags a browser revalidates with.
    #[tokio::test]
    async fn the_page_and_its_files_are_served_without_a_token_and_cached_by_etag() {
        let served = serve(Options {
            tokens: Some(tokens()),
            ..Default::default()
        })
        .await;
        let http = reqwest::Client::new();
        let page = http.get(format!("{}/", served.base)).send().await.expect("get /");
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        assert!(
            page.headers()["content-security-policy"]
                .to_str()
                .expect("csp")
                .contains("script-src 'self'")
        );
        let etag = page.headers()["etag"].clone();
        let text = page.text().await.expect("body");
        assert!(text.contains("<script type=\"module\" src=\"/ui/main.js\">"), "{text}");

        let js = http
            .get(format!("{}/ui/main.js", served.base))
            .send()
            .await
            .expect("get js");
        assert_eq!(js.status(), 200);
        assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
        let again = http
            .get(format!("{}/", served.base))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("revalidate");
        assert_eq!(again.status(), 304);

        let missing = http
            .get(format!("{}/ui/nope.js", served.base))
            .send()
            .await
            .expect("get");
        assert_eq!(missing.status(), 404);
        let api = http
            .get(format!("{}/api/v1/apps", served.base))
            .send()
            .await
            .expect("get");
        assert_eq!(api.status(), 401, "the API itself still needs a token");
    }

    /// Every file the page imports is embedded: a module that names a file
    /// the binary does not hold would break the page in the browser only.
    #[test]
    fn every_import_of_the_ui_is_embedded() {
        for asset in super::ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.bytes).expect("utf-8");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(path) = line.split(['\'', '"']).nth(1) else {
                    continue;
                };
                let name = path.trim_start_matches("./");
                assert!(
                    super::ASSETS.iter().any(|a| a.name == name),
                    "{} imports {path}, which is not embedded",
                    asset.name
                );
            }
        }
    }
}
