//! The public API (CRUD spec "MongoClient", "Database", "Collection"; change streams, GridFS,
//! index management and enumerate-databases specs): the handles applications hold and the
//! action futures they `.await`. Each action builds an operation of [`crate::operation`] and
//! runs it through the [`crate::executor`]; nothing here selects servers, attaches sessions or
//! retries.

pub mod change_stream;
pub mod client;
pub mod coll;
pub mod cursor;
pub mod db;
mod defaults;
pub mod enumerate_databases;
pub mod gridfs;
pub mod index_management;
pub mod session;
