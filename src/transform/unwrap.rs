//! Debezium's ExtractNewRecordState (`io.debezium.transforms.ExtractNewRecordState`).

/// `delete.tombstone.handling.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeleteTombstoneHandling {
    /// Keep only the tombstone of a delete.
    #[default]
    Tombstone,
    /// Drop the delete and its tombstone.
    Drop,
    /// Rewrite the delete as the `before` row with `__deleted=true`; drop the tombstone.
    Rewrite,
    /// Like `Rewrite`, keeping the tombstone.
    RewriteWithTombstone,
    /// Turn the delete into a tombstone; drop Debezium's own tombstone.
    DeleteToTombstone,
}

/// One entry of `add.fields` / `add.headers`: `field` or `field:newname`,
/// where `field` may be `source.<name>` or `transaction.<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedField {
    pub field: String,
    pub rename: Option<String>,
}

/// Default of `add.fields.prefix` and `add.headers.prefix`.
pub const DEFAULT_ADDED_PREFIX: &str = "__";

/// The transform's properties (`transforms.<alias>.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnwrapOptions {
    pub delete_tombstone_handling: DeleteTombstoneHandling,
    pub add_fields: Vec<AddedField>,
    pub add_headers: Vec<AddedField>,
    pub add_fields_prefix: String,
    pub add_headers_prefix: String,
    /// `drop.fields.header.name`
    pub drop_fields_header_name: Option<String>,
    /// `drop.fields.from.key` (default false)
    pub drop_fields_from_key: bool,
    /// `drop.fields.keep.schema.compatible` (default true)
    pub drop_fields_keep_schema_compatible: bool,
    /// `route.by.field`
    pub route_by_field: Option<String>,
    /// `replace.null.with.default` (default true)
    pub replace_null_with_default: bool,
}

impl Default for UnwrapOptions {
    fn default() -> Self {
        UnwrapOptions {
            delete_tombstone_handling: DeleteTombstoneHandling::default(),
            add_fields: Vec::new(),
            add_headers: Vec::new(),
            add_fields_prefix: DEFAULT_ADDED_PREFIX.to_owned(),
            add_headers_prefix: DEFAULT_ADDED_PREFIX.to_owned(),
            drop_fields_header_name: None,
            drop_fields_from_key: false,
            drop_fields_keep_schema_compatible: true,
            route_by_field: None,
            replace_null_with_default: true,
        }
    }
}
