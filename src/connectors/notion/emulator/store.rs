//! The emulator's data: databases (each with one data source) and pages, with Notion's
//! validation of property values.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use super::persist::Journal;

use super::rules::{is_iso_8601, ARRAY_ITEMS, EMAIL_OR_PHONE, TEXT_CONTENT, URL};
use crate::connectors::notion::schema::NotionSchemas;

/// A property of a data source.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Prop {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) options: Vec<String>,
}

/// A database and its single data source.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Database {
    pub(crate) id: String,
    pub(crate) entity: String,
    pub(crate) name: String,
    pub(crate) source_id: String,
    pub(crate) properties: BTreeMap<String, Prop>,
    pub(crate) created: DateTime<Utc>,
}

/// A stored page; `properties` are kept in Notion's response shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Page {
    pub(crate) id: String,
    pub(crate) database_id: String,
    pub(crate) source_id: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) edited: DateTime<Utc>,
    pub(crate) properties: Map<String, Json>,
}

/// Everything the emulator stores.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) databases: BTreeMap<String, Database>,
    sources: HashMap<String, String>,
    pub(crate) pages: Vec<Page>,
    page_index: HashMap<String, usize>,
    /// Each write happens a millisecond after the previous one, so timestamps order writes.
    clock: Option<DateTime<Utc>>,
    /// Where every write is kept (`flowc emulate --state DIR`), if anywhere.
    journal: Option<Journal>,
}

/// A Notion id: a v4 UUID with dashes.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Notion's timestamp format.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn short_id(n: usize) -> String {
    // Property ids are short url-safe strings in Notion; `title` is always "title".
    format!("p{n:03}")
}

impl Store {
    /// A store with one database per entry of `schemas`, with the id `ids` gives it (e.g. the
    /// one in `flowc.toml`) or a fresh one.
    pub(crate) fn seeded(schemas: &NotionSchemas, ids: &dyn Fn(&str, &str) -> Option<String>) -> Store {
        let mut store = Store::default();
        for (entity, databases) in &schemas.entities {
            for (name, schema) in databases {
                let id = ids(entity, name).unwrap_or_else(new_id);
                let source_id = new_id();
                let properties = schema
                    .properties
                    .iter()
                    .enumerate()
                    .map(|(i, (pname, p))| {
                        let pid = if p.kind == "title" {
                            "title".to_string()
                        } else {
                            short_id(i)
                        };
                        (
                            pname.clone(),
                            Prop {
                                id: pid,
                                kind: p.kind.clone(),
                                options: p.options.clone(),
                            },
                        )
                    })
                    .collect();
                let created = store.tick();
                store.sources.insert(source_id.clone(), id.clone());
                store.databases.insert(
                    id.clone(),
                    Database {
                        id,
                        entity: entity.clone(),
                        name: name.clone(),
                        source_id,
                        properties,
                        created,
                    },
                );
            }
        }
        store
    }

    /// Keeps every write from now on in `journal`, starting with what the store holds.
    pub(crate) fn attach(&mut self, mut journal: Journal) {
        journal.write_all(self);
        self.journal = Some(journal);
    }

    /// Keeps writes in `journal` (which already holds this store: it was restored from it).
    pub(crate) fn resume(&mut self, journal: Journal) {
        self.journal = Some(journal);
    }

    /// Puts back a database read from a journal.
    pub(crate) fn restore_database(&mut self, database: Database) {
        self.sources
            .insert(database.source_id.clone(), database.id.clone());
        self.databases.insert(database.id.clone(), database);
    }

    /// Puts back a page read from a journal (a later line of the same page replaces it).
    pub(crate) fn restore_page(&mut self, page: Page) {
        self.clock = self.clock.max(Some(page.edited));
        match self.page_index(&page.id) {
            Some(index) => self.pages[index] = page,
            None => {
                self.page_index.insert(page.id.replace('-', ""), self.pages.len());
                self.pages.push(page);
            }
        }
    }

    /// Writes page `index` and its database (whose options a write may have added) to the journal.
    fn persist(&mut self, index: usize) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        let page = &self.pages[index];
        if let Some(db) = self.databases.get(&page.database_id) {
            journal.database(db);
        }
        journal.page(page);
    }

    fn tick(&mut self) -> DateTime<Utc> {
        let next = match self.clock {
            None => Utc::now(),
            Some(last) => (last + ChronoDuration::milliseconds(1)).max(Utc::now()),
        };
        self.clock = Some(next);
        next
    }

    /// The database with `id`, given with or without dashes.
    pub(crate) fn database(&self, id: &str) -> Option<&Database> {
        self.databases.values().find(|d| same_id(&d.id, id))
    }

    /// The database owning data source `id`.
    pub(crate) fn database_of_source(&self, id: &str) -> Option<&Database> {
        self.sources
            .iter()
            .find(|(source, _)| same_id(source, id))
            .and_then(|(_, db)| self.databases.get(db))
    }

    /// The logical database `name` of `entity`.
    pub(crate) fn database_named(&self, entity: &str, name: &str) -> Option<&Database> {
        self.databases
            .values()
            .find(|d| d.entity == entity && d.name == name)
    }

    /// Adds property `name` of type `kind` to a database (empty on existing pages).
    pub(crate) fn add_property(&mut self, entity: &str, database: &str, name: &str, kind: &str) -> bool {
        let Some(db) = self
            .databases
            .values_mut()
            .find(|d| d.entity == entity && d.name == database)
        else {
            return false;
        };
        let prop = Prop {
            id: short_id(db.properties.len() + 100),
            kind: kind.to_string(),
            options: Vec::new(),
        };
        let empty = empty_value(&prop);
        let db_id = db.id.clone();
        db.properties.insert(name.to_string(), prop);
        for page in self.pages.iter_mut().filter(|p| p.database_id == db_id) {
            page.properties.insert(name.to_string(), empty.clone());
        }
        let changed: Vec<usize> = (0..self.pages.len())
            .filter(|i| self.pages[*i].database_id == db_id)
            .collect();
        for index in changed {
            self.persist(index);
        }
        true
    }

    /// The index of page `id`.
    pub(crate) fn page_index(&self, id: &str) -> Option<usize> {
        let plain = id.replace('-', "");
        self.page_index.get(&plain).copied()
    }

    /// Creates a page from request-shaped `properties`; every other property starts empty.
    pub(crate) fn create_page(&mut self, database_id: &str, properties: &Json) -> Result<usize, String> {
        self.create_page_with_id(database_id, properties, new_id())
    }

    /// [`Store::create_page`] with the page id chosen by the caller (seed files give demo pages
    /// ids that example inputs can name); an id already taken is an error.
    pub(crate) fn create_page_with_id(
        &mut self,
        database_id: &str,
        properties: &Json,
        id: String,
    ) -> Result<usize, String> {
        if self.page_index(&id).is_some() {
            return Err(format!("a page with id `{id}` exists already"));
        }
        let database = self
            .databases
            .get(database_id)
            .ok_or_else(|| format!("Could not find database with ID: {database_id}."))?
            .clone();
        let mut values = Map::new();
        for (name, prop) in &database.properties {
            values.insert(name.clone(), empty_value(prop));
        }
        let written = self.validate(database_id, properties)?;
        values.extend(written);
        let now = self.tick();
        let page = Page {
            id,
            database_id: database.id.clone(),
            source_id: database.source_id.clone(),
            created: now,
            edited: now,
            properties: values,
        };
        self.page_index.insert(page.id.replace('-', ""), self.pages.len());
        self.pages.push(page);
        self.persist(self.pages.len() - 1);
        Ok(self.pages.len() - 1)
    }

    /// Changes the properties given of page `index`.
    pub(crate) fn update_page(&mut self, index: usize, properties: &Json) -> Result<(), String> {
        let database_id = self.pages[index].database_id.clone();
        let written = self.validate(&database_id, properties)?;
        let now = self.tick();
        let page = &mut self.pages[index];
        page.properties.extend(written);
        page.edited = now;
        self.persist(index);
        Ok(())
    }

    /// The ids of the properties named (by name or id) in request-shaped `properties`.
    pub(crate) fn property_ids(&self, database_id: &str, properties: &Json) -> Vec<String> {
        let (Some(database), Some(written)) = (self.databases.get(database_id), properties.as_object())
        else {
            return Vec::new();
        };
        written
            .keys()
            .filter_map(|key| {
                database
                    .properties
                    .iter()
                    .find(|(name, p)| *name == key || p.id == *key)
                    .map(|(_, p)| p.id.clone())
            })
            .collect()
    }

    /// Validates request-shaped `properties` against the schema; returns them response-shaped.
    /// Unknown select and multi-select options are added to the schema, as Notion does;
    /// unknown status options are an error, as in Notion.
    fn validate(&mut self, database_id: &str, properties: &Json) -> Result<Map<String, Json>, String> {
        let Some(database) = self.databases.get_mut(database_id) else {
            return Err(format!("Could not find database with ID: {database_id}."));
        };
        let mut out = Map::new();
        let Some(properties) = properties.as_object() else {
            if properties.is_null() {
                return Ok(out);
            }
            return Err(format!(
                "body failed validation: body.properties should be an object, instead was `{properties}`."
            ));
        };
        for (key, value) in properties {
            let name = database
                .properties
                .iter()
                .find(|(name, p)| *name == key || p.id == *key)
                .map(|(name, _)| name.clone())
                .ok_or_else(|| format!("{key} is not a property that exists."))?;
            let Some(prop) = database.properties.get_mut(&name) else {
                continue;
            };
            let body = write_value(&name, prop, value)?;
            out.insert(
                name,
                json!({ "id": prop.id, "type": prop.kind, prop.kind.clone(): body }),
            );
        }
        Ok(out)
    }
}

/// Whether two Notion ids are the same, ignoring dashes.
pub(crate) fn same_id(a: &str, b: &str) -> bool {
    a.replace('-', "") == b.replace('-', "")
}

fn empty_value(prop: &Prop) -> Json {
    let body = match prop.kind.as_str() {
        "title" | "rich_text" | "multi_select" | "relation" | "people" | "files" => json!([]),
        "checkbox" => json!(false),
        _ => Json::Null,
    };
    let mut value = json!({ "id": prop.id, "type": prop.kind, prop.kind.clone(): body });
    if prop.kind == "relation" {
        value["has_more"] = json!(false);
    }
    value
}

fn fail(path: &str, expected: &str, got: &Json) -> String {
    format!("body failed validation: body.properties.{path} should be {expected}, instead was `{got}`.")
}

fn too_long(path: &str, max: usize, len: usize) -> String {
    format!("body failed validation: body.properties.{path}.length should be ≤ `{max}`, instead was `{len}`.")
}

fn option_color(i: usize) -> &'static str {
    [
        "default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red",
    ][i % 10]
}

fn option(prop: &mut Prop, name: &str, path: &str, may_add: bool) -> Result<Json, String> {
    let position = match prop.options.iter().position(|o| o == name) {
        Some(i) => i,
        None if may_add => {
            prop.options.push(name.to_string());
            prop.options.len() - 1
        }
        None => {
            return Err(format!(
                "Invalid status option. Status option \"{name}\" does not exist at body.properties.{path}."
            ))
        }
    };
    Ok(json!({ "id": format!("opt{position}"), "name": name, "color": option_color(position) }))
}

/// One request-shaped value (`{"email": "a@b.c"}`) checked and turned into its stored body.
fn write_value(name: &str, prop: &mut Prop, value: &Json) -> Result<Json, String> {
    let kind = prop.kind.clone();
    let Some(body) = value.get(&kind) else {
        return Err(format!("{name} is expected to be {kind}."));
    };
    let path = format!("{name}.{kind}");
    let text = |body: &Json, max: usize| -> Result<Json, String> {
        match body {
            Json::Null => Ok(Json::Null),
            Json::String(s) => {
                let len = s.encode_utf16().count();
                if len > max {
                    Err(too_long(&path, max, len))
                } else {
                    Ok(body.clone())
                }
            }
            other => Err(fail(&path, "a string or `null`", other)),
        }
    };
    match kind.as_str() {
        "title" | "rich_text" => {
            let items = body.as_array().ok_or_else(|| fail(&path, "an array", body))?;
            if items.len() > ARRAY_ITEMS {
                return Err(too_long(&path, ARRAY_ITEMS, items.len()));
            }
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let content = item
                    .get("text")
                    .and_then(|t| t.get("content"))
                    .and_then(Json::as_str)
                    .ok_or_else(|| fail(&format!("{path}[{i}].text.content"), "a string", item))?;
                let len = content.encode_utf16().count();
                if len > TEXT_CONTENT {
                    return Err(too_long(&format!("{path}[{i}].text.content"), TEXT_CONTENT, len));
                }
                out.push(json!({
                    "type": "text",
                    "text": { "content": content, "link": null },
                    "annotations": { "bold": false, "italic": false, "strikethrough": false,
                        "underline": false, "code": false, "color": "default" },
                    "plain_text": content,
                    "href": null,
                }));
            }
            Ok(Json::Array(out))
        }
        "email" | "phone_number" => text(body, EMAIL_OR_PHONE),
        "url" => text(body, URL),
        "number" => match body {
            Json::Null | Json::Number(_) => Ok(body.clone()),
            other => Err(fail(&path, "a number or `null`", other)),
        },
        "checkbox" => match body {
            Json::Bool(_) => Ok(body.clone()),
            other => Err(fail(&path, "a boolean", other)),
        },
        "select" | "status" => match body {
            Json::Null => Ok(Json::Null),
            Json::Object(o) => match o.get("name").and_then(Json::as_str) {
                Some(n) => option(prop, n, &path, kind == "select"),
                None => Err(fail(&format!("{path}.name"), "a string", body)),
            },
            other => Err(fail(&path, "an object or `null`", other)),
        },
        "multi_select" => {
            let items = body.as_array().ok_or_else(|| fail(&path, "an array", body))?;
            if items.len() > ARRAY_ITEMS {
                return Err(too_long(&path, ARRAY_ITEMS, items.len()));
            }
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let n = item
                    .get("name")
                    .and_then(Json::as_str)
                    .ok_or_else(|| fail(&format!("{path}[{i}].name"), "a string", item))?;
                out.push(option(prop, n, &path, true)?);
            }
            Ok(Json::Array(out))
        }
        "relation" | "people" => {
            let items = body.as_array().ok_or_else(|| fail(&path, "an array", body))?;
            if items.len() > ARRAY_ITEMS {
                return Err(too_long(&path, ARRAY_ITEMS, items.len()));
            }
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let id = item
                    .get("id")
                    .and_then(Json::as_str)
                    .ok_or_else(|| fail(&format!("{path}[{i}].id"), "a string", item))?;
                out.push(if kind == "people" {
                    json!({ "object": "user", "id": id })
                } else {
                    json!({ "id": id })
                });
            }
            Ok(Json::Array(out))
        }
        "date" => match body {
            Json::Null => Ok(Json::Null),
            Json::Object(o) => {
                let start = o.get("start").and_then(Json::as_str).unwrap_or_default();
                if !is_iso_8601(start) {
                    return Err(format!(
                        "body failed validation: body.properties.{path}.start should be a valid ISO 8601 date string, instead was `{start}`."
                    ));
                }
                let end = match o.get("end") {
                    None | Some(Json::Null) => Json::Null,
                    Some(Json::String(e)) if is_iso_8601(e) => json!(e),
                    Some(other) => {
                        return Err(fail(
                            &format!("{path}.end"),
                            "a valid ISO 8601 date string",
                            other,
                        ))
                    }
                };
                Ok(
                    json!({ "start": start, "end": end, "time_zone": o.get("time_zone").cloned().unwrap_or(Json::Null) }),
                )
            }
            other => Err(fail(&path, "an object or `null`", other)),
        },
        other => Err(format!(
            "{name} is a {other} property, which cannot be set through the API."
        )),
    }
}

/// A page in Notion's response shape.
pub(crate) fn page_json(page: &Page) -> Json {
    json!({
        "object": "page",
        "id": page.id,
        "created_time": timestamp(page.created),
        "last_edited_time": timestamp(page.edited),
        "created_by": { "object": "user", "id": "emulator-bot" },
        "last_edited_by": { "object": "user", "id": "emulator-bot" },
        "cover": null,
        "icon": null,
        "parent": {
            "type": "data_source_id",
            "data_source_id": page.source_id,
            "database_id": page.database_id,
        },
        "archived": false,
        "in_trash": false,
        "properties": page.properties,
        "url": format!("https://www.notion.so/{}", page.id.replace('-', "")),
        "public_url": null,
    })
}

fn title(text: &str) -> Json {
    json!([{ "type": "text", "text": { "content": text, "link": null }, "plain_text": text, "href": null }])
}

/// A database in the 2025-09-03 response shape (data sources listed, no properties).
pub(crate) fn database_json(db: &Database) -> Json {
    json!({
        "object": "database",
        "id": db.id,
        "created_time": timestamp(db.created),
        "last_edited_time": timestamp(db.created),
        "title": title(&db.name),
        "description": [],
        "is_inline": false,
        "in_trash": false,
        "parent": { "type": "workspace", "workspace": true },
        "data_sources": [{ "id": db.source_id, "name": db.name }],
        "url": format!("https://www.notion.so/{}", db.id.replace('-', "")),
    })
}

/// A data source with its property schema.
pub(crate) fn data_source_json(db: &Database) -> Json {
    let properties: Map<String, Json> = db
        .properties
        .iter()
        .map(|(name, prop)| {
            let config = match prop.kind.as_str() {
                "select" | "multi_select" | "status" => {
                    let options: Vec<Json> = prop
                        .options
                        .iter()
                        .enumerate()
                        .map(|(i, o)| json!({ "id": format!("opt{i}"), "name": o, "color": option_color(i) }))
                        .collect();
                    json!({ "options": options })
                }
                _ => json!({}),
            };
            (
                name.clone(),
                json!({ "id": prop.id, "name": name, "type": prop.kind, prop.kind.clone(): config }),
            )
        })
        .collect();
    json!({
        "object": "data_source",
        "id": db.source_id,
        "created_time": timestamp(db.created),
        "last_edited_time": timestamp(db.created),
        "parent": { "type": "database_id", "database_id": db.id },
        "database_parent": { "type": "workspace", "workspace": true },
        "title": title(&db.name),
        "properties": properties,
    })
}
