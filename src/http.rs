//! Rules every HTTP client in chuks-ci follows: rustls with ring, and plain http only to loopback.

use reqwest::Url;

/// Installs ring as rustls's provider; reqwest and octocrab are built without a default one.
/// Installing twice is harmless.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The host of a plain-http URL that is not loopback: sending a token there would expose it.
pub fn insecure_host(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    (url.scheme() == "http" && !is_loopback(host)).then(|| host.to_string())
}

/// The TLS failure behind a transport error, if that is what it was. rustls errors travel
/// wrapped in (possibly nested) `io::Error`s, whose `source()` skips the wrapped error, so each
/// wrapper is opened instead.
pub fn tls_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(err);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        cause = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// Words a failed exchange for messages: the innermost I/O error says the most.
pub fn describe_transport(err: &(dyn std::error::Error + 'static)) -> String {
    let causes = || std::iter::successors(Some(err), |cause| cause.source());
    match causes().find_map(|cause| cause.downcast_ref::<std::io::Error>()) {
        Some(io) if io.kind() == std::io::ErrorKind::TimedOut => "timed out".to_string(),
        Some(io) => format!("connection failed ({io})"),
        None => {
            // Some errors append a backtrace after the first line.
            let innermost = causes().last().unwrap_or(err).to_string();
            let first = innermost.lines().next().unwrap_or_default();
            format!("request failed ({first})")
        }
    }
}

/// Whether `host` is loopback (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_found_inside_io_errors() {
        let wrapped = std::io::Error::other(rustls::Error::DecryptError);
        assert!(tls_failure(&wrapped).is_some());
        let nested = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::DecryptError,
        ));
        assert!(tls_failure(&nested).is_some());
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(tls_failure(&plain), None);
    }

    #[test]
    fn only_remote_plain_http_is_insecure() {
        let host = |text: &str| insecure_host(&Url::parse(text).unwrap());
        assert_eq!(
            host("http://packages.chuks.org"),
            Some("packages.chuks.org".to_string())
        );
        assert_eq!(host("http://10.0.0.1:8080"), Some("10.0.0.1".to_string()));
        for safe in [
            "https://registry.chuks.org/backend",
            "http://127.0.0.1:1",
            "http://[::1]:8080",
            "http://localhost",
        ] {
            assert_eq!(host(safe), None, "{safe}");
        }
    }
}
