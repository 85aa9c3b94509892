//! The command builders generated from the server IDL: each builder's serialized command
//! compared with a document written by hand from the IDL (field names, BSON types, order:
//! command name first, chained structs' fields, the command's fields, generic arguments,
//! `$db` last; unset optionals omitted), the client-side rejection rules (IDL validators,
//! Stable API with `apiStrict: true`), and a snapshot of the generated `find` source.

mod builders {
    use bson::{Bson, Document, doc};
    use mongo_driver::commands::*;

    fn to_doc(c: &impl Command) -> Document {
        c.to_document().unwrap_or_else(|e| panic!("{} did not serialize: {e}", std::any::type_name_of_val(c)))
    }

    fn rejected(c: &impl Command) -> String {
        match c.to_document() {
            Ok(d) => panic!("expected a client-side rejection, got {d}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn hello_serializes_with_one_and_idl_types() {
        let cmd = HelloCommand::new("admin")
            .client(doc! {"driver": {"name": "rust", "version": "0"}})
            .max_await_time_ms(500)
            .hello_ok(true)
            .compression(vec!["zlib".to_string()])
            .load_balanced(false);
        assert_eq!(
            to_doc(&cmd),
            doc! {
                "hello": 1i32,
                "client": {"driver": {"name": "rust", "version": "0"}},
                "maxAwaitTimeMS": 500i64,
                "helloOk": true,
                "compression": ["zlib"],
                "loadBalanced": false,
                "$db": "admin",
            }
        );
        assert_eq!(to_doc(&HelloCommand::new("admin")), doc! {"hello": 1i32, "$db": "admin"});
    }

    #[test]
    fn legacy_hello_is_is_master_with_the_same_fields() {
        let cmd = HelloCommand::new("admin").hello_ok(true).client(doc! {"application": {"name": "a"}});
        assert_eq!(
            cmd.to_legacy_document().unwrap(),
            doc! {"isMaster": 1i32, "client": {"application": {"name": "a"}}, "helloOk": true, "$db": "admin"}
        );
    }

    #[test]
    fn find_serializes_fields_in_idl_order_with_generic_arguments() {
        let cmd = FindCommand::new("db", "coll")
            .let_(doc! {"v": 1})
            .batch_size(3)
            .sort(doc! {"x": -1})
            .filter(doc! {"x": {"$gt": 1}})
            .skip(2)
            .limit(5)
            .single_batch(true)
            .allow_partial_results(false)
            .max_time_ms(100)
            .lsid(doc! {"id": Bson::Null})
            .comment("c");
        assert_eq!(
            to_doc(&cmd),
            doc! {
                "find": "coll",
                "filter": {"x": {"$gt": 1}},
                "sort": {"x": -1},
                "skip": 2i64,
                "limit": 5i64,
                "batchSize": 3i64,
                "singleBatch": true,
                "allowPartialResults": false,
                "let": {"v": 1},
                "maxTimeMS": 100i64,
                "lsid": {"id": Bson::Null},
                "comment": "c",
                "$db": "db",
            }
        );
    }

    #[test]
    fn get_more_serializes_cursor_id_as_int64() {
        let cmd = GetMoreCommand::new("db", 123_456_789_012, "coll").batch_size(10);
        assert_eq!(
            to_doc(&cmd),
            doc! {"getMore": 123_456_789_012i64, "collection": "coll", "batchSize": 10i64, "$db": "db"}
        );
    }

    #[test]
    fn kill_cursors_serializes_cursor_ids_as_int64_array() {
        let cmd = KillCursorsCommand::new("db", "coll", vec![1, 2]);
        assert_eq!(to_doc(&cmd), doc! {"killCursors": "coll", "cursors": [1i64, 2i64], "$db": "db"});
    }

    #[test]
    fn insert_serializes_write_base_fields_before_documents() {
        let cmd = InsertCommand::new("db", "coll", vec![doc! {"_id": 1}, doc! {"_id": 2}])
            .ordered(false)
            .bypass_document_validation(true)
            .write_concern(doc! {"w": "majority"})
            .txn_number(7);
        assert_eq!(
            to_doc(&cmd),
            doc! {
                "insert": "coll",
                "bypassDocumentValidation": true,
                "ordered": false,
                "documents": [{"_id": 1}, {"_id": 2}],
                "writeConcern": {"w": "majority"},
                "txnNumber": 7i64,
                "$db": "db",
            }
        );
    }

    #[test]
    fn insert_documents_travel_as_a_document_sequence() {
        let docs = vec![doc! {"_id": 1}, doc! {"_id": 2}];
        let parts = InsertCommand::new("db", "coll", docs.clone()).to_op_msg().unwrap();
        assert_eq!(parts.body, doc! {"insert": "coll", "$db": "db"});
        assert_eq!(parts.sequences, vec![("documents".to_string(), docs)]);
    }

    #[test]
    fn update_serializes_statements_and_let() {
        let stmt = doc! {"q": {"x": 1}, "u": {"$set": {"y": 2}}, "upsert": true};
        let cmd = UpdateCommand::new("db", "coll", vec![stmt.clone()]).let_(doc! {"a": 1}).ordered(true);
        assert_eq!(
            to_doc(&cmd),
            doc! {"update": "coll", "ordered": true, "updates": [stmt.clone()], "let": {"a": 1}, "$db": "db"}
        );
        let parts = UpdateCommand::new("db", "coll", vec![stmt.clone()]).to_op_msg().unwrap();
        assert_eq!(parts.body, doc! {"update": "coll", "$db": "db"});
        assert_eq!(parts.sequences, vec![("updates".to_string(), vec![stmt])]);
    }

    #[test]
    fn delete_serializes_statements() {
        let stmt = doc! {"q": {"x": 1}, "limit": 1};
        let cmd = DeleteCommand::new("db", "coll", vec![stmt.clone()]);
        assert_eq!(to_doc(&cmd), doc! {"delete": "coll", "deletes": [stmt.clone()], "$db": "db"});
        let parts = cmd.to_op_msg().unwrap();
        assert_eq!(parts.sequences, vec![("deletes".to_string(), vec![stmt])]);
    }

    #[test]
    fn find_and_modify_serializes_new_and_update() {
        let cmd = FindAndModifyCommand::new("db", "coll")
            .query(doc! {"x": 1})
            .sort(doc! {"x": 1})
            .update(doc! {"$inc": {"x": 1}})
            .upsert(true)
            .new_(true)
            .array_filters(vec![doc! {"e.a": 1}]);
        assert_eq!(
            to_doc(&cmd),
            doc! {
                "findAndModify": "coll",
                "query": {"x": 1},
                "sort": {"x": 1},
                "arrayFilters": [{"e.a": 1}],
                "update": {"$inc": {"x": 1}},
                "upsert": true,
                "new": true,
                "$db": "db",
            }
        );
        // A pipeline update is an array (the IDL's update_modification).
        let cmd = FindAndModifyCommand::new("db", "coll").update(vec![doc! {"$set": {"y": 1}}]).remove(false);
        assert_eq!(
            to_doc(&cmd),
            doc! {"findAndModify": "coll", "remove": false, "update": [{"$set": {"y": 1}}], "$db": "db"}
        );
    }

    #[test]
    fn aggregate_serializes_pipeline_and_cursor() {
        let cmd = AggregateCommand::new("db", "coll", vec![doc! {"$match": {}}, doc! {"$count": "n"}])
            .cursor(doc! {"batchSize": 0})
            .allow_disk_use(true)
            .hint("_id_")
            .read_concern(doc! {"level": "majority"});
        assert_eq!(
            to_doc(&cmd),
            doc! {
                "aggregate": "coll",
                "pipeline": [{"$match": {}}, {"$count": "n"}],
                "allowDiskUse": true,
                "cursor": {"batchSize": 0},
                "hint": "_id_",
                "readConcern": {"level": "majority"},
                "$db": "db",
            }
        );
    }

    #[test]
    fn aggregate_on_database_sends_one() {
        let cmd =
            AggregateCommand::on_database("admin", vec![doc! {"$listLocalSessions": {}}]).cursor(doc! {});
        assert_eq!(
            to_doc(&cmd),
            doc! {"aggregate": 1i32, "pipeline": [{"$listLocalSessions": {}}], "cursor": {}, "$db": "admin"}
        );
    }

    #[test]
    fn distinct_serializes_key_and_query() {
        let cmd =
            DistinctCommand::new("db", "coll", "x").query(doc! {"y": 1}).collation(doc! {"locale": "fr"});
        assert_eq!(
            to_doc(&cmd),
            doc! {"distinct": "coll", "key": "x", "query": {"y": 1}, "collation": {"locale": "fr"}, "$db": "db"}
        );
    }

    #[test]
    fn count_serializes_query_limit_skip() {
        let cmd = CountCommand::new("db", "coll").query(doc! {"x": 1}).limit(10).skip(1).hint(doc! {"x": 1});
        assert_eq!(
            to_doc(&cmd),
            doc! {"count": "coll", "query": {"x": 1}, "limit": 10i64, "skip": 1i64, "hint": {"x": 1}, "$db": "db"}
        );
    }

    #[test]
    fn end_sessions_serializes_session_ids_as_first_element() {
        let ids = vec![doc! {"id": Bson::Null}];
        let cmd = EndSessionsCommand::new("admin", ids.clone());
        assert_eq!(to_doc(&cmd), doc! {"endSessions": [{"id": Bson::Null}], "$db": "admin"});
    }

    #[test]
    fn create_serializes_collection_options() {
        let cmd = CreateCommand::new("db", "coll")
            .capped(true)
            .size(4096)
            .validator(doc! {"x": {"$type": "int"}})
            .validation_level("moderate")
            .expire_after_seconds(60);
        assert_eq!(
            to_doc(&cmd),
            doc! {
                "create": "coll",
                "capped": true,
                "size": 4096i64,
                "validator": {"x": {"$type": "int"}},
                "validationLevel": "moderate",
                "expireAfterSeconds": 60i64,
                "$db": "db",
            }
        );
        let view = CreateCommand::new("db", "v").view_on("coll").pipeline(vec![doc! {"$match": {}}]);
        assert_eq!(
            to_doc(&view),
            doc! {"create": "v", "viewOn": "coll", "pipeline": [{"$match": {}}], "$db": "db"}
        );
    }

    #[test]
    fn drop_serializes_collection() {
        assert_eq!(to_doc(&DropCommand::new("db", "coll")), doc! {"drop": "coll", "$db": "db"});
    }

    #[test]
    fn generic_arguments_attach_as_one_struct() {
        let args = GenericArguments::new()
            .api_version("1")
            .api_strict(false)
            .cluster_time(doc! {"clusterTime": bson::Timestamp { time: 1, increment: 2 }})
            .read_preference(doc! {"mode": "secondary"})
            .autocommit(false)
            .start_transaction(true);
        let mut cmd = DropCommand::new("db", "coll").with_generic_arguments(args.clone());
        assert_eq!(cmd.generic_arguments(), &args);
        // The executor sets arguments in place (e.g. the session id).
        cmd.generic_arguments_mut().txn_number = Some(3);
        assert_eq!(to_doc(&cmd).get("txnNumber"), Some(&Bson::Int64(3)));
        cmd.generic_arguments_mut().txn_number = None;
        assert_eq!(
            to_doc(&cmd),
            doc! {
                "drop": "coll",
                "apiVersion": "1",
                "apiStrict": false,
                "autocommit": false,
                "startTransaction": true,
                "$readPreference": {"mode": "secondary"},
                "$clusterTime": {"clusterTime": bson::Timestamp { time: 1, increment: 2 }},
                "$db": "db",
            }
        );
    }

    #[test]
    fn every_generated_builder_is_tested_here() {
        let tested = [
            "hello",
            "find",
            "getMore",
            "killCursors",
            "insert",
            "update",
            "delete",
            "findAndModify",
            "aggregate",
            "distinct",
            "count",
            "endSessions",
            "create",
            "drop",
        ];
        let mut generated: Vec<&str> = GENERATED_COMMANDS.to_vec();
        generated.sort();
        let mut tested = tested.to_vec();
        tested.sort();
        assert_eq!(generated, tested, "a builder was added or removed: add or remove its serialization test");
    }

    #[test]
    fn commands_without_idl_are_listed_in_the_readme() {
        let readme = include_str!("../README.md");
        for name in COMMANDS_WITHOUT_IDL {
            assert!(readme.contains(&format!("`{name}`")), "driver/README.md does not explain `{name}`");
        }
        for name in GENERATED_COMMANDS {
            assert!(!COMMANDS_WITHOUT_IDL.contains(name));
        }
    }

    // ---- Reply structs (IDL `reply_type`) ----

    #[test]
    fn cursor_initial_reply_parses_first_batch() {
        let reply = doc! {
            "cursor": {"firstBatch": [{"_id": 1}], "id": 42i64, "ns": "db.coll", "partialResultsReturned": false},
            "ok": 1.0,
        };
        let parsed = CursorInitialReply::from_document(&reply).unwrap();
        let cursor = parsed.cursor.expect("cursor");
        assert_eq!(cursor.id, 42);
        assert_eq!(cursor.ns, "db.coll");
        assert_eq!(cursor.first_batch, vec![doc! {"_id": 1}]);
        assert_eq!(cursor.partial_results_returned, Some(false));
        assert_eq!(cursor.post_batch_resume_token, None);
    }

    #[test]
    fn reply_errors_name_struct_and_field() {
        let missing = doc! {"cursor": {"id": 0i64, "ns": "db.coll"}, "ok": 1};
        let err = CursorInitialReply::from_document(&missing).unwrap_err().to_string();
        assert!(err.contains("InitialResponseCursor") && err.contains("firstBatch"), "{err}");
        let wrong = doc! {"cursor": {"id": "zero", "ns": "db.coll", "nextBatch": []}, "ok": 1};
        let err = CursorGetMoreReply::from_document(&wrong).unwrap_err().to_string();
        assert!(err.contains("id") && err.contains("integer"), "{err}");
    }

    #[test]
    fn get_more_and_kill_cursors_replies_parse() {
        let reply = doc! {"cursor": {"nextBatch": [], "id": 0i32, "ns": "db.c"}, "ok": 1};
        let parsed = CursorGetMoreReply::from_document(&reply).unwrap();
        assert_eq!(parsed.cursor.id, 0, "an int32 id is read as the IDL long");
        assert!(parsed.cursor.next_batch.is_empty());
        let reply = doc! {"cursorsKilled": [1i64], "cursorsNotFound": [], "cursorsAlive": [], "cursorsUnknown": [], "ok": 1};
        assert_eq!(KillCursorsCommandReply::from_document(&reply).unwrap().cursors_killed, vec![1]);
    }

    #[test]
    fn write_replies_parse_counts_upserts_and_errors() {
        let reply = doc! {
            "n": 2, "nModified": 1, "upserted": [{"index": 1, "_id": 7}],
            "writeErrors": [{"index": 0, "code": 11000, "errmsg": "dup"}], "ok": 1,
        };
        let parsed = UpdateCommandReply::from_document(&reply).unwrap();
        assert_eq!((parsed.n, parsed.n_modified), (Some(2), Some(1)));
        let upserted = parsed.upserted.expect("upserted");
        assert_eq!((upserted[0].index, upserted[0].id.clone()), (1, Bson::Int32(7)));
        assert_eq!(parsed.write_errors.map(|e| e.len()), Some(1));
        let insert = InsertCommandReply::from_document(&doc! {"n": 3, "ok": 1}).unwrap();
        assert_eq!(insert.n, Some(3));
    }

    #[test]
    fn find_and_modify_reply_reads_null_value_as_none() {
        let reply =
            doc! {"lastErrorObject": {"n": 0, "updatedExisting": false}, "value": Bson::Null, "ok": 1};
        let parsed = FindAndModifyCommandReply::from_document(&reply).unwrap();
        assert_eq!(parsed.value, None);
        assert_eq!(parsed.last_error_object.n, 0);
        assert_eq!(parsed.last_error_object.updated_existing, Some(false));
    }

    // ---- Validators (IDL `validator`) ----

    #[test]
    fn validator_rejects_negative_batch_size() {
        let err = rejected(&FindCommand::new("db", "coll").batch_size(-1));
        assert!(err.contains("find") && err.contains("batchSize") && err.contains(">= 0"), "{err}");
        // The bound itself is allowed.
        assert!(FindCommand::new("db", "coll").batch_size(0).to_document().is_ok());
    }

    #[test]
    fn validator_rejects_negative_skip_and_limit() {
        assert!(rejected(&FindCommand::new("db", "c").skip(-1)).contains("skip"));
        assert!(rejected(&FindCommand::new("db", "c").limit(-5)).contains("limit"));
        assert!(rejected(&CountCommand::new("db", "c").skip(-1)).contains("count"));
        assert!(rejected(&GetMoreCommand::new("db", 1, "c").batch_size(-2)).contains("getMore"));
        assert!(rejected(&HelloCommand::new("admin").max_await_time_ms(-1)).contains("maxAwaitTimeMS"));
    }

    #[test]
    fn validator_enforces_upper_and_strict_bounds() {
        // create.size: gte 1, lte 1 PiB; create.max: lt 2^31.
        assert!(rejected(&CreateCommand::new("db", "c").size(0)).contains(">= 1"));
        assert!(rejected(&CreateCommand::new("db", "c").size(1_125_899_906_842_625)).contains("<="));
        assert!(CreateCommand::new("db", "c").size(1_125_899_906_842_624).to_document().is_ok());
        assert!(rejected(&CreateCommand::new("db", "c").max(2_147_483_648)).contains("< 2147483648"));
        assert!(CreateCommand::new("db", "c").max(2_147_483_647).to_document().is_ok());
    }

    #[test]
    fn validator_checks_generic_max_time_ms_range() {
        let err = rejected(&FindCommand::new("db", "c").max_time_ms(-1));
        assert!(err.contains("maxTimeMS") && err.contains("find"), "{err}");
        assert!(rejected(&FindCommand::new("db", "c").max_time_ms(2_147_483_648)).contains("maxTimeMS"));
        assert!(FindCommand::new("db", "c").max_time_ms(2_147_483_647).to_document().is_ok());
    }

    #[test]
    fn validator_applies_to_op_msg_too() {
        assert!(FindCommand::new("db", "c").batch_size(-1).to_op_msg().is_err());
    }

    // ---- Stable API (`stability`, `apiStrict: true`) ----

    #[test]
    fn strict_api_rejects_unstable_field_naming_field_and_command() {
        let cmd = FindCommand::new("db", "coll").min(doc! {"x": 1}).api_version("1").api_strict(true);
        let err = rejected(&cmd);
        assert!(err.contains("find") && err.contains("`min`") && err.contains("unstable"), "{err}");
    }

    #[test]
    fn strict_api_allows_stable_fields_and_non_strict_clients() {
        let stable = FindCommand::new("db", "coll").filter(doc! {"x": 1}).api_version("1").api_strict(true);
        assert!(stable.to_document().is_ok());
        let lax = FindCommand::new("db", "coll").min(doc! {"x": 1}).api_version("1").api_strict(false);
        assert!(lax.to_document().is_ok());
        let unset = FindCommand::new("db", "coll").min(doc! {"x": 1});
        assert!(unset.to_document().is_ok());
    }

    #[test]
    fn strict_api_rejects_unstable_fields_of_other_commands() {
        let err = rejected(&AggregateCommand::new("db", "c", vec![]).explain(true).api_strict(true));
        assert!(err.contains("aggregate") && err.contains("`explain`"), "{err}");
        let err = rejected(&CreateCommand::new("db", "c").size(10).api_strict(true));
        assert!(err.contains("create") && err.contains("`size`"), "{err}");
        let err = rejected(&DropCommand::new("db", "c").collection_uuid(bson::Uuid::new()).api_strict(true));
        assert!(err.contains("drop") && err.contains("`collectionUUID`"), "{err}");
    }

    #[test]
    fn strict_api_leaves_commands_outside_the_api_to_the_server() {
        // distinct has `api_version: ""` and no field stabilities in its IDL; the
        // versioned-api spec test "distinct appends declared API version" expects it sent
        // under apiStrict and answered by the server with APIStrictError.
        assert_eq!(DistinctCommand::API_VERSION, "");
        let cmd = DistinctCommand::new("db", "c", "x").api_version("1").api_strict(true);
        assert_eq!(
            to_doc(&cmd),
            doc! {"distinct": "c", "key": "x", "apiVersion": "1", "apiStrict": true, "$db": "db"}
        );
    }

    // ---- The generated source ----

    const FIND_SOURCE: &str = include_str!(concat!(env!("OUT_DIR"), "/command_find.rs"));

    /// The generated `find` source without its doc comments: the doc comments quote the
    /// IDL descriptions, and server text is not committed (see the server data's
    /// PROVENANCE.md); names, types and code are what the snapshot reviews.
    #[test]
    fn find_builder_source_snapshot() {
        assert!(FIND_SOURCE.contains("pub struct FindCommand"));
        let code: Vec<&str> = FIND_SOURCE.lines().filter(|l| !l.trim_start().starts_with("///")).collect();
        insta::assert_snapshot!("find_builder_source", code.join("\n"));
    }

    /// The builder's docs are the IDL `description`s, read here from the IDL file itself.
    #[test]
    fn find_builder_docs_come_from_the_idl() {
        use spec_codegen::idl::{FieldDef, IdlSet};
        let src = std::path::Path::new(env!("MONGO_DRIVER_SERVER_ROOT")).join("src");
        let set = IdlSet::load(&src, &["mongo/db/query/find_command.idl".to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, find) = &set.commands["find"];
        let fields = find.fields.as_ref().expect("find has fields");
        let docs: String = FIND_SOURCE
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("///"))
            .collect::<Vec<_>>()
            .join(" ");
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let docs = squash(&docs);
        let mut checked = 0;
        for (name, def) in &fields.0 {
            let FieldDef::Full(full) = def else { continue };
            if full.stability.as_deref() == Some("internal") {
                continue;
            }
            if let Some(d) = &full.description {
                assert!(docs.contains(&squash(d)), "doc of `{name}` is not the IDL description");
                checked += 1;
            }
        }
        assert!(checked > 10, "only {checked} descriptions checked");
    }
}
