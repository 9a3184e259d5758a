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

fn is_loopback(host: &str) -> bool {
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
    fn only_remote_plain_http_is_insecure() {
        let host = |text: &str| insecure_host(&Url::parse(text).unwrap());
        assert_eq!(
            host("http://packages.chuks.org"),
            Some("packages.chuks.org".to_string())
        );
        assert_eq!(host("http://10.0.0.1:8080"), Some("10.0.0.1".to_string()));
        for safe in [
            "https://packages.chuks.org",
            "http://127.0.0.1:1",
            "http://[::1]:8080",
            "http://localhost",
        ] {
            assert_eq!(host(safe), None, "{safe}");
        }
    }
}
