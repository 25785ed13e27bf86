//! Output templates for `strom consume --format`, in the style of kcat's `-f`:
//! `%t` topic, `%p` partition, `%o` offset, `%k` key, `%v` value, `%T` timestamp (ms),
//! `%h` headers (`k=v,k2=v2`), `%%` a percent sign; `\n`, `\r`, `\t`, `\\` escapes.

use std::borrow::Cow;
use std::io::Write;

use rdkafka::message::{Headers as _, Message};

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Timestamp,
    Headers,
}

/// A parsed `--format` template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses a template; unknown `%` directives are an error, unknown `\` escapes are kept.
    pub fn parse(template: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut chars = template.chars();
        while let Some(c) = chars.next() {
            let directive = match c {
                '%' => match chars.next() {
                    Some('t') => Piece::Topic,
                    Some('p') => Piece::Partition,
                    Some('o') => Piece::Offset,
                    Some('k') => Piece::Key,
                    Some('v') => Piece::Value,
                    Some('T') => Piece::Timestamp,
                    Some('h') => Piece::Headers,
                    Some('%') => {
                        literal.push(b'%');
                        continue;
                    }
                    Some(other) => {
                        return Err(format!(
                            "unknown directive %{other} (use %t %p %o %k %v %T %h or %%)"
                        ))
                    }
                    None => return Err("the format ends with a lone %".into()),
                },
                '\\' => {
                    match chars.next() {
                        Some('n') => literal.push(b'\n'),
                        Some('r') => literal.push(b'\r'),
                        Some('t') => literal.push(b'\t'),
                        Some('0') => literal.push(0),
                        Some('\\') => literal.push(b'\\'),
                        Some(other) => {
                            literal.push(b'\\');
                            push_char(&mut literal, other);
                        }
                        None => literal.push(b'\\'),
                    }
                    continue;
                }
                other => {
                    push_char(&mut literal, other);
                    continue;
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(directive);
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template { pieces })
    }

    /// Writes `message` formatted by this template.
    pub fn write(&self, out: &mut impl Write, message: &impl Message) -> std::io::Result<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(bytes) => out.write_all(bytes)?,
                Piece::Topic => out.write_all(message.topic().as_bytes())?,
                Piece::Partition => write!(out, "{}", message.partition())?,
                Piece::Offset => write!(out, "{}", message.offset())?,
                Piece::Key => out.write_all(message.key().unwrap_or_default())?,
                Piece::Value => out.write_all(message.payload().unwrap_or_default())?,
                Piece::Timestamp => {
                    write!(out, "{}", message.timestamp().to_millis().unwrap_or(-1))?
                }
                Piece::Headers => {
                    if let Some(headers) = message.headers() {
                        for (i, header) in headers.iter().enumerate() {
                            if i > 0 {
                                out.write_all(b",")?;
                            }
                            out.write_all(header.key.as_bytes())?;
                            out.write_all(b"=")?;
                            out.write_all(header.value.unwrap_or_default())?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut utf8 = [0; 4];
    buf.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
}

/// One record as printed by `--json`.
#[derive(serde::Serialize)]
struct JsonRecord<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<Cow<'a, str>>,
    value: Option<Cow<'a, str>>,
    headers: Vec<JsonHeader<'a>>,
}

/// One header of a [`JsonRecord`].
#[derive(serde::Serialize)]
struct JsonHeader<'a> {
    key: &'a str,
    value: Option<Cow<'a, str>>,
}

/// Writes one record as a JSON object (topic, partition, offset, timestamp, key, value,
/// headers, in that order). Keys and values are UTF-8 strings (invalid bytes replaced) or null.
pub fn write_json(out: &mut impl Write, message: &impl Message) -> std::io::Result<()> {
    let headers = match message.headers() {
        Some(headers) => headers
            .iter()
            .map(|h| JsonHeader {
                key: h.key,
                value: h.value.map(String::from_utf8_lossy),
            })
            .collect(),
        None => Vec::new(),
    };
    let record = JsonRecord {
        topic: message.topic(),
        partition: message.partition(),
        offset: message.offset(),
        timestamp: message.timestamp().to_millis(),
        key: message.key().map(String::from_utf8_lossy),
        value: message.payload().map(String::from_utf8_lossy),
        headers,
    };
    serde_json::to_writer(&mut *out, &record)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    fn message() -> OwnedMessage {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "a",
                value: Some("1"),
            })
            .insert(Header {
                key: "b",
                value: Some("2"),
            });
        OwnedMessage::new(
            Some(b"value".to_vec()),
            Some(b"key".to_vec()),
            "orders".into(),
            Timestamp::CreateTime(1_700_000_000_000),
            2,
            42,
            Some(headers),
        )
    }

    fn render(template: &str) -> String {
        let mut out = Vec::new();
        Template::parse(template)
            .unwrap()
            .write(&mut out, &message())
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn renders_every_directive() {
        assert_eq!(
            render("%t/%p@%o %k=%v %T [%h] 100%%\\n"),
            "orders/2@42 key=value 1700000000000 [a=1,b=2] 100%\n"
        );
    }

    #[test]
    fn default_is_value_and_newline() {
        assert_eq!(render("%v\\n"), "value\n");
        assert_eq!(render("\\t|\\x"), "\t|\\x");
    }

    #[test]
    fn rejects_unknown_directives() {
        assert!(Template::parse("%q").is_err());
        assert!(Template::parse("abc%").is_err());
    }

    #[test]
    fn json_has_all_fields_in_order() {
        let mut out = Vec::new();
        write_json(&mut out, &message()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"topic":"orders","partition":2,"offset":42,"timestamp":1700000000000,"key":"key","value":"value","headers":[{"key":"a","value":"1"},{"key":"b","value":"2"}]}"#
                .to_owned()
                + "\n"
        );
    }
}
