//! `listDatabases` outside `admin` is refused as mongod refuses it (code 13, Unauthorized:
//! "listDatabases may only be run against the admin database.").

use bson::doc;
use mongo_sim::engine::{ExecContext, Store};

#[test]
fn list_databases_runs_only_against_admin() {
    let mut s = Store::new();
    let ctx = ExecContext::default();
    if let Err(e) = s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &ctx) {
        panic!("insert: {e}");
    }
    match s.run("db", &doc! {"listDatabases": 1}, &ctx) {
        Ok(reply) => panic!("listDatabases on `db` was accepted: {reply}"),
        Err(e) => assert_eq!((e.code, e.code_name.as_str()), (13, "Unauthorized"), "{e}"),
    }
    match s.run("admin", &doc! {"listDatabases": 1, "nameOnly": true}, &ctx) {
        Ok(reply) => assert_eq!(reply, doc! {"databases": [{"name": "db"}]}),
        Err(e) => panic!("listDatabases on admin: {e}"),
    }
}
