//! Lists answered from the stored bytes: an item's JSON is copied as stored, with only
//! `apiVersion`, `kind` and `metadata.resourceVersion` written in, instead of parsing
//! every object into a tree and printing it again. A list of 1,000 objects spent most of
//! its time in allocation and hashing that way.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

/// A JSON object read one level deep: its members in order, each value left unparsed.
struct RawObject<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'a> RawObject<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Replace a member in place, or append it.
    fn set(&mut self, key: &'a str, value: &'a RawValue) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(member) => member.1 = value,
            None => self.0.push((key, value)),
        }
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

impl Serialize for RawObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// What every item of one list gets written in.
pub struct ItemHeader {
    api_version: Box<RawValue>,
    kind: Box<RawValue>,
}

impl ItemHeader {
    /// The header of items of `kind` at `api_version`.
    pub fn new(api_version: &str, kind: &str) -> ItemHeader {
        let raw = |s: &str| {
            serde_json::value::to_raw_value(s).expect("a string always serializes to JSON")
        };
        ItemHeader {
            api_version: raw(api_version),
            kind: raw(kind),
        }
    }
}

/// A stored object as a list item: its bytes with `kind` and `metadata.resourceVersion`
/// written in. `None` when the bytes are not stored at the requested `apiVersion` (the
/// caller converts through the full parse) or are not an object with metadata.
pub fn item(stored: &[u8], revision: i64, header: &ItemHeader) -> Option<Box<RawValue>> {
    let mut top: RawObject = serde_json::from_slice(stored).ok()?;
    if top.get("apiVersion")?.get() != header.api_version.get() {
        return None;
    }
    let mut meta: RawObject = serde_json::from_str(top.get("metadata")?.get()).ok()?;
    let rv = serde_json::value::to_raw_value(&revision.to_string()).ok()?;
    meta.set("resourceVersion", &rv);
    let meta = serde_json::value::to_raw_value(&meta).ok()?;
    top.set("metadata", &meta);
    top.set("kind", &header.kind);
    serde_json::value::to_raw_value(&top).ok()
}

/// A list whose items are already JSON.
#[derive(serde::Serialize)]
pub struct List<'a> {
    /// `ConfigMapList` and the like.
    pub kind: &'a str,
    /// The group version.
    #[serde(rename = "apiVersion")]
    pub api_version: &'a str,
    /// The list's metadata.
    pub metadata: &'a serde_json::Value,
    /// The items.
    pub items: &'a [Box<RawValue>],
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
            raw.get(),
            serde_json::to_string(&parsed(&stored, 42, "ConfigMap")).unwrap()
        );
        // No kind stored: appended, as the full parse does.
        let bare = json!({"apiVersion": "v1", "metadata": {"name": "x"}});
        let raw = item(&serde_json::to_vec(&bare).unwrap(), 7, &header).unwrap();
        assert_eq!(
            raw.get(),
            serde_json::to_string(&parsed(&bare, 7, "ConfigMap")).unwrap()
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
