//! Why an HTTP exchange with a master or an agent failed, in a few words:
//! connection refused, timed out, the host name did not resolve, the TLS
//! handshake failed, rather than reqwest's "error sending request for url
//! (...)". Found by walking the error's source chain (reqwest, hyper,
//! hyper-util's connector, the OS error or rustls's).

use std::error::Error;

/// What went wrong with one HTTP exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpCause {
    /// Nothing listens at the address.
    Refused,
    /// Connecting or the whole call took longer than allowed.
    TimedOut,
    /// The host name does not resolve; the resolver's words.
    Dns(String),
    /// The TLS handshake failed; rustls's words.
    Tls(String),
    /// The peer closed or reset the connection.
    Reset,
    /// Anything else: the innermost message.
    Other(String),
}

impl std::fmt::Display for HttpCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused => f.write_str("connection refused"),
            Self::TimedOut => f.write_str("timed out"),
            Self::Dns(detail) => write!(f, "cannot resolve the host name ({detail})"),
            Self::Tls(detail) => write!(f, "TLS handshake failed: {detail}"),
            Self::Reset => f.write_str("the connection was closed by the other end"),
            Self::Other(detail) => f.write_str(detail),
        }
    }
}

impl HttpCause {
    /// Classifies `error` by what its source chain holds.
    pub fn of(error: &reqwest::Error) -> HttpCause {
        let mut chain: Vec<&(dyn Error + 'static)> = Vec::new();
        let mut next: Option<&(dyn Error + 'static)> = Some(error);
        while let Some(cause) = next {
            chain.push(cause);
            // An `io::Error` wrapping another error (rustls's, or another
            // `io::Error`) answers `source()` with the inner one's source,
            // skipping it: take the inner one itself.
            next = match cause.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
                Some(inner) => Some(inner as &(dyn Error + 'static)),
                None => cause.source(),
            };
        }
        // The resolver's failure sits under hyper-util's "dns error".
        if let Some(at) = chain.iter().position(|e| e.to_string() == "dns error") {
            let detail = chain
                .get(at + 1)
                .map(|e| e.to_string())
                .unwrap_or_else(|| "no answer".into());
            return HttpCause::Dns(detail);
        }
        if let Some(tls) = chain.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
            return HttpCause::Tls(tls.to_string());
        }
        for cause in &chain {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => return HttpCause::Refused,
                    std::io::ErrorKind::TimedOut => return HttpCause::TimedOut,
                    std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof => return HttpCause::Reset,
                    _ => {}
                }
            }
        }
        if error.is_timeout() {
            return HttpCause::TimedOut;
        }
        let innermost = chain.last().map(|e| e.to_string()).unwrap_or_default();
        if innermost.contains("connection closed before message completed") {
            return HttpCause::Reset;
        }
        HttpCause::Other(innermost)
    }
}

/// `HttpCause::of(error)` in words.
pub fn http_cause(error: &reqwest::Error) -> String {
    HttpCause::of(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn get(url: &str) -> reqwest::Error {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        client.get(url).send().await.unwrap_err()
    }

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        // Bound then dropped: nothing listens there now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = get(&format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(HttpCause::of(&error), HttpCause::Refused, "{error:?}");
        assert_eq!(http_cause(&error), "connection refused");
    }

    #[tokio::test]
    async fn an_unresolvable_host_is_a_dns_failure() {
        // `.invalid` never resolves (RFC 6761).
        let error = get("http://mesos-master.invalid:5050/").await;
        let cause = HttpCause::of(&error);
        assert!(matches!(cause, HttpCause::Dns(_)), "{cause:?} from {error:?}");
        assert!(
            http_cause(&error).starts_with("cannot resolve the host name"),
            "{cause}"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let error = get(&format!("http://{addr}/")).await;
        assert_eq!(HttpCause::of(&error), HttpCause::TimedOut, "{error:?}");
    }

    #[tokio::test]
    async fn plain_http_where_tls_is_expected_is_a_tls_failure() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _server = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let error = get(&format!("https://{addr}/")).await;
        let cause = HttpCause::of(&error);
        assert!(matches!(cause, HttpCause::Tls(_)), "{cause:?} from {error:?}");
    }
}
