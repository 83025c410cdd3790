//! The control plane's connection, with no session state.
//!
//! On PostgreSQL the control plane's tables live in the deployment's schema
//! and are named unqualified. Pointing `search_path` at that schema once per
//! connection would be session state, which PgBouncer in transaction mode
//! does not keep: it hands each transaction to whichever server connection
//! is free, so a session setting made on one is missing on the next (and
//! leaks into other clients). So every control-plane statement runs in a
//! transaction that first sets `search_path` for that transaction only
//! (`set_config(…, true)`), as tenant transactions do; a statement outside
//! a transaction gets one of its own. The pool underneath sets nothing, so a
//! control-plane statement that bypassed this type would fail loudly
//! ("relation does not exist") instead of working by luck.
//!
//! On SQLite the control plane is a file of its own and this is the plain
//! connection.

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, IsolationLevel, QueryResult,
    Statement, TransactionOptions, TransactionTrait,
};

/// See the module documentation.
#[derive(Clone)]
pub struct ControlDb {
    pool: DatabaseConnection,
    /// The control-plane schema (PostgreSQL), set per transaction.
    schema: Option<std::sync::Arc<str>>,
}

impl ControlDb {
    pub(super) fn new(pool: DatabaseConnection, schema: Option<&str>) -> ControlDb {
        ControlDb { pool, schema: schema.map(std::sync::Arc::from) }
    }

    /// Starts a transaction in the control plane's schema.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.begin_with_options(TransactionOptions::default()).await
    }

    /// [`ControlDb::begin`] with options.
    pub async fn begin_with_options(&self, options: TransactionOptions) -> Result<DatabaseTransaction, DbErr> {
        let txn = self.pool.begin_with_options(options).await?;
        if let Some(schema) = &self.schema {
            super::point_at(&txn, schema).await?;
        }
        Ok(txn)
    }

    /// Closes the pool.
    pub(super) async fn close(&self) {
        self.pool.clone().close().await.ok();
    }
}

/// Runs one call straight on the pool (SQLite), or in a transaction of its
/// own in the control schema (PostgreSQL).
macro_rules! alone {
    ($db:expr, |$c:ident| $call:expr) => {
        if $db.schema.is_none() {
            let $c = &$db.pool;
            $call.await
        } else {
            let txn = $db.begin().await?;
            let $c = &txn;
            let out = $call.await?;
            txn.commit().await?;
            Ok(out)
        }
    };
}

#[async_trait::async_trait]
impl ConnectionTrait for ControlDb {
    fn get_database_backend(&self) -> DbBackend {
        self.pool.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        alone!(self, |c| c.execute_raw(stmt))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        alone!(self, |c| c.execute_unprepared(sql))
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        alone!(self, |c| c.query_one_raw(stmt))
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        alone!(self, |c| c.query_all_raw(stmt))
    }

    fn support_returning(&self) -> bool {
        self.pool.support_returning()
    }
}

/// So that code generic over [`TransactionTrait`] gets the schema too.
#[async_trait::async_trait]
impl TransactionTrait for ControlDb {
    type Transaction = DatabaseTransaction;

    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        ControlDb::begin(self).await
    }

    async fn begin_with_config(&self, isolation_level: Option<IsolationLevel>, access_mode: Option<AccessMode>) -> Result<DatabaseTransaction, DbErr> {
        ControlDb::begin_with_options(self, TransactionOptions { isolation_level, access_mode, ..Default::default() }).await
    }

    async fn begin_with_options(&self, options: TransactionOptions) -> Result<DatabaseTransaction, DbErr> {
        ControlDb::begin_with_options(self, options).await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, sea_orm::TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c DatabaseTransaction) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.transaction_with_config(callback, None, None).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, sea_orm::TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c DatabaseTransaction) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        use sea_orm::TransactionError;
        let txn = TransactionTrait::begin_with_config(self, isolation_level, access_mode).await.map_err(TransactionError::Connection)?;
        match callback(&txn).await {
            Ok(out) => {
                txn.commit().await.map_err(TransactionError::Connection)?;
                Ok(out)
            }
            Err(e) => {
                txn.rollback().await.map_err(TransactionError::Connection)?;
                Err(TransactionError::Transaction(e))
            }
        }
    }
}
