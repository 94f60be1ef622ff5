//! The request extractors every handler takes its input through: a JSON body, a query string, path
//! parameters and a text body. Each refuses bad input as an [`ApiError`] in the one JSON contract, with
//! the field that is wrong first: `unit: invalid type: string "x", expected i64`,
//! `limit: invalid digit found in string`, `id: cannot parse "abc"...`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// A JSON body sent as `application/json` (else 415), deserialised into `T`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        crate::headers::require_json(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(unread_body)?;
        parse_json(&bytes).map(Body)
    }
}

/// A UTF-8 text body (a calendar file).
pub struct Text(pub String);

impl<S: Send + Sync> FromRequest<S> for Text {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(unread_body)?;
        String::from_utf8(bytes.to_vec())
            .map(Text)
            .map_err(|_| ApiError::BadRequest("body: not UTF-8 text".into()))
    }
}

/// A body that could not be read keeps the status axum gives it (413 for one too large).
fn unread_body(e: BytesRejection) -> ApiError {
    ApiError::Status(e.status(), format!("body: {}", e.body_text()))
}

/// Parses JSON, naming the field that is wrong (`body` when the whole body is).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| named("body", e))
}

/// The query string, deserialised into `T`; an absent query is an empty one.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| named("query", e))
    }
}

/// The path parameters, deserialised into `T` (one value, or a tuple in the path's order).
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) => {
                let names = match RawPathParams::from_request_parts(parts, state).await {
                    Ok(params) => params.iter().map(|(k, _)| k).collect::<Vec<_>>().join(", "),
                    Err(_) => "path".into(),
                };
                Err(ApiError::BadRequest(format!("{names}: {}", e.body_text())))
            }
        }
    }
}

/// Deserialises a field that may be absent (no change), `null` (clear it) or a value, as
/// `Option<Option<T>>` with `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Reads an internally tagged enum (`{"action":"close","note":"..."}`) through `Twin`, its externally
/// tagged twin (`{"close":{"note":"..."}}`). Serde cannot follow a field's path inside an internally
/// tagged enum (it buffers the object first), so a bad field would go unnamed; through the twin the
/// error names it: `note: invalid type: integer `7`, expected a string`, `action: unknown variant...`.
pub fn retagged<'de, Twin, D>(d: D, tag: &str) -> Result<Twin, D::Error>
where
    Twin: DeserializeOwned,
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    let mut fields = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
    let variant = match fields.remove(tag) {
        Some(serde_json::Value::String(v)) => v,
        Some(other) => return Err(D::Error::custom(format!("{tag}: expected a string, not {other}"))),
        None => return Err(D::Error::custom(format!("missing field `{tag}`"))),
    };
    let twin = serde_json::json!({ variant: fields });
    serde_path_to_error::deserialize(twin).map_err(|e| {
        // The path starts with the variant; what follows is the field.
        let path = e.path().to_string();
        let field = path
            .split_once('.')
            .map(|(_, f)| f)
            .filter(|f| !f.is_empty())
            .unwrap_or(tag)
            .to_string();
        D::Error::custom(format!("{field}: {}", e.into_inner()))
    })
}

/// `field: message`, or `whole: message` when the error is not about one field (a missing field's
/// message names it: ``missing field `from` ``).
fn named<E: std::fmt::Display>(whole: &str, e: serde_path_to_error::Error<E>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if path == "." || path == "?" || path.is_empty() {
        ApiError::BadRequest(format!("{whole}: {inner}"))
    } else {
        ApiError::BadRequest(format!("{path}: {inner}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Q {
        from: String,
        limit: Option<u32>,
    }

    async fn query(uri: &str) -> ApiResult<Q> {
        let (mut parts, ()) = axum::http::Request::get(uri)
            .body(())
            .map_err(|e| ApiError::BadRequest(e.to_string()))?
            .into_parts();
        Query::<Q>::from_request_parts(&mut parts, &()).await.map(|q| q.0)
    }

    #[tokio::test]
    async fn a_bad_query_names_the_field() {
        let e = query("/x?from=a&limit=ten").await.err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("limit: invalid digit found in string"));
        let e = query("/x?limit=1").await.err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("query: missing field `from`"));
        let q = query("/x?from=%E9%84%82B&limit=3").await.ok();
        assert_eq!(q.map(|q| (q.from, q.limit)), Some(("鄂B".into(), Some(3))));
    }

    #[test]
    fn a_bad_body_names_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct B {
            unit: i64,
        }
        let e = parse_json::<B>(br#"{"unit":"x"}"#).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|m| m.starts_with("unit: invalid type")),
            "{e:?}"
        );
        let e = parse_json::<B>(b"{").err().map(|e| e.to_string());
        assert!(e.as_deref().is_some_and(|m| m.starts_with("body: ")), "{e:?}");
    }

    #[test]
    fn a_bad_field_of_a_tagged_body_is_named() {
        use crate::cases::CaseAction;
        let e = |body: &str| {
            parse_json::<CaseAction>(body.as_bytes())
                .err()
                .map(|e| e.to_string())
        };
        let m = e(r#"{"action":"close","note":7}"#);
        assert!(
            m.as_deref().is_some_and(|m| m.contains("note: invalid type")),
            "{m:?}"
        );
        let m = e(r#"{"action":"dance"}"#);
        assert!(
            m.as_deref()
                .is_some_and(|m| m.contains("action: unknown variant")),
            "{m:?}"
        );
        let m = e(r#"{"note":"x"}"#);
        assert!(
            m.as_deref().is_some_and(|m| m.contains("missing field `action`")),
            "{m:?}"
        );
        let m = e(r#"{"action":"explain"}"#);
        assert!(
            m.as_deref().is_some_and(|m| m.contains("missing field `text`")),
            "{m:?}"
        );
        let ok = parse_json::<CaseAction>(br#"{"action":"close"}"#).ok();
        assert_eq!(ok, Some(CaseAction::Close { note: None }));
        let ok = parse_json::<CaseAction>(br#"{"action":"acknowledge"}"#).ok();
        assert_eq!(ok, Some(CaseAction::Acknowledge));
    }
}
