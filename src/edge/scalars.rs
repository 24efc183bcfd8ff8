//! Scalars of our own, so the schema describes them in our words.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// An instant in UTC, as an RFC 3339 string, e.g. `2026-12-01T10:40:35.123Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<chrono::Utc>);

/// An instant in UTC, written as an RFC 3339 string (for example `2026-12-01T10:40:35Z`).
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| DateTime(d.with_timezone(&chrono::Utc)))
                .map_err(|e| InputValueError::custom(format!("not an RFC 3339 time: {e}"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }
}

impl From<chrono::DateTime<chrono::Utc>> for DateTime {
    fn from(d: chrono::DateTime<chrono::Utc>) -> Self {
        DateTime(d)
    }
}
