//! Rows as a backup carries them: one JSON array per line, values in column order, written the
//! same way whichever backend they came from (timestamps in RFC 3339 UTC, JSON with sorted
//! keys, bytes in base64), so a backup taken on PostgreSQL restores into SQLite and back, and
//! the same rows give the same bytes on either.

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

use super::tables::{Kind, Table};
use crate::store::Store;

/// The statement that reads a table in key order, each column in a form both backends decode
/// the same way.
pub(crate) fn select_sql(store: &Store, table: &Table) -> String {
    let postgres = matches!(store, Store::Postgres(_));
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| match c.kind {
            // INTEGER columns decode as i32 on PostgreSQL; carry every integer as 64-bit.
            Kind::Integer if postgres => format!("{}::int8", c.name),
            Kind::Json if postgres => format!("{}::text", c.name),
            _ => c.name.to_owned(),
        })
        .collect();
    // Byte order, as SQLite compares text, so both backends write rows in the same order.
    let order: Vec<String> = table
        .key
        .iter()
        .map(|k| {
            let text = table.columns.iter().any(|c| c.name == *k && c.kind == Kind::Text);
            if postgres && text { format!("{k} COLLATE \"C\"") } else { (*k).to_owned() }
        })
        .collect();
    format!("SELECT {} FROM {} ORDER BY {}", columns.join(", "), table.name, order.join(", "))
}

/// Reads one row into its backup line (a JSON array and a newline) with `$row.try_get`, for
/// either backend's row type.
macro_rules! encode_row {
    ($row:expr, $table:expr, $line:expr) => {{
        use sqlx::Row as _;
        let mut values = Vec::with_capacity($table.columns.len());
        for (i, column) in $table.columns.iter().enumerate() {
            let value = match column.kind {
                Kind::Text => $row.try_get::<Option<String>, _>(i)?.map(serde_json::Value::String),
                Kind::Integer => $row.try_get::<Option<i64>, _>(i)?.map(serde_json::Value::from),
                Kind::Boolean => $row.try_get::<Option<bool>, _>(i)?.map(serde_json::Value::Bool),
                Kind::Timestamp => $row.try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(i)?.map(rows::timestamp),
                Kind::Date => $row.try_get::<Option<chrono::NaiveDate>, _>(i)?.map(rows::date),
                Kind::Json => match $row.try_get::<Option<String>, _>(i)? {
                    Some(text) => Some(
                        rows::canonical_json(&text)
                            .map_err(|e| anyhow::anyhow!("{}.{} holds invalid JSON: {e}", $table.name, column.name))?,
                    ),
                    None => None,
                },
                Kind::Bytes => $row.try_get::<Option<Vec<u8>>, _>(i)?.map(rows::bytes),
            };
            values.push(value.unwrap_or(serde_json::Value::Null));
        }
        $line.clear();
        serde_json::to_writer(&mut $line, &values)?;
        $line.push(b'\n');
    }};
}
pub(crate) use encode_row;

pub(crate) fn timestamp(at: DateTime<Utc>) -> Value {
    Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

pub(crate) fn date(day: NaiveDate) -> Value {
    Value::String(day.format("%Y-%m-%d").to_string())
}

pub(crate) fn bytes(data: Vec<u8>) -> Value {
    Value::String(BASE64.encode(data))
}

/// JSON text rewritten with sorted keys and no spaces (`serde_json` maps are ordered), whatever
/// order and spacing the backend kept.
pub(crate) fn canonical_json(text: &str) -> Result<Value, serde_json::Error> {
    let parsed: Value = serde_json::from_str(text)?;
    Ok(Value::String(serde_json::to_string(&parsed)?))
}

/// One value on its way into a table, typed for binding.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Text(Option<String>),
    Integer(Option<i64>),
    Boolean(Option<bool>),
    Timestamp(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
    Json(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// Parses one backup line into cells of the given columns; the error names the column.
pub(crate) fn decode_line(line: &[u8], columns: &[(String, Kind)]) -> Result<Vec<Cell>, String> {
    let values: Vec<Value> = serde_json::from_slice(line).map_err(|e| format!("not a JSON array of values: {e}"))?;
    if values.len() != columns.len() {
        return Err(format!("{} values for {} columns", values.len(), columns.len()));
    }
    values
        .into_iter()
        .zip(columns)
        .map(|(value, (name, kind))| decode_value(value, *kind).map_err(|e| format!("column {name}: {e}")))
        .collect()
}

fn decode_value(value: Value, kind: Kind) -> Result<Cell, String> {
    let text = |value: Value| match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(format!("expected text, found {other}")),
    };
    Ok(match kind {
        Kind::Text => Cell::Text(text(value)?),
        Kind::Integer => Cell::Integer(match value {
            Value::Null => None,
            Value::Number(n) => Some(n.as_i64().ok_or_else(|| format!("{n} is not a 64-bit integer"))?),
            other => return Err(format!("expected an integer, found {other}")),
        }),
        Kind::Boolean => Cell::Boolean(match value {
            Value::Null => None,
            Value::Bool(b) => Some(b),
            other => return Err(format!("expected true or false, found {other}")),
        }),
        Kind::Timestamp => Cell::Timestamp(
            text(value)?
                .map(|s| DateTime::parse_from_rfc3339(&s).map(|t| t.to_utc()).map_err(|e| format!("`{s}`: {e}")))
                .transpose()?,
        ),
        Kind::Date => Cell::Date(
            text(value)?
                .map(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|e| format!("`{s}`: {e}")))
                .transpose()?,
        ),
        Kind::Json => Cell::Json(
            text(value)?
                .map(|s| serde_json::from_str::<Value>(&s).map(|_| s).map_err(|e| format!("invalid JSON: {e}")))
                .transpose()?,
        ),
        Kind::Bytes => Cell::Bytes(
            text(value)?
                .map(|s| BASE64.decode(s.as_bytes()).map_err(|e| format!("invalid base64: {e}")))
                .transpose()?,
        ),
    })
}

/// Rows per INSERT: enough to amortise round trips, few enough for either backend's limit on
/// bound parameters (SQLite: 32,766).
pub(crate) fn rows_per_insert(columns: usize) -> usize {
    (8_000 / columns.max(1)).clamp(1, 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_rewritten_with_sorted_keys_and_no_spaces() {
        assert_eq!(
            canonical_json(r#"{"b": 1, "a": {"d": [1, 2], "c": null}}"#).expect("valid"),
            Value::String(r#"{"a":{"c":null,"d":[1,2]},"b":1}"#.to_owned())
        );
        assert!(canonical_json("{not json").is_err());
    }

    #[test]
    fn timestamps_keep_their_precision_in_utc() {
        let at = DateTime::parse_from_rfc3339("2026-05-01T12:00:00.123456+02:00").expect("valid").to_utc();
        assert_eq!(timestamp(at), Value::String("2026-05-01T10:00:00.123456Z".to_owned()));
    }

    #[test]
    fn a_line_decodes_into_typed_cells_and_a_bad_value_names_its_column() {
        let columns = vec![
            ("id".to_owned(), Kind::Text),
            ("n".to_owned(), Kind::Integer),
            ("ok".to_owned(), Kind::Boolean),
            ("at".to_owned(), Kind::Timestamp),
            ("day".to_owned(), Kind::Date),
            ("doc".to_owned(), Kind::Json),
            ("raw".to_owned(), Kind::Bytes),
        ];
        let line = br#"["a",7,true,"2026-05-01T10:00:00Z","2026-05-01","{\"k\":1}","AAE="]"#;
        assert_eq!(
            decode_line(line, &columns).expect("valid"),
            vec![
                Cell::Text(Some("a".into())),
                Cell::Integer(Some(7)),
                Cell::Boolean(Some(true)),
                Cell::Timestamp(Some(DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z").expect("valid").to_utc())),
                Cell::Date(NaiveDate::from_ymd_opt(2026, 5, 1)),
                Cell::Json(Some(r#"{"k":1}"#.into())),
                Cell::Bytes(Some(vec![0, 1])),
            ]
        );
        let nulls = decode_line(b"[null,null,null,null,null,null,null]", &columns).expect("nulls are allowed");
        assert_eq!(nulls[1], Cell::Integer(None));

        assert_eq!(
            decode_line(br#"["a","7",true,null,null,null,null]"#, &columns),
            Err(r#"column n: expected an integer, found "7""#.to_owned())
        );
        assert_eq!(decode_line(br#"["a"]"#, &columns), Err("1 values for 7 columns".to_owned()));
        assert!(decode_line(b"[\"a\",", &columns).is_err());
    }
}
