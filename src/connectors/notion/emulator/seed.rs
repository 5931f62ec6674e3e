//! Seed documents: pages to load into the emulator before a run, written as plain values.
//!
//! ```json
//! { "entities": { "the_7_space": {
//!     "ContactProfile": [
//!       { "key": "ana", "properties": { "Full Name": "Ana Lopez", "Contact Type": "Practitioner" } }
//!     ],
//!     "ProductService": [
//!       { "properties": { "Name": "Private Yoga", "Lead Practitioner": ["@ana"] } }
//!     ]
//! } } }
//! ```
//! A page may give its own `id` (32 hex digits), so that example inputs can name it.
//! Values are written as flows write them (text, numbers, booleans, option names, lists of
//! option names, ISO dates); a relation lists page ids or `@key`s of other seeded pages, in any
//! order, which is why relations are written in a second pass.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use serde_json::json;

use super::store::{new_id, Store};

/// Whether `id` looks like a Notion id, so the connector accepts it.
fn valid_id(id: &str) -> bool {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// A plain seed value as the request body of a property of type `kind` (the emulator's own
/// writing, from the API reference's property value objects; the store then validates it).
fn request_value(kind: &str, value: &Json) -> Option<Json> {
    let names = |key: &str| -> Option<Json> {
        let items = value.as_array()?;
        items
            .iter()
            .map(|item| item.as_str().map(|s| json!({ key: s })))
            .collect::<Option<Vec<_>>>()
            .map(Json::Array)
    };
    let body = match (kind, value) {
        (_, Json::Null) => Json::Null,
        ("title" | "rich_text", Json::String(s)) => json!([{ "text": { "content": s } }]),
        ("email" | "phone_number" | "url", Json::String(_)) => value.clone(),
        ("number", Json::Number(_)) | ("checkbox", Json::Bool(_)) => value.clone(),
        ("select" | "status", Json::String(s)) => json!({ "name": s }),
        ("multi_select", _) => names("name")?,
        ("people", _) => names("id")?,
        ("date", Json::String(s)) => json!({ "start": s }),
        _ => return None,
    };
    let body = match (kind, body) {
        ("title" | "rich_text" | "multi_select" | "people", Json::Null) => json!([]),
        ("checkbox", Json::Null) => json!(false),
        (_, body) => body,
    };
    Some(json!({ kind: body }))
}

/// Creates the pages of `seed` in `store`; returns the ids of keyed pages by key.
pub(crate) fn apply(store: &mut Store, seed: &Json) -> Result<BTreeMap<String, String>, String> {
    let entities = seed
        .get("entities")
        .and_then(Json::as_object)
        .ok_or("a seed document is `{\"entities\": {ENTITY: {DATABASE: [pages]}}}`")?;
    let mut keys = BTreeMap::new();
    // (page index, entity, database, relation properties) to write once every page exists.
    let mut relations = Vec::new();
    for (entity, databases) in entities {
        let databases = databases
            .as_object()
            .ok_or_else(|| format!("`{entity}` must map database names to lists of pages"))?;
        for (database, pages) in databases {
            let db = store
                .database_named(entity, database)
                .ok_or_else(|| format!("the schema has no database `{database}` for `{entity}`"))?
                .clone();
            let pages = pages
                .as_array()
                .ok_or_else(|| format!("`{entity}.{database}` must be a list of pages"))?;
            for (n, page) in pages.iter().enumerate() {
                let at = format!("`{entity}.{database}[{n}]`");
                let given = page
                    .get("properties")
                    .and_then(Json::as_object)
                    .ok_or_else(|| format!("{at} needs a `properties` object"))?;
                let mut now = Map::new();
                let mut later = Map::new();
                for (name, value) in given {
                    let prop = db
                        .properties
                        .get(name)
                        .ok_or_else(|| format!("{at}: `{database}` has no property `{name}`"))?;
                    if prop.kind == "relation" {
                        later.insert(name.clone(), value.clone());
                        continue;
                    }
                    let body = request_value(&prop.kind, value).ok_or_else(|| {
                        format!("{at}: `{name}` cannot hold {value} (a {} property)", prop.kind)
                    })?;
                    now.insert(name.clone(), body);
                }
                let id = match page.get("id") {
                    None => new_id(),
                    Some(Json::String(id)) if valid_id(id) => id.clone(),
                    Some(other) => {
                        return Err(format!(
                            "{at}: `id` must be a Notion id (32 hex digits, dashes allowed), got {other}"
                        ))
                    }
                };
                let index = store
                    .create_page_with_id(&db.id, &Json::Object(now), id)
                    .map_err(|e| format!("{at}: {e}"))?;
                if let Some(key) = page.get("key").and_then(Json::as_str) {
                    keys.insert(key.to_string(), store.pages[index].id.clone());
                }
                if !later.is_empty() {
                    relations.push((index, at, later));
                }
            }
        }
    }
    for (index, at, later) in relations {
        let mut body = Map::new();
        for (name, value) in later {
            let ids = value
                .as_array()
                .ok_or_else(|| format!("{at}: relation `{name}` must be a list of page ids or `@key`s"))?
                .iter()
                .map(|v| {
                    let text = v.as_str().unwrap_or_default();
                    match text.strip_prefix('@') {
                        Some(key) => keys
                            .get(key)
                            .map(|id| serde_json::json!({ "id": id }))
                            .ok_or_else(|| format!("{at}: no seeded page has key `{key}`")),
                        None if !text.is_empty() => Ok(serde_json::json!({ "id": text })),
                        None => Err(format!("{at}: relation `{name}` must list page ids or `@key`s")),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            body.insert(name, serde_json::json!({ "relation": ids }));
        }
        store
            .update_page(index, &Json::Object(body))
            .map_err(|e| format!("{at}: {e}"))?;
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::super::rules::plain_page;
    use super::*;
    use crate::connectors::notion::schema::NotionSchemas;
    use serde_json::json;

    fn store() -> Store {
        let schemas: NotionSchemas = serde_json::from_value(json!({ "entities": { "e": {
            "People": { "properties": {
                "Name": { "type": "title" },
                "Role": { "type": "select", "options": ["Lead"] },
                "Mentor": { "type": "relation" },
            }},
        }}}))
        .unwrap();
        Store::seeded(&schemas, &|_, _| None)
    }

    #[test]
    fn plain_values_and_forward_references_are_written() {
        let mut store = store();
        let keys = apply(
            &mut store,
            &json!({ "entities": { "e": { "People": [
                { "key": "ada", "properties": { "Name": "Ada", "Role": "Lead", "Mentor": ["@bo"] } },
                { "key": "bo", "properties": { "Name": "Bo" } },
            ]}}}),
        )
        .unwrap();
        let ada = plain_page(&super::super::store::page_json(&store.pages[0]));
        assert_eq!(ada.get("Name").as_str(), Some("Ada"));
        assert_eq!(ada.get("Role").as_str(), Some("Lead"));
        assert_eq!(ada.get("Mentor").to_json(), json!([keys["bo"]]));

        let id = "5a1e0000-0000-4000-8000-000000000001";
        let seed = json!({ "entities": { "e": { "People": [
            { "key": "cy", "id": id, "properties": { "Name": "Cy" } } ] } } });
        assert_eq!(apply(&mut store, &seed).unwrap()["cy"], id);
        assert!(apply(&mut store, &seed).unwrap_err().contains("exists already"));
    }

    #[test]
    fn mistakes_are_named() {
        let err = |seed: Json| apply(&mut store(), &seed).unwrap_err();
        assert!(err(json!({})).contains("\"entities\""));
        assert!(err(json!({ "entities": { "e": { "Nope": [] } } })).contains("no database `Nope`"));
        let e = err(json!({ "entities": { "e": { "People": [
            { "properties": { "Name": "Ada", "Age": 3 } } ] } } }));
        assert!(
            e.contains("`e.People[0]`") && e.contains("no property `Age`"),
            "{e}"
        );
        let e = err(json!({ "entities": { "e": { "People": [
            { "properties": { "Name": "Ada", "Mentor": ["@nobody"] } } ] } } }));
        assert!(e.contains("no seeded page has key `nobody`"), "{e}");
        let e = err(json!({ "entities": { "e": { "People": [
            { "id": "nope", "properties": { "Name": "Ada" } } ] } } }));
        assert!(e.contains("`id` must be a Notion id"), "{e}");
        let e = err(json!({ "entities": { "e": { "People": [
            { "properties": { "Name": 3 } } ] } } }));
        assert!(e.contains("`Name`"), "{e}");
    }
}
