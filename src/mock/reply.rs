//! What the mock answers, between the request handler and the wire. The handler builds an
//! [`Reply`] that keeps every rule of the contract; the fault layer ([`super::rewrite`])
//! may then bend it, knowing what kind of answer it is ([`Made`]); [`Reply::into_response`] puts
//! it on the wire. Keeping the answer in this shape until the end is what lets the faults that
//! only rewrite an answer live in one place instead of in the handler's branches.

use super::errors::ApiError;
use super::query::{ReadKind, ServedResource};
use axum::body::Body as HttpBody;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};

/// The body of an answer.
#[derive(Debug, Clone)]
pub enum ReplyBody {
    /// A JSON value, serialised on the way out.
    Json(Value),
    /// JSON text the query engine wrote straight from the store (the GET hot path).
    Text(Vec<u8>),
}

/// What made an answer: the facts the fault layer needs to rewrite it.
#[derive(Debug, Clone, Copy)]
pub enum Made<'a> {
    /// A GET served from the records of a resource (catalog or discovery).
    Read {
        table: &'a ServedResource,
        shape: ReadKind,
        /// The paging position the request asked for (`start.index`, 0 without it).
        start: usize,
    },
    /// An error envelope.
    Error {
        /// Malformed input (bad JSON, a body that is not an object, bad encoding).
        bad_input: bool,
        /// A method the path does not list (405).
        not_allowed: bool,
    },
    /// Any other answer (the answers of PATCH, POST and DELETE).
    Other,
}

/// One answer, before it becomes an HTTP response.
#[derive(Debug, Clone)]
pub struct Reply<'a> {
    pub status: StatusCode,
    pub body: ReplyBody,
    pub made: Made<'a>,
    /// `Location` (201 of a POST).
    pub location: Option<String>,
    /// `Allow` (405).
    pub allow: Option<String>,
    /// `WWW-Authenticate` (401).
    pub challenge: bool,
}

impl<'a> Reply<'a> {
    fn new(status: StatusCode, body: ReplyBody, made: Made<'a>) -> Self {
        Reply {
            status,
            body,
            made,
            location: None,
            allow: None,
            challenge: false,
        }
    }

    /// 200 with a JSON value.
    pub fn ok(v: Value) -> Self {
        Reply::new(StatusCode::OK, ReplyBody::Json(v), Made::Other)
    }

    /// 200 `{}`.
    pub fn empty() -> Self {
        Reply::ok(Value::Object(Map::new()))
    }

    /// 201 with the new record's path in `Location`.
    pub fn created(v: Value, location: String) -> Self {
        let mut a = Reply::new(StatusCode::CREATED, ReplyBody::Json(v), Made::Other);
        a.location = Some(location);
        a
    }

    /// 200 with a GET answer of `table`'s records.
    pub fn read(table: &'a ServedResource, shape: ReadKind, start: usize, body: ReplyBody) -> Self {
        Reply::new(
            StatusCode::OK,
            body,
            Made::Read {
                table,
                shape,
                start,
            },
        )
    }

    /// The error envelope of `e`.
    pub fn error(e: ApiError) -> Self {
        Reply::new(
            e.status,
            ReplyBody::Json(e.envelope()),
            Made::Error {
                bad_input: e.bad_input,
                not_allowed: false,
            },
        )
    }

    /// 405 for a method `path` does not list, with `Allow` (which also names HEAD and OPTIONS,
    /// served on every path).
    pub fn not_allowed(method: &str, path: &str, listed: &[&str]) -> Self {
        let mut allowed = listed.to_vec();
        allowed.extend(["HEAD", "OPTIONS"]);
        let allowed = allowed.as_slice();
        let e = ApiError::method_not_allowed(method, path, allowed);
        let mut a = Reply::new(
            e.status,
            ReplyBody::Json(e.envelope()),
            Made::Error {
                bad_input: false,
                not_allowed: true,
            },
        );
        a.allow = Some(allowed.join(", "));
        a
    }

    /// 401, with the Basic challenge.
    pub fn unauthorized() -> Self {
        let mut a = Reply::error(ApiError::unauthorized());
        a.challenge = true;
        a
    }

    /// 200 for OPTIONS: `Allow` lists the methods of the path.
    pub fn options(allowed: &[&str]) -> Self {
        let mut a = Reply::empty();
        a.allow = Some(allowed.join(", "));
        a
    }

    /// The HTTP response; `hal` picks the content type; `head` keeps the headers of the answer
    /// (its `Content-Length` included) and drops the body.
    pub fn into_response(self, hal: bool, head: bool) -> Response {
        let bytes = match self.body {
            ReplyBody::Json(v) => serde_json::to_vec(&v).unwrap_or_else(|_| b"{}".to_vec()),
            ReplyBody::Text(b) => b,
        };
        let len = bytes.len();
        let mut resp = Response::new(if head {
            HttpBody::empty()
        } else {
            HttpBody::from(bytes)
        });
        if head {
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        *resp.status_mut() = self.status;
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(if hal {
                "application/hal+json"
            } else {
                "application/json"
            }),
        );
        if self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ontap-conform mock\""),
            );
        }
        if let Some(h) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, h);
        }
        if let Some(h) = self.allow.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::ALLOW, h);
        }
        resp
    }
}

impl From<ApiError> for Reply<'_> {
    fn from(e: ApiError) -> Self {
        Reply::error(e)
    }
}
