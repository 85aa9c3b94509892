//! Bucket entities and their operations in generated unified tests (`unified-test-format.rst`,
//! entity "bucket" and "Bucket Operations"; GridFS spec): each operation becomes a call on
//! the driver's `GridFsBucket` that the runner created for the entity.

use proc_macro2::TokenStream;
use quote::quote;

use super::model::{BucketEntity, Operation};

/// The `bucketOptions` the runner passes to the driver.
const BUCKET_OPTIONS: &[&str] =
    &["bucketName", "chunkSizeBytes", "writeConcern", "readConcern", "readPreference"];

/// The upload options the runner passes to the driver (`disableMD5`: see
/// [`check_disable_md5`]).
const UPLOAD_OPTIONS: &[&str] = &["chunkSizeBytes", "metadata", "contentType", "disableMD5"];

/// Why a bucket entity cannot be created yet, if so.
pub(super) fn unsupported_bucket(bucket: &BucketEntity) -> Option<String> {
    let options = bucket.bucket_options.iter().flat_map(|o| o.iter());
    let allowed = |k: &str, v: &serde_json::Value| {
        BUCKET_OPTIONS.contains(&k) || (k == "disableMD5" && *v == serde_json::json!(true))
    };
    let (key, _) = options.into_iter().find(|(k, v)| !allowed(k, v))?;
    Some(format!("bucket entity: bucketOptions.{key} not supported by the runner"))
}

/// `disableMD5: true` asks for what the driver always does: it computes no MD5 (GridFS
/// spec "disableMD5": a driver without MD5 support treats the option as a no-op); the case
/// still checks that no `md5` is stored. `false` would ask for an MD5 the driver never writes.
fn check_disable_md5(op: &Operation) -> Result<(), String> {
    match op.arguments.as_ref().and_then(|a| a.get("disableMD5")) {
        None | Some(serde_json::Value::Bool(true)) => Ok(()),
        Some(other) => Err(format!(
            "bucket operation {}: disableMD5 {other}: the driver computes no MD5 (deprecated by the GridFS spec)",
            op.name
        )),
    }
}

/// The driver call of a bucket operation (an expression of type
/// `Result<Bson, mongo_driver::error::Error>`; `bucket` and `o` are in scope).
pub(super) fn bucket_operation(op: &Operation) -> Result<TokenStream, String> {
    let name = op.name.as_str();
    let keys: Vec<&str> = op.arguments.iter().flat_map(|a| a.keys()).map(String::as_str).collect();
    let takes = |required: &[&str], optional: &[&str]| -> Result<(), String> {
        for key in required {
            if !keys.contains(key) {
                return Err(format!("bucket operation {name}: missing argument `{key}`"));
            }
        }
        match keys.iter().find(|k| !required.contains(k) && !optional.contains(k)) {
            Some(key) => {
                Err(format!("bucket operation {name}: argument `{key}` not supported by the runner"))
            }
            None => Ok(()),
        }
    };
    let nothing = quote! { .map(|()| ::bson::Bson::Null) };
    Ok(match name {
        "upload" => {
            takes(&["filename", "source"], UPLOAD_OPTIONS)?;
            check_disable_md5(op)?;
            quote! {
                bucket.upload_from_slice(&o.string("filename"), &o.hex_bytes("source"), o.upload_options())
                    .await
                    .map(::bson::Bson::ObjectId)
            }
        }
        "uploadWithId" => {
            takes(&["id", "filename", "source"], UPLOAD_OPTIONS)?;
            check_disable_md5(op)?;
            quote! {
                bucket.upload_from_slice_with_id(o.bson("id"), &o.string("filename"), &o.hex_bytes("source"), o.upload_options())
                    .await #nothing
            }
        }
        "download" => {
            takes(&["id"], &[])?;
            quote! { bucket.download_to_vec(o.bson("id")).await.map(R::bytes) }
        }
        "downloadByName" => {
            takes(&["filename"], &["revision"])?;
            quote! {
                bucket.download_to_vec_by_name(&o.string("filename"), o.download_by_name_options())
                    .await
                    .map(R::bytes)
            }
        }
        "delete" => {
            takes(&["id"], &[])?;
            quote! { bucket.delete(o.bson("id")).await #nothing }
        }
        "rename" => {
            takes(&["id", "newFilename"], &[])?;
            quote! { bucket.rename(o.bson("id"), &o.string("newFilename")).await #nothing }
        }
        "drop" => {
            takes(&[], &[])?;
            quote! { bucket.drop().await #nothing }
        }
        other => return Err(format!("bucket operation {other} not supported by the runner")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(json: &str) -> Operation {
        match serde_json::from_str(json) {
            Ok(o) => o,
            Err(e) => panic!("{json}: {e}"),
        }
    }

    #[test]
    fn bucket_operations_are_emitted_or_refused_with_a_reason() {
        let upload = op(
            r#"{"name": "upload", "object": "b", "arguments": {"filename": "f", "source": {"$$hexBytes": ""}, "chunkSizeBytes": 4}}"#,
        );
        let body = bucket_operation(&upload).map(|t| t.to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert!(body.contains("upload_from_slice"), "{body}");
        let download = op(r#"{"name": "download", "object": "b", "arguments": {"id": 1}}"#);
        assert!(bucket_operation(&download).is_ok_and(|t| t.to_string().contains("download_to_vec")));
        let extra = op(r#"{"name": "download", "object": "b", "arguments": {"id": 1, "session": "s"}}"#);
        assert!(bucket_operation(&extra).is_err_and(|e| e.contains("`session` not supported")));
        let missing = op(r#"{"name": "delete", "object": "b", "arguments": {}}"#);
        assert!(bucket_operation(&missing).is_err_and(|e| e.contains("missing argument `id`")));
        let md5 = op(
            r#"{"name": "upload", "object": "b", "arguments": {"filename": "f", "source": {"$$hexBytes": ""}, "disableMD5": false}}"#,
        );
        assert!(bucket_operation(&md5).is_err_and(|e| e.contains("computes no MD5")));
        let stream = op(r#"{"name": "openUploadStream", "object": "b", "arguments": {}}"#);
        assert!(bucket_operation(&stream).is_err());
    }

    #[test]
    fn bucket_options_outside_the_driver_are_reported() {
        let entity = |options: &str| -> BucketEntity {
            let json = format!(r#"{{"id": "b", "database": "d", "bucketOptions": {options}}}"#);
            match serde_json::from_str(&json) {
                Ok(e) => e,
                Err(e) => panic!("{json}: {e}"),
            }
        };
        assert_eq!(unsupported_bucket(&entity(r#"{"bucketName": "x", "chunkSizeBytes": 4}"#)), None);
        assert_eq!(unsupported_bucket(&entity(r#"{"disableMD5": true}"#)), None);
        let md5 = unsupported_bucket(&entity(r#"{"disableMD5": false}"#));
        assert!(md5.is_some_and(|r| r.contains("disableMD5")));
        let other = unsupported_bucket(&entity(r#"{"bogus": 1}"#));
        assert!(other.is_some_and(|r| r.contains("bogus")));
    }
}
