//! Test fixtures for federation: a real upstream OpenID provider, and a browser at it.

#![allow(dead_code)]

/// A real upstream OpenID provider (panva's oidc-provider, tests/upstream/upstream.mjs) on
/// 127.0.0.1, killed when dropped.
pub struct UpstreamProvider {
    child: tokio::process::Child,
    pub issuer: String,
    /// Scheme, host and port (the issuer has a path in the Entra-shaped mode).
    pub origin: String,
}

impl UpstreamProvider {
    /// Starts one with `config` (`{"clients": [...]}`); waits until it listens.
    pub async fn start(config: serde_json::Value) -> Self {
        use tokio::io::AsyncBufReadExt;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/upstream/upstream.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(config.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs tests/upstream/upstream.mjs (npm ci in tests/upstream)");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("the upstream says where it listens within 30 s")
            .unwrap()
            .expect("the upstream printed its issuer");
        // Keep reading what it prints: a closed pipe would kill it at its next line.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let said = serde_json::from_str::<serde_json::Value>(&first).unwrap();
        let issuer = said["issuer"].as_str().unwrap().to_string();
        let origin = said["origin"].as_str().unwrap().to_string();
        Self {
            child,
            issuer,
            origin,
        }
    }
}

impl UpstreamProvider {
    /// Stops it now (killed and reaped): a sign-in under way meets a closed port.
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

impl Drop for UpstreamProvider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// What the upstream finally sends the browser back to the relying party with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamAnswer {
    /// A redirect (the default response mode): the full URL, with its query (code, state, iss;
    /// or error, error_description, state, iss).
    Redirect(String),
    /// `response_mode=form_post`: the page's auto-submitting form, where it posts and its fields.
    FormPost {
        action: String,
        fields: Vec<(String, String)>,
    },
}

impl UpstreamAnswer {
    /// One parameter of the answer (`code`, `state`, `iss`, `error`...), from the redirect's
    /// query or the form's fields.
    pub fn param(&self, name: &str) -> Option<String> {
        match self {
            Self::Redirect(to) => url::Url::parse(to)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned()),
            Self::FormPost { fields, .. } => fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
        }
    }
}

/// Follows `authorize_url` (an upstream authorization URL) as a browser would: signs in at
/// the dev login form as `login`, accepts the consent form, and returns the final redirect
/// URL the upstream sends the browser to (latchkey's callback with code/state/iss), WITHOUT
/// requesting that URL. For `response_mode=form_post` requests, returns the URL the
/// auto-submitting form posts to plus its fields instead.
pub async fn sign_in_upstream(authorize_url: &str, login: &str) -> UpstreamAnswer {
    browse_upstream(authorize_url, Some(login), true).await
}

/// As [`sign_in_upstream`], but cancels at the sign-in form ("[ Cancel ]"): the answer
/// carries `error=access_denied`.
pub async fn deny_upstream(authorize_url: &str) -> UpstreamAnswer {
    browse_upstream(authorize_url, None, false).await
}

/// As [`sign_in_upstream`], but signs in as `login` and then cancels at the consent form: the
/// answer carries `error=access_denied`.
pub async fn deny_consent_upstream(authorize_url: &str, login: &str) -> UpstreamAnswer {
    browse_upstream(authorize_url, Some(login), false).await
}

/// The browser: follows redirects by hand (cookies kept by name, as the upstream's differ in
/// path only) until one leaves the upstream's origin; fills each form of the upstream's
/// development interactions (sign-in: `login` or cancel; consent: accept if `consent`, else
/// cancel); stops at a form that posts off the origin (form_post).
async fn browse_upstream(
    authorize_url: &str,
    login: Option<&str>,
    consent: bool,
) -> UpstreamAnswer {
    enum Hop {
        Get(url::Url),
        Post(url::Url, Vec<(String, String)>),
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = url::Url::parse(authorize_url).expect("an absolute upstream authorization URL");
    let origin = start.origin();
    let mut cookies: Vec<(String, String)> = Vec::new();
    let mut trail: Vec<String> = Vec::new();
    let mut hop = Hop::Get(start);
    for _ in 0..20 {
        let (url, request) = match hop {
            Hop::Get(url) => {
                trail.push(format!("GET {url}"));
                let request = http.get(url.as_str());
                (url, request)
            }
            Hop::Post(url, fields) => {
                trail.push(format!("POST {url} {fields:?}"));
                let request = http.post(url.as_str()).form(&fields);
                (url, request)
            }
        };
        let request = if cookies.is_empty() {
            request
        } else {
            let header = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request.header(reqwest::header::COOKIE, header)
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("the upstream answers {url}: {e}"));
        for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let (name, value) = (name.trim(), value.trim());
                cookies.retain(|(k, _)| k != name);
                // An empty value with an expiry in the past is how the upstream deletes one.
                if !value.is_empty() {
                    cookies.push((name.to_string(), value.to_string()));
                }
            }
        }
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .unwrap_or_else(|| panic!("a {status} without Location at {url}"))
                .to_str()
                .unwrap();
            let target = url.join(location).unwrap();
            if target.origin() != origin {
                return UpstreamAnswer::Redirect(target.to_string());
            }
            hop = Hop::Get(target);
            continue;
        }
        let page = response.text().await.unwrap();
        let Some((action, inputs)) = first_form(&page) else {
            panic!(
                "the upstream answered {url} with {status} and no form; so far {trail:#?}:\n{page}"
            )
        };
        let action = url.join(&action).unwrap();
        if action.origin() != origin {
            let fields = inputs
                .into_iter()
                .filter(|input| input.kind == "hidden")
                .map(|input| (input.name, input.value))
                .collect();
            return UpstreamAnswer::FormPost {
                action: action.to_string(),
                fields,
            };
        }
        let signing_in = inputs.iter().any(|input| input.name == "login");
        let login = match login {
            Some(login) if signing_in || consent => login,
            _ => {
                // Either form: the page's "[ Cancel ]" link, to the interaction's abort.
                let cancel = page
                    .find(">[ Cancel ]</a>")
                    .unwrap_or_else(|| panic!("no [ Cancel ] link at {url}:\n{page}"));
                let href = page[..cancel].rfind("href=\"").unwrap() + "href=\"".len();
                let end = href + page[href..].find('"').unwrap();
                hop = Hop::Get(url.join(&unescape(&page[href..end])).unwrap());
                continue;
            }
        };
        let fields = inputs
            .into_iter()
            .filter(|input| !input.name.is_empty())
            .map(|input| {
                let value = match input.name.as_str() {
                    "login" => login.to_string(),
                    // The development sign-in takes any password.
                    "password" => "any password".to_string(),
                    _ => input.value,
                };
                (input.name, value)
            })
            .collect();
        hop = Hop::Post(action, fields);
    }
    panic!("the upstream still had not answered after 20 hops: {trail:#?}")
}

/// One `<input>` of a form: its type, name and value (empty when absent).
struct Input {
    kind: String,
    name: String,
    value: String,
}

/// The first `<form>` of a page: its action and its inputs. Enough for the upstream's own
/// pages (the development interactions and form_post), which quote every attribute with `"`
/// and escape what they put inside.
fn first_form(page: &str) -> Option<(String, Vec<Input>)> {
    let form = &page[page.find("<form")?..];
    let form = &form[..form.find("</form>")?];
    let opening = &form[..form.find('>')?];
    let action = attribute(opening, "action")?;
    let mut inputs = Vec::new();
    let mut rest = &form[opening.len()..];
    while let Some(start) = rest.find("<input") {
        rest = &rest[start..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        inputs.push(Input {
            kind: attribute(tag, "type").unwrap_or_default(),
            name: attribute(tag, "name").unwrap_or_default(),
            value: attribute(tag, "value").unwrap_or_default(),
        });
        rest = &rest[end..];
    }
    Some((action, inputs))
}

/// The value of the attribute `name="..."` in one tag, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

/// Undoes the escaping of oidc-provider's pages (&, <, >, " and ').
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
