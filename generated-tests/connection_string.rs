//! Connection string, URI options, read/write concern (URI and document) and auth URI spec
//! tests, one per spec case (generated).

spec_macros::suite!(connection_string);
spec_macros::suite!(uri_options);
spec_macros::suite!(read_write_concern);
spec_macros::suite!(auth);
