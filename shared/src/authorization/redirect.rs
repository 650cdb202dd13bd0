//! Appending parameters to a registered redirect URI without disturbing what it already holds.

/// `uri` with `pairs` added to its query string, percent-encoded as forms are. Registered URIs
/// never carry a fragment (`apps::validate_redirect_uri` refuses them), so the query is the
/// end of the URI.
pub fn append_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    let query = query.finish();
    let separator = match uri.split_once('?') {
        None => "?",
        Some((_, existing)) if existing.is_empty() || existing.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{uri}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_join_an_existing_query_string_and_are_encoded() {
        assert_eq!(append_query("https://a.example/cb", &[("code", "abc")]), "https://a.example/cb?code=abc");
        assert_eq!(
            append_query("https://a.example/cb?tenant=7", &[("code", "abc"), ("state", "a b&c=d")]),
            "https://a.example/cb?tenant=7&code=abc&state=a+b%26c%3Dd"
        );
        assert_eq!(append_query("https://a.example/cb?", &[("code", "x")]), "https://a.example/cb?code=x");
        assert_eq!(append_query("https://a.example/cb?a=1&", &[("code", "x")]), "https://a.example/cb?a=1&code=x");
    }
}
