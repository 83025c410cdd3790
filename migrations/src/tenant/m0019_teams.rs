//! Teams: named groups of staff that tickets are given to, each with a
//! rule that picks an agent for its new tickets (round robin, or fewest
//! open tickets, skipping agents who are away). One team may take the
//! desk's new tickets. A ticket names its team; an agent says whether they
//! are away.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    Name,
    Rule,
    TakesNew,
    LastUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TeamMembers {
    Table,
    TeamId,
    UserId,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    TeamId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Away,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Teams::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Teams::Id))
                    .col(string_len_uniq(Teams::Name, 64))
                    // `manual`, `round_robin` or `fewest_open`.
                    .col(string_len(Teams::Rule, 16).default("manual"))
                    .col(boolean(Teams::TakesNew).default(false))
                    // Round robin goes on after the agent it picked last.
                    .col(big_integer_null(Teams::LastUserId))
                    .col(timestamp_with_time_zone(Teams::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TeamMembers::Table)
                    .if_not_exists()
                    .col(big_integer(TeamMembers::TeamId))
                    .col(big_integer(TeamMembers::UserId))
                    .primary_key(Index::create().col(TeamMembers::TeamId).col(TeamMembers::UserId))
                    .to_owned(),
            )
            .await?;
        manager.alter_table(Table::alter().table(Tickets::Table).add_column(big_integer_null(Tickets::TeamId)).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).add_column(boolean(Users::Away).default(false)).to_owned()).await?;
        // The queue filtered by team, newest change first.
        super::index(manager, "idx_tickets_team", Tickets::Table, vec![Tickets::TeamId.into_iden(), Tickets::UpdatedAt.into_iden()]).await?;
        super::index(manager, "idx_team_members_user", TeamMembers::Table, vec![TeamMembers::UserId.into_iden()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_tickets_team").table(Tickets::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::Away).to_owned()).await?;
        manager.alter_table(Table::alter().table(Tickets::Table).drop_column(Tickets::TeamId).to_owned()).await?;
        manager.drop_table(Table::drop().table(TeamMembers::Table).if_exists().to_owned()).await?;
        manager.drop_table(Table::drop().table(Teams::Table).if_exists().to_owned()).await
    }
}
