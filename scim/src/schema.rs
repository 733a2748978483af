//! The attributes this server supports, per schema. One table drives `/Schemas`, input
//! normalisation (case-insensitive names, dropping unknown and read-only attributes) and PATCH paths,
//! so what is advertised is exactly what is honoured.

use super::ast::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// SCIM attribute data types (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Complex,
}

impl AttrType {
    /// The wire spelling in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
}

impl Mutability {
    /// The wire spelling in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
        }
    }
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    /// The wire spelling in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute of a schema, with its sub-attributes when complex.
#[derive(Debug)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub uniqueness: Uniqueness,
    pub description: &'static str,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttrDef],
}

impl AttrDef {
    /// Looks a sub-attribute up by name, case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A resource schema or extension: its URN and attributes.
#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

impl SchemaDef {
    /// Looks an attribute up by name, case-insensitively.
    pub fn attr(&self, name: &str) -> Option<&'static AttrDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

const fn simple(name: &'static str, ty: AttrType, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        uniqueness: Uniqueness::None,
        description,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    simple(name, AttrType::String, description)
}

const fn type_attr(canonical: &'static [&'static str]) -> AttrDef {
    AttrDef {
        canonical_values: canonical,
        ..string("type", "A label indicating the attribute's function.")
    }
}

const fn primary_attr() -> AttrDef {
    simple(
        "primary",
        AttrType::Boolean,
        "Whether this is the primary value of the attribute.",
    )
}

const fn multi(name: &'static str, description: &'static str, subs: &'static [AttrDef]) -> AttrDef {
    AttrDef {
        multi_valued: true,
        sub_attributes: subs,
        ..simple(name, AttrType::Complex, description)
    }
}

const fn complex(name: &'static str, description: &'static str, subs: &'static [AttrDef]) -> AttrDef {
    AttrDef {
        sub_attributes: subs,
        ..simple(name, AttrType::Complex, description)
    }
}

const NAME_SUBS: &[AttrDef] = &[
    string("formatted", "The full name, formatted for display."),
    string("familyName", "The family name."),
    string("givenName", "The given name."),
    string("middleName", "The middle name(s)."),
    string("honorificPrefix", "The honorific prefix(es)."),
    string("honorificSuffix", "The honorific suffix(es)."),
];

const EMAIL_SUBS: &[AttrDef] = &[
    string("value", "The e-mail address."),
    string("display", "A human-readable name."),
    type_attr(&["work", "home", "other"]),
    primary_attr(),
];

const PHONE_SUBS: &[AttrDef] = &[
    string("value", "The phone number."),
    string("display", "A human-readable name."),
    type_attr(&["work", "home", "mobile", "fax", "pager", "other"]),
    primary_attr(),
];

const ADDRESS_SUBS: &[AttrDef] = &[
    string("formatted", "The full mailing address."),
    string("streetAddress", "The street address."),
    string("locality", "The city or locality."),
    string("region", "The state or region."),
    string("postalCode", "The postal code."),
    string("country", "The country."),
    type_attr(&["work", "home", "other"]),
    primary_attr(),
];

const ROLE_SUBS: &[AttrDef] = &[
    string("value", "The role."),
    string("display", "A human-readable name."),
    string("type", "A label indicating the role's function."),
    primary_attr(),
];

/// The core User schema as this server supports it.
pub static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User account provisioned by the organization's IdP",
    attributes: &[
        AttrDef {
            required: true,
            uniqueness: Uniqueness::Server,
            ..string(
                "userName",
                "Unique identifier of the user within the organization (case-insensitive).",
            )
        },
        complex("name", "The components of the user's name.", NAME_SUBS),
        string("displayName", "The name of the user, suitable for display."),
        string("nickName", "The casual way to address the user."),
        AttrDef {
            reference_types: &["external"],
            ..simple("profileUrl", AttrType::Reference, "A URL to the user's profile.")
        },
        string("title", "The user's title."),
        string(
            "userType",
            "The relationship between the organization and the user.",
        ),
        string("preferredLanguage", "The user's preferred language."),
        string("locale", "The user's default location."),
        string("timezone", "The user's time zone."),
        simple(
            "active",
            AttrType::Boolean,
            "Whether the user may log in; deactivated users keep their data.",
        ),
        multi("emails", "E-mail addresses of the user.", EMAIL_SUBS),
        multi("phoneNumbers", "Phone numbers of the user.", PHONE_SUBS),
        multi(
            "addresses",
            "Physical mailing addresses of the user.",
            ADDRESS_SUBS,
        ),
        multi("roles", "Roles of the user.", ROLE_SUBS),
    ],
};

const MANAGER_SUBS: &[AttrDef] = &[
    string("value", "The id of the user's manager."),
    AttrDef {
        reference_types: &["User"],
        ..simple("$ref", AttrType::Reference, "The URI of the manager.")
    },
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..string("displayName", "The manager's display name.")
    },
];

/// The enterprise User extension as this server supports it.
pub static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User extension",
    attributes: &[
        string(
            "employeeNumber",
            "Numeric or alphanumeric identifier assigned to the person.",
        ),
        string("costCenter", "Name of a cost center."),
        string("organization", "Name of an organization."),
        string("division", "Name of a division."),
        string("department", "Name of a department."),
        complex("manager", "The user's manager.", MANAGER_SUBS),
    ],
};

const MEMBER_SUBS: &[AttrDef] = &[
    AttrDef {
        mutability: Mutability::Immutable,
        ..string("value", "The id of a User of this organization.")
    },
    AttrDef {
        mutability: Mutability::Immutable,
        reference_types: &["User"],
        ..simple("$ref", AttrType::Reference, "The URI of the member.")
    },
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..string("display", "The member's display name.")
    },
    AttrDef {
        mutability: Mutability::Immutable,
        canonical_values: &["User"],
        ..string("type", "The member's resource type.")
    },
];

/// The core Group schema as this server supports it.
pub static GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group of the organization's IdP directory; display names are unique across the instance",
    attributes: &[
        AttrDef {
            required: true,
            uniqueness: Uniqueness::Global,
            ..string(
                "displayName",
                "Name of the group, unique across every organization on this instance (case-insensitive).",
            )
        },
        multi("members", "Users of this organization in the group.", MEMBER_SUBS),
    ],
};

/// Every schema this server serves in `/Schemas`.
pub static ALL: [&SchemaDef; 3] = [&USER, &ENTERPRISE_USER, &GROUP];

/// The URN of the ServiceProviderConfig schema (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// A read-only attribute the server sets and a client never sends (the config is not writable).
const fn config(name: &'static str, ty: AttrType, description: &'static str) -> AttrDef {
    AttrDef {
        required: true,
        mutability: Mutability::ReadOnly,
        ..simple(name, ty, description)
    }
}

const fn config_complex(name: &'static str, description: &'static str, subs: &'static [AttrDef]) -> AttrDef {
    AttrDef {
        sub_attributes: subs,
        ..config(name, AttrType::Complex, description)
    }
}

const SUPPORTED: AttrDef = config(
    "supported",
    AttrType::Boolean,
    "Whether the operation is supported.",
);

const BULK_SUBS: &[AttrDef] = &[
    SUPPORTED,
    config(
        "maxOperations",
        AttrType::Integer,
        "The most operations one Bulk request may hold.",
    ),
    config(
        "maxPayloadSize",
        AttrType::Integer,
        "The largest Bulk request body, in bytes.",
    ),
];

const FILTER_SUBS: &[AttrDef] = &[
    SUPPORTED,
    config(
        "maxResults",
        AttrType::Integer,
        "The most resources one answer holds.",
    ),
];

/// RFC 9865 §4: how lists may be paged.
const PAGINATION_SUBS: &[AttrDef] = &[
    config(
        "cursor",
        AttrType::Boolean,
        "Whether lists may be paged by cursor (RFC 9865).",
    ),
    config(
        "index",
        AttrType::Boolean,
        "Whether lists may be paged by startIndex (RFC 7644 §3.4.2.4).",
    ),
    AttrDef {
        canonical_values: &["cursor", "index"],
        ..config(
            "defaultPaginationMethod",
            AttrType::String,
            "How a list is paged when the request names neither method.",
        )
    },
    config(
        "defaultPageSize",
        AttrType::Integer,
        "Resources on a page when the request has no count.",
    ),
    config(
        "maxPageSize",
        AttrType::Integer,
        "The most resources one page holds.",
    ),
    config(
        "cursorTimeout",
        AttrType::Integer,
        "Seconds a cursor stays valid after the page that issued it.",
    ),
];

const AUTHENTICATION_SCHEME_SUBS: &[AttrDef] = &[
    AttrDef {
        canonical_values: &["oauth", "oauth2", "oauthbearertoken", "httpbasic", "httpdigest"],
        ..config("type", AttrType::String, "The authentication scheme.")
    },
    config("name", AttrType::String, "The common name of the scheme."),
    config("description", AttrType::String, "A description of the scheme."),
    AttrDef {
        required: false,
        reference_types: &["external"],
        ..config("specUri", AttrType::Reference, "The specification of the scheme.")
    },
    AttrDef {
        required: false,
        ..config(
            "primary",
            AttrType::Boolean,
            "Whether this is the preferred scheme.",
        )
    },
];

/// The ServiceProviderConfig schema (RFC 7643 §5, with RFC 9865's `pagination`), for `/Schemas`:
/// exactly the attributes `/ServiceProviderConfig` answers.
pub static SERVICE_PROVIDER_CONFIG: SchemaDef = SchemaDef {
    id: SERVICE_PROVIDER_CONFIG_SCHEMA,
    name: "Service Provider Configuration",
    description: "What this SCIM endpoint supports",
    attributes: &[
        config_complex("patch", "PATCH (RFC 7644 §3.5.2).", &[SUPPORTED]),
        config_complex("bulk", "Bulk requests (RFC 7644 §3.7).", BULK_SUBS),
        config_complex("filter", "Filtered lists (RFC 7644 §3.4.2.2).", FILTER_SUBS),
        config_complex("changePassword", "Password changes.", &[SUPPORTED]),
        config_complex("sort", "Sorted lists (RFC 7644 §3.4.2.3).", &[SUPPORTED]),
        config_complex("etag", "ETags and versions (RFC 7644 §3.14).", &[SUPPORTED]),
        config_complex(
            "pagination",
            "How lists may be paged (RFC 9865).",
            PAGINATION_SUBS,
        ),
        AttrDef {
            multi_valued: true,
            ..config_complex(
                "authenticationSchemes",
                "How clients authenticate.",
                AUTHENTICATION_SCHEME_SUBS,
            )
        },
    ],
};
