//! Helpers shared by the unit tests.

use std::sync::Arc;

use crate::event::{ColumnSchema, ReplicaIdentity, TableId, TableSchema};
use crate::schema::{Schema, SchemaType};

/// `public.t (id int4, v int4)`: keyed by `id` under REPLICA IDENTITY
/// DEFAULT, or without a key under REPLICA IDENTITY FULL.
pub(crate) fn int_table(keyed: bool) -> Arc<TableSchema> {
    let col = |name: &str, key: Option<u16>| ColumnSchema {
        name: name.into(),
        type_oid: 23,
        type_modifier: -1,
        type_name: "int4".into(),
        nullable: key.is_none(),
        is_key: key.is_some(),
        key_position: key,
        schema: Arc::new(Schema::new(SchemaType::Int32)),
        key_mapping: None,
        required_fallback: None,
    };
    Arc::new(TableSchema {
        relation_id: 1,
        id: TableId::new("public", "t"),
        columns: vec![col("id", keyed.then_some(0)), col("v", None)],
        replica_identity: if keyed { ReplicaIdentity::Default } else { ReplicaIdentity::Full },
        version: 1,
    })
}

/// A small deterministic generator (xorshift64*), so a failing seed reproduces.
pub(crate) struct Rng(pub u64);

impl Rng {
    /// A generator for `seed` (any value; spread so small seeds differ).
    pub(crate) fn seeded(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(crate) fn u32(&mut self) -> u32 {
        self.next() as u32
    }
    pub(crate) fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    pub(crate) fn bytes(&mut self, max: u64) -> Vec<u8> {
        (0..self.below(max + 1)).map(|_| self.next() as u8).collect()
    }
}
