//! Pieces more than one migration builds its tables with. Each must keep producing exactly what
//! it did: released migrations call it too.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

/// A foreign key from `table.col` to the organization it belongs to; the organization's rows go
/// with it.
pub(crate) fn fk_org<T: IntoIden + 'static>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}
