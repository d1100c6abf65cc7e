//! A person at the dashboard without a browser: signs in with a key (the sign-in form's
//! token and cookie, then the session cookie), reads pages and posts forms, following no
//! redirect so tests see each answer. The browser suite drives real Chromium instead.

use crate::api::Resp;

pub struct Session {
    pub base: String,
    client: reqwest::Client,
    /// `mg_session=…`.
    pub cookie: String,
    /// The session's form token, as the pages carry it.
    pub csrf: String,
}

/// A client that follows no redirect.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn read(r: reqwest::Response) -> Resp {
    Resp::read(r).await
}

/// The value of the first `name="csrf"` field of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_string())
}

/// The id of the decision a check recorded (its answer is 303 to the decision's page).
pub fn decision_of(r: &Resp) -> String {
    assert_eq!(r.status, 303, "a recorded check: {}", r.text);
    let to = r.header("location").expect("location");
    to.strip_prefix("/ui/decisions/")
        .unwrap_or_else(|| panic!("goes to the decision page, not {to}"))
        .to_string()
}

/// `name=value` of the `Set-Cookie` header setting `name`, with its attributes.
pub fn set_cookie<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_string()
}

/// Posts the sign-in form with `key`: the answer (303 and a session cookie, or the form
/// again with the problem).
pub async fn sign_in_answer(base: &str, key: &str) -> Resp {
    let c = client();
    let page = read(
        c.get(format!("{base}/ui/signin"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let token = csrf_of(&page.text).expect("the sign-in form carries a token");
    let cookie = pair(set_cookie(&page, "mg_signin").expect("the sign-in cookie"));
    read(
        c.post(format!("{base}/ui/signin"))
            .header("cookie", cookie)
            .form(&[("key", key), ("csrf", &token), ("next", "/")])
            .send()
            .await
            .expect("post"),
    )
    .await
}

impl Session {
    /// Signs in with `key` (panics unless accepted).
    pub async fn sign_in(base: &str, key: &str) -> Session {
        let r = sign_in_answer(base, key).await;
        assert_eq!(r.status, 303, "sign-in: {}", r.text);
        let cookie = pair(set_cookie(&r, "mg_session").expect("a session cookie"));
        let mut s = Session {
            base: base.to_string(),
            client: client(),
            cookie,
            csrf: String::new(),
        };
        let home = s.get("/").await;
        assert_eq!(home.status, 200, "{}", home.text);
        s.csrf = csrf_of(&home.text).expect("pages carry the session's form token");
        s
    }

    pub async fn get(&self, path: &str) -> Resp {
        read(
            self.client
                .get(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .send()
                .await
                .expect("get"),
        )
        .await
    }

    /// Posts a form with the session's token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &self.csrf));
        self.post_raw(path, &all).await
    }

    /// Posts a form as given (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        read(
            self.client
                .post(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .form(fields)
                .send()
                .await
                .expect("post"),
        )
        .await
    }

    /// Posts a `multipart/form-data` form: (name, file name if a file, bytes); the session's
    /// token is added.
    pub async fn post_multipart(&self, path: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Resp {
        let boundary = "modelgate-test-boundary-7d1c";
        let mut body = Vec::new();
        let token = [("csrf", None, self.csrf.as_bytes())];
        for (name, file, bytes) in parts.iter().chain(token.iter()) {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        read(
            self.client
                .post(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .expect("post"),
        )
        .await
    }
}
