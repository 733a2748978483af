//! Discovery documents (RFC 7643 §5–§7, RFC 7644 §4), rendered from the `schema` table so that
//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` advertise exactly what the server honours.

use serde_json::{Map, Value, json};

use super::bulk;
use super::resource;
use super::schema::{self, AttrDef, AttrType, SchemaDef};

/// The advertised `filter.maxResults`: the cap on `count` and on the size of any one page.
pub const MAX_RESULTS: u64 = 1000;

/// The advertised `pagination.cursorTimeout` (RFC 9865 §4), in seconds: how long a cursor stays
/// valid after the page that issued it.
pub const CURSOR_TIMEOUT_SECS: u64 = 3600;

use super::schema::SERVICE_PROVIDER_CONFIG_SCHEMA;
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

struct ResourceTypeDef {
    name: &'static str,
    endpoint: &'static str,
    description: &'static str,
    schema: &'static SchemaDef,
    extensions: &'static [&'static SchemaDef],
}

static RESOURCE_TYPES: [ResourceTypeDef; 2] = [
    ResourceTypeDef {
        name: "User",
        endpoint: "/Users",
        description: "User account provisioned by the organization's IdP",
        schema: &schema::USER,
        extensions: &[&schema::ENTERPRISE_USER],
    },
    ResourceTypeDef {
        name: "Group",
        endpoint: "/Groups",
        description: "Group of the organization's IdP group catalog",
        schema: &schema::GROUP,
        extensions: &[],
    },
];

// Callers are told to pass the base without a trailing slash; tolerating one costs nothing and
// keeps `meta.location` from growing a `//` if configuration gets it wrong.
fn trim_base(base: &str) -> &str {
    base.trim_end_matches('/')
}

fn meta(resource_type: &str, location: String) -> Value {
    json!({ "resourceType": resource_type, "location": location })
}

fn list_response(resources: Vec<Value>) -> Value {
    resource::list_response(resources.len() as u64, 1, resources)
}

/// The `/ServiceProviderConfig` document of the organization whose SCIM base URL is `base`.
pub fn service_provider_config(base: &str) -> Value {
    let base = trim_base(base);
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": { "supported": true },
        "bulk": {
            "supported": true,
            "maxOperations": bulk::MAX_OPERATIONS,
            "maxPayloadSize": bulk::MAX_PAYLOAD_SIZE,
        },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        // RFC 9865 §4. Index paging stays the default: IdPs written before cursors page by index
        // (§2.4). A page without `count` holds `maxPageSize` resources.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": MAX_RESULTS,
            "maxPageSize": MAX_RESULTS,
            "cursorTimeout": CURSOR_TIMEOUT_SECS,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Per-organization bearer token",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": meta("ServiceProviderConfig", format!("{base}/ServiceProviderConfig")),
    })
}

fn render_resource_type(base: &str, rt: &ResourceTypeDef) -> Value {
    let mut doc = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.id,
        "meta": meta("ResourceType", format!("{base}/ResourceTypes/{}", rt.name)),
    });
    // RFC 7643 §8.6 leaves `schemaExtensions` out for a type without any, rather than an empty list.
    if !rt.extensions.is_empty()
        && let Some(obj) = doc.as_object_mut()
    {
        // Extensions are optional: IdPs that never send the enterprise block must still create users.
        let extensions = rt
            .extensions
            .iter()
            .map(|s| json!({ "schema": s.id, "required": false }))
            .collect();
        obj.insert("schemaExtensions".into(), Value::Array(extensions));
    }
    doc
}

/// The `/ResourceTypes` ListResponse.
pub fn resource_types(base: &str) -> Value {
    let base = trim_base(base);
    list_response(
        RESOURCE_TYPES
            .iter()
            .map(|rt| render_resource_type(base, rt))
            .collect(),
    )
}

/// `/ResourceTypes/{name}`, `name` matched case-insensitively; `None` for an unknown type.
pub fn resource_type(base: &str, name: &str) -> Option<Value> {
    let base = trim_base(base);
    RESOURCE_TYPES
        .iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
        .map(|rt| render_resource_type(base, rt))
}

fn render_attribute(attr: &AttrDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), attr.name.into());
    m.insert("type".into(), attr.ty.as_str().into());
    m.insert("multiValued".into(), attr.multi_valued.into());
    m.insert("description".into(), attr.description.into());
    m.insert("required".into(), attr.required.into());
    if !attr.canonical_values.is_empty() {
        m.insert("canonicalValues".into(), attr.canonical_values.into());
    }
    m.insert("caseExact".into(), attr.case_exact.into());
    m.insert("mutability".into(), attr.mutability.as_str().into());
    // schema.rs has no `returned` column: nothing the server stores is secret (no passwords) and
    // nothing but `id` is forced into responses, and `id` is a common attribute outside any schema.
    m.insert("returned".into(), "default".into());
    m.insert("uniqueness".into(), attr.uniqueness.as_str().into());
    if attr.ty == AttrType::Reference {
        m.insert("referenceTypes".into(), attr.reference_types.into());
    }
    if attr.ty == AttrType::Complex {
        let subs = attr.sub_attributes.iter().map(render_attribute).collect();
        m.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(m)
}

fn render_schema(base: &str, def: &SchemaDef) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": def.id,
        "name": def.name,
        "description": def.description,
        "attributes": def.attributes.iter().map(render_attribute).collect::<Vec<_>>(),
        "meta": meta("Schema", format!("{base}/Schemas/{}", def.id)),
    })
}

/// Every schema `/Schemas` describes: the resources' and their extensions, then the
/// ServiceProviderConfig's.
fn described() -> impl Iterator<Item = &'static SchemaDef> {
    schema::ALL.into_iter().chain([&schema::SERVICE_PROVIDER_CONFIG])
}

/// The `/Schemas` ListResponse: every schema [`described`].
pub fn schemas(base: &str) -> Value {
    let base = trim_base(base);
    list_response(described().map(|def| render_schema(base, def)).collect())
}

/// `/Schemas/{id}`, the URN `id` matched case-insensitively; `None` for an unknown schema.
pub fn schema(base: &str, id: &str) -> Option<Value> {
    let base = trim_base(base);
    described()
        .find(|def| def.id.eq_ignore_ascii_case(id))
        .map(|def| render_schema(base, def))
}

#[cfg(test)]
mod tests {
    use super::super::ast::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
    use super::super::resource::LIST_RESPONSE_SCHEMA;
    use super::*;

    const BASE: &str = "https://scim.example.com/api/orgs/7/scim/v2";

    fn roundtrip(v: &Value) -> Value {
        let text = serde_json::to_string(v).expect("serialises");
        serde_json::from_str(&text).expect("parses back")
    }

    fn assert_list_response(doc: &Value, expected_len: usize) {
        assert_eq!(doc["schemas"], json!([LIST_RESPONSE_SCHEMA]));
        assert_eq!(doc["totalResults"], json!(expected_len));
        assert_eq!(doc["itemsPerPage"], json!(expected_len));
        assert_eq!(doc["startIndex"], json!(1));
        assert!(doc["totalResults"].is_u64() && doc["itemsPerPage"].is_u64());
        assert_eq!(doc["Resources"].as_array().map(Vec::len), Some(expected_len));
    }

    #[test]
    fn service_provider_config_shape() {
        let doc = service_provider_config(BASE);
        assert_eq!(roundtrip(&doc), doc);
        assert_eq!(doc["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert!(doc.get("documentationUri").is_none_or(Value::is_null));
        assert_eq!(doc["patch"], json!({ "supported": true }));
        assert_eq!(
            doc["bulk"],
            json!({ "supported": true, "maxOperations": 1000, "maxPayloadSize": 16_777_216 })
        );
        assert_eq!(doc["filter"], json!({ "supported": true, "maxResults": 1000 }));
        assert_eq!(doc["filter"]["maxResults"], json!(MAX_RESULTS));
        assert_eq!(doc["changePassword"], json!({ "supported": false }));
        assert_eq!(doc["sort"], json!({ "supported": true }));
        assert_eq!(doc["etag"], json!({ "supported": true }));
        assert_eq!(
            doc["pagination"],
            json!({
                "cursor": true,
                "index": true,
                "defaultPaginationMethod": "index",
                "defaultPageSize": 1000,
                "maxPageSize": 1000,
                "cursorTimeout": 3600,
            })
        );
        let schemes = doc["authenticationSchemes"].as_array().expect("array");
        assert_eq!(schemes.len(), 1);
        assert_eq!(schemes[0]["type"], "oauthbearertoken");
        assert_eq!(schemes[0]["name"], "OAuth Bearer Token");
        assert_eq!(schemes[0]["description"], "Per-organization bearer token");
        assert_eq!(schemes[0]["primary"], true);
        assert_eq!(
            doc["meta"],
            json!({
                "resourceType": "ServiceProviderConfig",
                "location": format!("{BASE}/ServiceProviderConfig"),
            })
        );
        assert!(doc.get("id").is_none(), "RFC 7643 §5: the config has no id");
    }

    /// `/Schemas` describes `/ServiceProviderConfig` exactly: every attribute the config answers,
    /// at every level, and nothing it does not.
    #[test]
    fn the_service_provider_config_schema_names_exactly_what_the_config_answers() {
        fn names(value: &Value) -> std::collections::BTreeSet<String> {
            let object = match value {
                Value::Array(items) => items.first().and_then(Value::as_object),
                other => other.as_object(),
            };
            object.expect("an object").keys().cloned().collect()
        }
        fn described(attrs: &[Value]) -> std::collections::BTreeSet<String> {
            attrs
                .iter()
                .map(|a| a["name"].as_str().expect("name").to_owned())
                .collect()
        }
        let doc = service_provider_config(BASE);
        let schema = schema(BASE, SERVICE_PROVIDER_CONFIG_SCHEMA).expect("described");
        let attributes = schema["attributes"].as_array().expect("attributes");
        let mut answered = names(&doc);
        answered.remove("schemas");
        answered.remove("meta");
        assert_eq!(described(attributes), answered);
        for attribute in attributes {
            let name = attribute["name"].as_str().expect("name");
            let value = &doc[name];
            assert_eq!(attribute["multiValued"], value.is_array(), "{name}");
            let subs = attribute["subAttributes"].as_array().expect("complex");
            assert_eq!(described(subs), names(value), "{name}");
            for sub in subs {
                let inner = if value.is_array() { &value[0] } else { value };
                let kind = match &inner[sub["name"].as_str().expect("name")] {
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "integer",
                    _ if sub["type"] == "reference" => "reference",
                    _ => "string",
                };
                assert_eq!(sub["type"], kind, "{name}.{}", sub["name"]);
            }
        }
        assert!(
            schemas(BASE)["Resources"]
                .as_array()
                .expect("list")
                .contains(&schema)
        );
    }

    #[test]
    fn trailing_slash_on_base_is_tolerated() {
        let with_slash = format!("{BASE}/");
        assert_eq!(
            service_provider_config(&with_slash),
            service_provider_config(BASE)
        );
        assert_eq!(resource_types(&with_slash), resource_types(BASE));
        assert_eq!(schemas(&with_slash), schemas(BASE));
        assert_eq!(resource_type(&with_slash, "User"), resource_type(BASE, "User"));
        assert_eq!(schema(&with_slash, GROUP_SCHEMA), schema(BASE, GROUP_SCHEMA));
    }

    #[test]
    fn resource_types_list_shape() {
        let doc = resource_types(BASE);
        assert_eq!(roundtrip(&doc), doc);
        assert_list_response(&doc, 2);
        let names: Vec<_> = doc["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("User"), json!("Group")]);
        for rt in doc["Resources"].as_array().unwrap() {
            assert_eq!(rt["schemas"], json!([RESOURCE_TYPE_SCHEMA]));
            assert_eq!(rt["id"], rt["name"]);
            assert!(rt["description"].as_str().is_some_and(|d| !d.is_empty()));
            assert_eq!(rt["meta"]["resourceType"], "ResourceType");
            let name = rt["name"].as_str().unwrap();
            assert_eq!(rt["meta"]["location"], format!("{BASE}/ResourceTypes/{name}"));
        }
    }

    #[test]
    fn user_resource_type() {
        let user = resource_type(BASE, "User").expect("User exists");
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], USER_SCHEMA);
        assert_eq!(
            user["schemaExtensions"],
            json!([{ "schema": ENTERPRISE_USER_SCHEMA, "required": false }])
        );
        assert_eq!(user["meta"]["location"], format!("{BASE}/ResourceTypes/User"));
    }

    #[test]
    fn group_resource_type() {
        let group = resource_type(BASE, "Group").expect("Group exists");
        assert_eq!(group["endpoint"], "/Groups");
        assert_eq!(group["schema"], GROUP_SCHEMA);
        assert!(group.get("schemaExtensions").is_none());
        assert_eq!(group["meta"]["location"], format!("{BASE}/ResourceTypes/Group"));
    }

    #[test]
    fn resource_type_lookup_is_case_insensitive() {
        for name in ["user", "USER", "uSeR"] {
            assert_eq!(
                resource_type(BASE, name).map(|v| v["name"].clone()),
                Some(json!("User"))
            );
        }
        for name in ["group", "GROUP"] {
            assert_eq!(
                resource_type(BASE, name).map(|v| v["name"].clone()),
                Some(json!("Group"))
            );
        }
        for name in [
            "",
            "Users",
            "Groups",
            "Me",
            "User ",
            "ServiceProviderConfig",
            "\u{0}",
            "Üser",
        ] {
            assert!(resource_type(BASE, name).is_none(), "{name:?}");
        }
    }

    #[test]
    fn lists_and_single_lookups_agree() {
        for rt in resource_types(BASE)["Resources"].as_array().unwrap() {
            assert_eq!(
                resource_type(BASE, rt["name"].as_str().unwrap()).as_ref(),
                Some(rt)
            );
        }
        for s in schemas(BASE)["Resources"].as_array().unwrap() {
            assert_eq!(schema(BASE, s["id"].as_str().unwrap()).as_ref(), Some(s));
        }
    }

    #[test]
    fn every_schema_belongs_to_exactly_one_resource_type_and_is_served() {
        for def in schema::ALL {
            let uses = RESOURCE_TYPES
                .iter()
                .filter(|rt| rt.schema.id == def.id || rt.extensions.iter().any(|e| e.id == def.id))
                .count();
            assert_eq!(uses, 1, "{}", def.id);
        }
        for rt in &RESOURCE_TYPES {
            assert!(schema(BASE, rt.schema.id).is_some());
            for ext in rt.extensions {
                assert!(schema(BASE, ext.id).is_some());
            }
        }
    }

    #[test]
    fn schemas_list_shape() {
        let doc = schemas(BASE);
        assert_eq!(roundtrip(&doc), doc);
        assert_list_response(&doc, described().count());
        for (s, def) in doc["Resources"].as_array().unwrap().iter().zip(described()) {
            assert_eq!(s["schemas"], json!([SCHEMA_SCHEMA]));
            assert_eq!(s["id"], def.id);
            assert_eq!(s["name"], def.name);
            assert_eq!(s["description"], def.description);
            assert_eq!(s["meta"]["resourceType"], "Schema");
            assert_eq!(s["meta"]["location"], format!("{BASE}/Schemas/{}", def.id));
            assert_eq!(
                s["attributes"].as_array().map(Vec::len),
                Some(def.attributes.len())
            );
        }
    }

    fn find_attr<'a>(list: &'a Value, name: &str) -> &'a Value {
        let found: Vec<_> = list
            .as_array()
            .expect("attribute list")
            .iter()
            .filter(|a| a["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "attribute {name} appears exactly once");
        found[0]
    }

    fn check_attr(def: &AttrDef, rendered: &Value, path: &str) {
        let obj = rendered.as_object().expect("attribute is an object");
        assert_eq!(obj["name"], def.name, "{path}");
        assert_eq!(obj["type"], def.ty.as_str(), "{path}");
        assert_eq!(obj["multiValued"], def.multi_valued, "{path}");
        assert_eq!(obj["description"], def.description, "{path}");
        assert!(!def.description.is_empty(), "{path} has a description");
        assert_eq!(obj["required"], def.required, "{path}");
        assert_eq!(obj["caseExact"], def.case_exact, "{path}");
        assert_eq!(obj["mutability"], def.mutability.as_str(), "{path}");
        assert_eq!(obj["returned"], "default", "{path}");
        assert_eq!(obj["uniqueness"], def.uniqueness.as_str(), "{path}");
        if def.canonical_values.is_empty() {
            assert!(!obj.contains_key("canonicalValues"), "{path}");
        } else {
            assert_eq!(obj["canonicalValues"], json!(def.canonical_values), "{path}");
        }
        if def.ty == AttrType::Reference {
            assert!(
                !def.reference_types.is_empty(),
                "{path}: a reference names what it refers to"
            );
            assert_eq!(obj["referenceTypes"], json!(def.reference_types), "{path}");
        } else {
            assert!(!obj.contains_key("referenceTypes"), "{path}");
        }
        if def.ty == AttrType::Complex {
            let subs = &obj["subAttributes"];
            assert_eq!(
                subs.as_array().map(Vec::len),
                Some(def.sub_attributes.len()),
                "{path}"
            );
            assert!(
                !def.sub_attributes.is_empty(),
                "{path}: a complex attribute has sub-attributes"
            );
            for sub in def.sub_attributes {
                assert_ne!(
                    sub.ty,
                    AttrType::Complex,
                    "{path}: RFC 7643 §2.4 forbids nested complex"
                );
                check_attr(sub, find_attr(subs, sub.name), &format!("{path}.{}", sub.name));
            }
        } else {
            assert!(!obj.contains_key("subAttributes"), "{path}");
        }
    }

    #[test]
    fn every_schema_attribute_is_advertised_with_its_characteristics() {
        let doc = schemas(BASE);
        let mut checked = 0;
        for def in schema::ALL {
            let rendered = doc["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == def.id)
                .expect("schema listed");
            for attr in def.attributes {
                check_attr(
                    attr,
                    find_attr(&rendered["attributes"], attr.name),
                    &format!("{}:{}", def.id, attr.name),
                );
                checked += 1;
            }
        }
        assert_eq!(
            checked,
            schema::ALL.iter().map(|d| d.attributes.len()).sum::<usize>()
        );
    }

    #[test]
    fn attribute_names_are_unique_case_insensitively_per_level() {
        fn check(attrs: &[AttrDef], where_: &str) {
            for (i, a) in attrs.iter().enumerate() {
                for b in &attrs[i + 1..] {
                    assert!(
                        !a.name.eq_ignore_ascii_case(b.name),
                        "{where_}: {} vs {}",
                        a.name,
                        b.name
                    );
                }
                check(a.sub_attributes, a.name);
            }
        }
        for def in schema::ALL {
            check(def.attributes, def.id);
        }
    }

    #[test]
    fn known_attributes_are_advertised() {
        let user = schema(BASE, USER_SCHEMA).unwrap();
        let user_name = find_attr(&user["attributes"], "userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        let emails = find_attr(&user["attributes"], "emails");
        assert_eq!(emails["multiValued"], true);
        assert_eq!(
            find_attr(&emails["subAttributes"], "type")["canonicalValues"],
            json!(["work", "home", "other"])
        );
        let group = schema(BASE, GROUP_SCHEMA).unwrap();
        assert_eq!(
            find_attr(&group["attributes"], "displayName")["uniqueness"],
            "global"
        );
        let members = find_attr(&group["attributes"], "members");
        assert_eq!(
            find_attr(&members["subAttributes"], "$ref")["referenceTypes"],
            json!(["User"])
        );
        assert_eq!(
            find_attr(&members["subAttributes"], "display")["mutability"],
            "readOnly"
        );
        let ent = schema(BASE, ENTERPRISE_USER_SCHEMA).unwrap();
        assert_eq!(ent["name"], "EnterpriseUser");
        let manager = find_attr(&ent["attributes"], "manager");
        assert_eq!(find_attr(&manager["subAttributes"], "value")["type"], "string");
    }

    #[test]
    fn schema_lookup_is_case_insensitive() {
        for id in [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA] {
            for spelling in [id.to_string(), id.to_ascii_uppercase(), id.to_ascii_lowercase()] {
                assert_eq!(
                    schema(BASE, &spelling).map(|s| s["id"].clone()),
                    Some(json!(id)),
                    "{spelling}"
                );
            }
        }
        let bad = [
            "",
            "User",
            "urn:ietf:params:scim:schemas:core:2.0",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            "urn:ietf:params:scim:schemas:core:2.0:Schema",
            "urn:ietf:params:scim:schemas:core:2.0:User ",
        ];
        for id in bad {
            assert!(schema(BASE, id).is_none(), "{id:?}");
        }
    }
}
