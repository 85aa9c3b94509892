//! Client metadata sent in the first `hello` (MongoDB handshake spec, "Hello Command",
//! "Supporting Wrapping Libraries" and "Limitations").

use bson::{Document, doc};

use crate::error::{Error, Result};

/// The largest `client` document the server accepts, BSON overhead included.
pub const MAX_METADATA_SIZE: usize = 512;

/// The longest `client.application.name` the server accepts, in bytes.
pub const MAX_APPLICATION_NAME_LEN: usize = 128;

/// The delimiter between the driver's values and a wrapping library's.
const DELIMITER: char = '|';

/// What a library wrapping the driver appends to the metadata (spec: `DriverInfoOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverInfo {
    /// The wrapping library's name.
    pub name: String,
    /// Its version.
    pub version: Option<String>,
    /// Its platform details.
    pub platform: Option<String>,
}

/// `client.os`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsMetadata {
    /// `type`: the `uname -s` equivalent (`Linux`, `Darwin`, `Windows`, `BSD`, …, or `unknown`).
    pub os_type: String,
    /// `name`: a more detailed operating system name.
    pub name: Option<String>,
    /// `architecture`: the `uname -m` equivalent.
    pub architecture: Option<String>,
    /// `version`: the operating system version.
    pub version: Option<String>,
}

/// The `client` document of the handshake.
///
/// ```
/// use mongo_driver::connection::ClientMetadata;
/// let metadata = ClientMetadata::new(Some("my-app".into()), None)?;
/// let doc = metadata.to_document()?;
/// assert_eq!(doc.get_document("application")?.get_str("name")?, "my-app");
/// assert_eq!(doc.get_document("driver")?.get_str("name")?, "mongo-driver");
/// assert!(doc.to_vec()?.len() <= 512);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    /// `application.name` (from `appName`), at most 128 bytes.
    pub application_name: Option<String>,
    /// `driver.name`.
    pub driver_name: String,
    /// `driver.version`.
    pub driver_version: String,
    /// `os`.
    pub os: OsMetadata,
    /// `platform`: driver-specific platform details.
    pub platform: Option<String>,
}

/// `uname -s` of the target, as the spec's examples spell it.
fn os_type() -> &'static str {
    match std::env::consts::OS {
        "linux" | "android" => "Linux",
        "macos" | "ios" => "Darwin",
        "windows" => "Windows",
        "freebsd" | "openbsd" | "netbsd" | "dragonfly" => "BSD",
        "solaris" | "illumos" | "aix" => "Unix",
        _ => "unknown",
    }
}

fn check_no_delimiter(what: &str, value: &str) -> Result<()> {
    if value.contains(DELIMITER) {
        return Err(Error::invalid_argument(format!(
            "the wrapping library's {what} `{value}` must not contain `{DELIMITER}`"
        )));
    }
    Ok(())
}

/// `value` cut to at most `max` bytes on a character boundary.
fn truncate_to(value: &mut String, max: usize) {
    if value.len() > max {
        let mut end = max;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
    }
}

impl ClientMetadata {
    /// The driver's own metadata: its name and version, the operating system it was built
    /// for, and the platform; no application name.
    pub fn driver_default() -> Self {
        Self {
            application_name: None,
            driver_name: env!("CARGO_PKG_NAME").to_owned(),
            driver_version: env!("CARGO_PKG_VERSION").to_owned(),
            os: OsMetadata {
                os_type: os_type().to_owned(),
                name: Some(std::env::consts::OS.to_owned()),
                architecture: Some(std::env::consts::ARCH.to_owned()),
                version: None,
            },
            platform: Some(format!("Rust, tokio, {}", std::env::consts::FAMILY)),
        }
    }

    /// The metadata this driver sends: its name and version, the operating system it was
    /// built for, and the platform; `application_name` from `appName` (an error if it is longer
    /// than 128 bytes); a wrapping library's `driver_info` appended after `|` (an error if one
    /// of its values contains `|`).
    pub fn new(application_name: Option<String>, driver_info: Option<&DriverInfo>) -> Result<Self> {
        if let Some(name) = &application_name {
            if name.len() > MAX_APPLICATION_NAME_LEN {
                return Err(Error::invalid_argument(format!(
                    "the application name is {} bytes long; at most {MAX_APPLICATION_NAME_LEN} are allowed",
                    name.len()
                )));
            }
        }
        let mut metadata = Self { application_name, ..Self::driver_default() };
        if let Some(info) = driver_info {
            check_no_delimiter("name", &info.name)?;
            metadata.driver_name = format!("{}{DELIMITER}{}", metadata.driver_name, info.name);
            if let Some(version) = &info.version {
                check_no_delimiter("version", version)?;
                metadata.driver_version = format!("{}{DELIMITER}{version}", metadata.driver_version);
            }
            if let Some(platform) = &info.platform {
                check_no_delimiter("platform", platform)?;
                let own = metadata.platform.take().unwrap_or_default();
                metadata.platform = Some(format!("{own}{DELIMITER}{platform}"));
            }
        }
        Ok(metadata)
    }

    /// The `client` document exactly as described (no size limit applied).
    pub fn to_document_untruncated(&self) -> Document {
        let mut doc = Document::new();
        if let Some(name) = &self.application_name {
            doc.insert("application", doc! { "name": name.clone() });
        }
        doc.insert(
            "driver",
            doc! { "name": self.driver_name.clone(), "version": self.driver_version.clone() },
        );
        let mut os = doc! { "type": self.os.os_type.clone() };
        for (key, value) in
            [("name", &self.os.name), ("architecture", &self.os.architecture), ("version", &self.os.version)]
        {
            if let Some(value) = value {
                os.insert(key, value.clone());
            }
        }
        doc.insert("os", os);
        if let Some(platform) = &self.platform {
            doc.insert("platform", platform.clone());
        }
        doc
    }

    /// The `client` document within the 512-byte limit. Driver-provided values are cut in
    /// this order until it fits: `platform` (shortened, then dropped), then `os.version`,
    /// `os.architecture` and `os.name` (dropped), then `driver.version` and `driver.name`
    /// (shortened). The application name is never changed (it is limited to 128 bytes
    /// instead). An error only if even the minimal document is too large.
    pub fn to_document(&self) -> Result<Document> {
        let mut m = self.clone();
        let size = |m: &ClientMetadata| -> Result<usize> {
            m.to_document_untruncated()
                .to_vec()
                .map(|bytes| bytes.len())
                .map_err(|e| Error::invalid_argument(format!("the client metadata cannot be encoded: {e}")))
        };
        let mut current = size(&m)?;
        if current <= MAX_METADATA_SIZE {
            return Ok(m.to_document_untruncated());
        }
        // 1. The platform: shorten it by the excess, drop it if that is not enough.
        if let Some(platform) = m.platform.as_mut() {
            let excess = current - MAX_METADATA_SIZE;
            if platform.len() > excess {
                truncate_to(platform, platform.len() - excess);
            } else {
                m.platform = None;
            }
            current = size(&m)?;
        }
        // 2. The optional operating system fields.
        for field in 0..3 {
            if current <= MAX_METADATA_SIZE {
                break;
            }
            match field {
                0 => m.os.version = None,
                1 => m.os.architecture = None,
                _ => m.os.name = None,
            }
            current = size(&m)?;
        }
        // 3. The driver version, then the driver name (both required: keep at least one byte).
        if current > MAX_METADATA_SIZE {
            let excess = current - MAX_METADATA_SIZE;
            let keep = m.driver_version.len().saturating_sub(excess).max(1);
            truncate_to(&mut m.driver_version, keep);
            current = size(&m)?;
        }
        if current > MAX_METADATA_SIZE {
            let excess = current - MAX_METADATA_SIZE;
            let keep = m.driver_name.len().saturating_sub(excess).max(1);
            truncate_to(&mut m.driver_name, keep);
            current = size(&m)?;
        }
        if current > MAX_METADATA_SIZE {
            return Err(Error::invalid_argument(format!(
                "the client metadata is {current} bytes even after truncation; at most {MAX_METADATA_SIZE} are allowed"
            )));
        }
        Ok(m.to_document_untruncated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded_len(doc: &Document) -> usize {
        doc.to_vec().map(|b| b.len()).unwrap_or(usize::MAX)
    }

    #[test]
    fn shape_of_the_default_metadata() {
        let doc = ClientMetadata::new(None, None).unwrap().to_document().unwrap();
        let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
        assert_eq!(keys, ["driver", "os", "platform"], "no application without appName");
        let driver = doc.get_document("driver").unwrap();
        assert_eq!(driver.get_str("name").unwrap(), "mongo-driver");
        assert_eq!(driver.get_str("version").unwrap(), env!("CARGO_PKG_VERSION"));
        let os = doc.get_document("os").unwrap();
        assert!(!os.get_str("type").unwrap().is_empty());
        assert_eq!(os.get_str("architecture").unwrap(), std::env::consts::ARCH);

        let with_app = ClientMetadata::new(Some("app".into()), None).unwrap().to_document().unwrap();
        assert_eq!(with_app.keys().next().map(String::as_str), Some("application"));
        assert_eq!(with_app.get_document("application").unwrap(), &doc! {"name": "app"});
    }

    #[test]
    fn application_name_limit() {
        assert!(ClientMetadata::new(Some("a".repeat(128)), None).is_ok());
        let err = ClientMetadata::new(Some("a".repeat(129)), None).unwrap_err();
        assert!(err.to_string().contains("129 bytes"), "{err}");
        // Bytes, not characters: 43 three-byte characters are 129 bytes.
        assert!(ClientMetadata::new(Some("€".repeat(43)), None).is_err());
    }

    #[test]
    fn wrapping_library_is_appended() {
        let info = DriverInfo { name: "odm".into(), version: Some("2.0".into()), platform: Some("p".into()) };
        let m = ClientMetadata::new(None, Some(&info)).unwrap();
        assert_eq!(m.driver_name, "mongo-driver|odm");
        assert_eq!(m.driver_version, format!("{}|2.0", env!("CARGO_PKG_VERSION")));
        assert!(m.platform.as_deref().unwrap().ends_with("|p"));
        let only_name = DriverInfo { name: "odm".into(), ..DriverInfo::default() };
        let m = ClientMetadata::new(None, Some(&only_name)).unwrap();
        assert_eq!(m.driver_version, env!("CARGO_PKG_VERSION"));
        let bad = DriverInfo { name: "a|b".into(), ..DriverInfo::default() };
        assert!(ClientMetadata::new(None, Some(&bad)).is_err());
        let bad = DriverInfo { name: "a".into(), version: Some("1|2".into()), platform: None };
        assert!(ClientMetadata::new(None, Some(&bad)).is_err());
    }

    #[test]
    fn platform_is_truncated_first() {
        let mut m = ClientMetadata::new(Some("a".repeat(128)), None).unwrap();
        m.platform = Some("p".repeat(400));
        let full = encoded_len(&m.to_document_untruncated());
        assert!(full > MAX_METADATA_SIZE);
        let doc = m.to_document().unwrap();
        assert_eq!(encoded_len(&doc), MAX_METADATA_SIZE, "shortened exactly to the limit");
        let platform = doc.get_str("platform").unwrap();
        assert_eq!(platform.len(), 400 - (full - MAX_METADATA_SIZE));
        // Everything else is untouched.
        assert_eq!(doc.get_document("os").unwrap(), m.to_document_untruncated().get_document("os").unwrap());
        assert_eq!(doc.get_document("application").unwrap().get_str("name").unwrap(), "a".repeat(128));
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        let mut m = ClientMetadata::new(None, None).unwrap();
        m.platform = Some("€".repeat(200));
        let doc = m.to_document().unwrap();
        assert!(encoded_len(&doc) <= MAX_METADATA_SIZE);
        assert!(doc.get_str("platform").unwrap().chars().all(|c| c == '€'));
    }

    #[test]
    fn os_fields_then_driver_values_go_next() {
        let mut m = ClientMetadata::new(Some("a".repeat(128)), None).unwrap();
        m.os.name = Some("n".repeat(150));
        m.os.version = Some("v".repeat(150));
        let doc = m.to_document().unwrap();
        assert!(encoded_len(&doc) <= MAX_METADATA_SIZE);
        assert!(!doc.contains_key("platform"), "the platform is dropped before any os field");
        let os = doc.get_document("os").unwrap();
        assert!(!os.contains_key("version"), "os.version is the first os field dropped");
        assert!(os.contains_key("type"));

        let mut m = ClientMetadata::new(Some("a".repeat(128)), None).unwrap();
        m.driver_version = "9".repeat(400);
        let doc = m.to_document().unwrap();
        assert!(encoded_len(&doc) <= MAX_METADATA_SIZE);
        let os = doc.get_document("os").unwrap();
        assert_eq!(os.keys().map(String::as_str).collect::<Vec<_>>(), ["type"]);
        let driver = doc.get_document("driver").unwrap();
        assert_eq!(driver.get_str("name").unwrap(), "mongo-driver");
        assert!(driver.get_str("version").unwrap().len() < 400);
    }
}
