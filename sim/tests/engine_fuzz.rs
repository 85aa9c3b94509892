//! Robustness: thousands of generated (mostly malformed) commands must produce replies or
//! coded errors, never a panic, and must leave the store usable.

use bson::{Bson, Document, doc};
use mongo_sim::engine::{ExecContext, Store};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    fn chance(&mut self, n: u64) -> bool {
        self.next() % n == 0
    }
}

const KEYS: &[&str] = &[
    "a",
    "b",
    "a.b",
    "a.0",
    "a.$",
    "a.$[]",
    "a.$[e]",
    "_id",
    "x",
    "tags",
    "$gt",
    "$lt",
    "$gte",
    "$in",
    "$nin",
    "$ne",
    "$eq",
    "$exists",
    "$type",
    "$size",
    "$all",
    "$elemMatch",
    "$regex",
    "$options",
    "$not",
    "$and",
    "$or",
    "$nor",
    "$expr",
    "$mod",
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$rename",
    "$push",
    "$addToSet",
    "$pull",
    "$pullAll",
    "$pop",
    "$each",
    "$slice",
    "$sort",
    "$position",
    "$currentDate",
    "$setOnInsert",
    "$add",
    "$concat",
    "$cond",
    "$ifNull",
    "$size",
    "$arrayElemAt",
    "$sum",
    "$avg",
    "$first",
    "$literal",
    "$map",
    "$filter",
    "$let",
    "$split",
    "$substr",
    "$setField",
    "$getField",
    "$match",
    "$group",
    "$project",
    "$addFields",
    "$unwind",
    "$count",
    "$skip",
    "$limit",
    "$replaceRoot",
    "$lookup",
    "$sortByCount",
    "",
    "e",
    "e.x",
    "newRoot",
    "path",
    "input",
    "as",
    "in",
    "vars",
    "if",
    "then",
    "else",
    "field",
    "value",
];

fn value(g: &mut Gen, depth: u32) -> Bson {
    let choice = if depth >= 3 { g.next() % 9 } else { g.next() % 13 };
    match choice {
        0 => Bson::Int32(*g.pick(&[0, 1, -1, 2, 7, i32::MAX, i32::MIN])),
        1 => Bson::Int64(*g.pick(&[0, 3, -5, i64::MAX, i64::MIN, 1 << 40])),
        2 => Bson::Double(*g.pick(&[0.5, -0.0, f64::NAN, f64::INFINITY, 1e300, -2.5])),
        3 => Bson::String(
            g.pick(&["", "a", "$a", "$$ROOT", "$$x", "$a.b", "(", "x.y", "number", "int"]).to_string(),
        ),
        4 => Bson::Null,
        5 => Bson::Boolean(g.chance(2)),
        6 => Bson::RegularExpression(bson::Regex {
            pattern: g
                .pick(&["^a", "(", "a+", ""])
                .to_string()
                .try_into()
                .unwrap_or_else(|_| "a".to_string().try_into().unwrap()),
            options: g
                .pick(&["", "i", "q"])
                .to_string()
                .try_into()
                .unwrap_or_else(|_| "".to_string().try_into().unwrap()),
        }),
        7 => Bson::MinKey,
        8 => Bson::Decimal128("1.5".parse().unwrap_or_else(|_| bson::Decimal128::from_bytes([0; 16]))),
        9 | 10 => Bson::Document(document(g, depth + 1)),
        _ => {
            let n = g.next() % 4;
            Bson::Array((0..n).map(|_| value(g, depth + 1)).collect())
        }
    }
}

fn document(g: &mut Gen, depth: u32) -> Document {
    let n = g.next() % 4;
    let mut d = Document::new();
    for _ in 0..n {
        let k = g.pick(KEYS).to_string();
        let v = value(g, depth);
        d.insert(k, v);
    }
    d
}

fn command(g: &mut Gen) -> Document {
    // Mostly well-typed command fields with random contents; sometimes anything at all.
    let wild = g.chance(5);
    let d = |g: &mut Gen| if wild { value(g, 1) } else { Bson::Document(document(g, 1)) };
    match g.next() % 10 {
        0 => doc! {"find": "c", "filter": d(g), "projection": d(g), "sort": d(g), "limit": value(g, 3)},
        1 => doc! {"insert": "c", "documents": [d(g), d(g)], "ordered": value(g, 3)},
        2 => {
            doc! {"update": "c", "updates": [{"q": d(g), "u": d(g), "upsert": g.chance(2), "multi": g.chance(2)}]}
        }
        3 => doc! {"delete": "c", "deletes": [{"q": d(g), "limit": *g.pick(&[0, 1, 2])}]},
        4 => doc! {"aggregate": "c", "pipeline": [d(g), d(g)], "cursor": {}},
        5 => {
            doc! {"findAndModify": "c", "query": d(g), "update": d(g), "sort": d(g), "new": g.chance(2), "upsert": g.chance(2), "fields": d(g)}
        }
        6 => doc! {"distinct": "c", "key": value(g, 3), "query": d(g)},
        7 => doc! {"count": "c", "query": d(g), "skip": value(g, 3)},
        8 => {
            doc! {"createIndexes": "c", "indexes": [{"key": d(g), "name": value(g, 3), "unique": g.chance(2)}]}
        }
        _ => doc! {"getMore": value(g, 3), "collection": value(g, 3), "batchSize": value(g, 3)},
    }
}

#[test]
fn generated_commands_never_panic() {
    let mut s = Store::new();
    let ctx = ExecContext::default();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1, "a": [1, {"b": 2}], "x": 5}, {"_id": 2, "a": {"b": [3]}}]}, &ctx)
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("seed insert failed: {e}"));
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut failed) = (0, 0);
    for i in 0..4000 {
        let cmd = command(&mut g);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run("db", &cmd, &ctx)));
        match outcome {
            Err(_) => panic!("command {i} panicked: {cmd}"),
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                assert!(e.code != 0 && !e.code_name.is_empty() && !e.message.is_empty(), "{cmd}: {e:?}");
                failed += 1;
            }
        }
    }
    // Both outcomes occur: the generator exercises real work, not only parse errors.
    assert!(ok > 100 && failed > 100, "ok {ok}, failed {failed}");
    assert!(s.run("db", &doc! {"find": "c"}, &ctx).is_ok());
}
