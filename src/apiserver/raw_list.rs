//! Lists answered from the stored bytes: an item's JSON is copied as stored, with only
//! `kind` and `metadata.resourceVersion` written in, instead of parsing every object into
//! a tree and printing it again. A list of 1,000 objects spent most of its time in
//! allocation and hashing that way; printing each item through serde twice more (its
//! metadata, then itself) was most of what remained, so members are now spliced as bytes.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON object read one level deep: its members in order, each value left unparsed.
struct RawObject<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'a> RawObject<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Write the object compactly as serde_json prints it, each member's value from
    /// `value` when it gives one, then the `extra` members it lacks.
    fn write(
        &self,
        out: &mut Vec<u8>,
        extra: &[(&str, &[u8])],
        mut value: impl FnMut(&str, &mut Vec<u8>) -> bool,
    ) {
        out.push(b'{');
        let mut first = true;
        let mut member = |out: &mut Vec<u8>, key: &str| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            // Borrowed keys have no escapes, so quoting them is what serde_json prints.
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
        };
        for (k, v) in &self.0 {
            member(out, k);
            if !value(k, out) {
                out.extend_from_slice(v.get().as_bytes());
            }
        }
        for (k, v) in extra {
            if self.get(k).is_none() {
                member(out, k);
                out.extend_from_slice(v);
            }
        }
        out.push(b'}');
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                // A key with escapes cannot be borrowed: the caller falls back to a full parse.
                while let Some(member) = map.next_entry::<&'de str, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(RawObject(members))
            }
        }
        d.deserialize_map(Members)
    }
}

/// What every item of one list gets written in, as JSON.
pub struct ItemHeader {
    api_version: String,
    kind: String,
}

impl ItemHeader {
    /// The header of items of `kind` at `api_version`.
    pub fn new(api_version: &str, kind: &str) -> ItemHeader {
        ItemHeader {
            api_version: json_string(api_version),
            kind: json_string(kind),
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes to JSON")
}

/// A stored object as a list item: its bytes with `kind` and `metadata.resourceVersion`
/// written in. `None` when the bytes are not stored at the requested `apiVersion` (the
/// caller converts through the full parse) or are not an object with metadata.
pub fn item(stored: &[u8], revision: i64, header: &ItemHeader) -> Option<Vec<u8>> {
    let top: RawObject = serde_json::from_slice(stored).ok()?;
    if top.get("apiVersion")?.get() != header.api_version {
        return None;
    }
    let meta: RawObject = serde_json::from_str(top.get("metadata")?.get()).ok()?;
    let rv = format!("\"{revision}\"");
    let mut out = Vec::with_capacity(stored.len() + header.kind.len() + 32);
    let kind = [("kind", header.kind.as_bytes())];
    top.write(&mut out, &kind, |key, out| match key {
        "metadata" => {
            let rv = [("resourceVersion", rv.as_bytes())];
            meta.write(out, &rv, |key, out| {
                let ours = key == "resourceVersion";
                if ours {
                    out.extend_from_slice(rv[0].1);
                }
                ours
            });
            true
        }
        "kind" => {
            out.extend_from_slice(header.kind.as_bytes());
            true
        }
        _ => false,
    });
    Some(out)
}

/// The JSON of a list whose items are already JSON, as serde_json prints
/// `{"kind":…,"apiVersion":…,"metadata":…,"items":[…]}`.
pub fn list(
    kind: &str,
    api_version: &str,
    metadata: &serde_json::Value,
    items: &[Vec<u8>],
) -> Vec<u8> {
    let size: usize = items.iter().map(|i| i.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 128);
    out.extend_from_slice(b"{\"kind\":");
    out.extend_from_slice(json_string(kind).as_bytes());
    out.extend_from_slice(b",\"apiVersion\":");
    out.extend_from_slice(json_string(api_version).as_bytes());
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(metadata.to_string().as_bytes());
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// What the full parse makes of a stored object in a list.
    fn parsed(stored: &Value, revision: i64, kind: &str) -> Value {
        let mut v = stored.clone();
        v["metadata"]["resourceVersion"] = json!(revision.to_string());
        v["kind"] = json!(kind);
        v
    }

    #[test]
    fn items_match_the_full_parse_byte_for_byte() {
        let header = ItemHeader::new("v1", "ConfigMap");
        let stored = json!({"apiVersion": "v1", "data": {"k": "a \"quoted\" \u{e9} value"}, "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "ns", "labels": {"a": "b"}}});
        let bytes = serde_json::to_vec(&stored).unwrap();
        let raw = item(&bytes, 42, &header).unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            serde_json::to_string(&parsed(&stored, 42, "ConfigMap")).unwrap()
        );
        // No kind stored: appended, as the full parse does.
        let bare = json!({"apiVersion": "v1", "metadata": {"name": "x"}});
        let raw = item(&serde_json::to_vec(&bare).unwrap(), 7, &header).unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            serde_json::to_string(&parsed(&bare, 7, "ConfigMap")).unwrap()
        );
        // A stored resourceVersion is replaced where it stands.
        let old = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "resourceVersion": "3", "uid": "u"}});
        let raw = item(&serde_json::to_vec(&old).unwrap(), 9, &header).unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            serde_json::to_string(&parsed(&old, 9, "ConfigMap")).unwrap()
        );
    }

    #[test]
    fn the_list_prints_as_serde_json_would() {
        #[derive(serde::Serialize)]
        struct List<'a> {
            kind: &'a str,
            #[serde(rename = "apiVersion")]
            api_version: &'a str,
            metadata: &'a Value,
            items: Vec<Value>,
        }
        let items = vec![json!({"a": 1}), json!({"b": "é\"x"})];
        let meta = json!({"resourceVersion": "5", "continue": "abc"});
        let raw: Vec<Vec<u8>> = items
            .iter()
            .map(|i| serde_json::to_vec(i).unwrap())
            .collect();
        let want = List {
            kind: "ConfigMapList",
            api_version: "v1",
            metadata: &meta,
            items,
        };
        assert_eq!(
            String::from_utf8(list("ConfigMapList", "v1", &meta, &raw)).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
        assert_eq!(
            String::from_utf8(list("PodList", "v1", &meta, &[])).unwrap(),
            r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"5","continue":"abc"},"items":[]}"#
        );
    }

    #[test]
    fn other_versions_and_odd_bytes_take_the_full_parse() {
        let header = ItemHeader::new("autoscaling/v2", "HorizontalPodAutoscaler");
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"}});
        assert!(item(&serde_json::to_vec(&v1).unwrap(), 1, &header).is_none());
        let header = ItemHeader::new("v1", "ConfigMap");
        for odd in [
            &b"[1, 2]"[..],
            b"{\"apiVersion\": \"v1\"}",
            b"{\"apiVersion\": \"v1\", \"metadata\": []}",
            b"{\"apiVers\\u0069on\": \"v1\", \"metadata\": {}}",
            b"not json",
        ] {
            assert!(
                item(odd, 1, &header).is_none(),
                "{}",
                String::from_utf8_lossy(odd)
            );
        }
    }
}
