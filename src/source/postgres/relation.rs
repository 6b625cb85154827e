//! The relation cache: pgoutput Relation messages + catalog facts → [`TableSchema`].
